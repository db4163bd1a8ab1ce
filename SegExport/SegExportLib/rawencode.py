"""A minimal Explicit VR Little Endian encoder for pre-encoding repeated data elements.

A SEG with thousands of frames carries thousands of near-identical per-frame
functional group items. Building them as pydicom objects and letting pydicom's
writer walk them dominates the run time of every peer writer. Instead the writer
encodes the few distinct fragments once (one per source image, per segment, per
plane position) and joins bytes per frame; the result is stored in the dataset as
a :class:`pydicom.dataelem.RawDataElement`, which pydicom parses lazily on access
and writes unchanged when the dataset's encoding is Explicit VR Little Endian.

>>> from pydicom.dataset import Dataset
>>> item = encode_item(encode_us(0x0062000B, 3))
>>> len(encode_sequence(0x0062000A, [item]))
30
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from pydicom.valuerep import format_number_as_ds

# VRs encoded with a 2-byte reserved field and a 4-byte length (PS3.5 Table 7.1-1).
_LONG_LENGTH_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_ITEM_TAG = (0xFFFE, 0xE000)


def encode_element(tag: int, vr: str, value: bytes) -> bytes:
    """Encode one data element; ``value`` must already have even length."""
    if len(value) % 2:
        raise ValueError(f"value of ({tag >> 16:04X},{tag & 0xFFFF:04X}) has odd length {len(value)}")
    group, element = tag >> 16, tag & 0xFFFF
    if vr in _LONG_LENGTH_VRS:
        return struct.pack("<HH2sHI", group, element, vr.encode("ascii"), 0, len(value)) + value
    return struct.pack("<HH2sH", group, element, vr.encode("ascii"), len(value)) + value


def encode_text(tag: int, vr: str, text: str, encoding: str = "ascii") -> bytes:
    """Encode a string element (ASCII unless ``encoding`` is given, e.g. ``"utf-8"`` for ISO_IR 192), padded to
    even length (NUL for UI, space otherwise)."""
    raw = text.encode(encoding)
    if len(raw) % 2:
        raw += b"\0" if vr == "UI" else b" "
    return encode_element(tag, vr, raw)


def encode_us(tag: int, *values: int) -> bytes:
    """Encode an unsigned short (US) element with one or more values."""
    return encode_element(tag, "US", struct.pack(f"<{len(values)}H", *values))


def encode_ul(tag: int, *values: int) -> bytes:
    """Encode an unsigned long (UL) element with one or more values."""
    return encode_element(tag, "UL", struct.pack(f"<{len(values)}I", *values))


def format_ds(value: float) -> str:
    """Format a number as a Decimal String of at most 16 characters, as precise as fits.

    >>> format_ds(9.999999999999996)   # rounding up adds a digit: pydicom's own formatter gives 17 characters
    '10'
    """
    text = format_number_as_ds(float(value))
    digits = 15
    while len(text) > 16 and digits > 0:
        text = f"{float(value):.{digits}g}"
        digits -= 1
    return text


def encode_ds(tag: int, values: Sequence[float]) -> bytes:
    """Encode a decimal string (DS) element with the given numbers."""
    return encode_text(tag, "DS", "\\".join(format_ds(v) for v in values))


def encode_item(body: bytes) -> bytes:
    """Wrap encoded elements (already in ascending tag order) into a defined-length item."""
    return struct.pack("<HHI", *_ITEM_TAG, len(body)) + body


def encode_sequence(tag: int, items: Iterable[bytes]) -> bytes:
    """Encode a defined-length sequence from encoded items (see :func:`encode_item`)."""
    return encode_element(tag, "SQ", b"".join(items))
