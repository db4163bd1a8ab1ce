"""Fresh DICOM UIDs, optionally under an organisation's own root.

>>> new_uid().startswith("2.25.")
True
>>> new_uid("1.2.826.0.1.3680043.10.511.").startswith("1.2.826.0.1.3680043.10.511.")
True
"""

from __future__ import annotations

import re

from pydicom.uid import generate_uid

from .errors import SegExportError

_ROOT_PATTERN = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*\.$")
# Leave room for at least 20 random digits below the root within the 64-character limit.
_MAX_ROOT_LENGTH = 44


def check_uid_root(root: str) -> str:
    """Return ``root`` if it can prefix generated UIDs, else raise :class:`SegExportError`."""
    if not _ROOT_PATTERN.match(root):
        raise SegExportError(
            f"UID root {root!r} is not valid: it must be dot-separated numbers without leading zeros "
            "and end with a dot, for example '1.2.826.0.1.3680043.10.511.'"
        )
    if len(root) > _MAX_ROOT_LENGTH:
        raise SegExportError(
            f"UID root {root!r} is {len(root)} characters long; use at most {_MAX_ROOT_LENGTH} "
            "so that generated UIDs stay unique within DICOM's 64-character limit"
        )
    return root


def new_uid(root: str | None = None) -> str:
    """Return a new globally unique UID: under ``root`` if given, else a UUID-derived ``2.25.`` UID."""
    if root is None:
        return generate_uid(prefix=None)
    return generate_uid(prefix=check_uid_root(root))
