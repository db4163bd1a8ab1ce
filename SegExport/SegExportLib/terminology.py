"""3D Slicer's segment terminology: ``TerminologyEntry`` strings to and from coded concepts.

Slicer stores a segment's meaning in its ``TerminologyEntry`` tag: seven parts joined by
``~`` (terminology context, category, type, type modifier, anatomic context, anatomic
region, region modifier), each coded part written ``scheme^value^meaning`` (the scheme
first, unlike dcmqi's JSON). Segment tags as a whole are ``key:value`` pairs joined by ``|``.

>>> entry = parse_terminology_entry(
...     "Segmentation category and type - 3D Slicer General Anatomy list"
...     "~SCT^123037004^Anatomical Structure~SCT^10200004^Liver~^^"
...     "~Anatomic codes - DICOM master list~^^~^^")
>>> entry.type
Code(value='10200004', scheme='SCT', meaning='Liver')
>>> format_terminology_entry(entry) == ("Segmentation category and type - 3D Slicer General Anatomy list"
...     "~SCT^123037004^Anatomical Structure~SCT^10200004^Liver~^^~Anatomic codes - DICOM master list~^^~^^")
True
"""

from __future__ import annotations

from dataclasses import dataclass

from .codes import Code
from .errors import SegExportError

PART_SEPARATOR = "~"
CODE_SEPARATOR = "^"
DEFAULT_CONTEXT = "Segmentation category and type - 3D Slicer General Anatomy list"
DEFAULT_ANATOMIC_CONTEXT = "Anatomic codes - DICOM master list"
_PART_NAMES = ("context", "category", "type", "type modifier", "anatomic context", "anatomic region", "region modifier")
# Longest value a tag may have before it is treated as corrupt input rather than a terminology.
_MAX_ENTRY_LENGTH = 16384


class TerminologyError(SegExportError):
    """A TerminologyEntry string is malformed."""


@dataclass(frozen=True)
class TerminologyEntry:
    """The coded meaning of one segment, as Slicer's terminology stores it."""

    category: Code | None = None
    type: Code | None = None
    type_modifier: Code | None = None
    anatomic_region: Code | None = None
    anatomic_region_modifier: Code | None = None
    context: str = DEFAULT_CONTEXT
    anatomic_context: str = DEFAULT_ANATOMIC_CONTEXT

    @property
    def is_complete(self) -> bool:
        """True when category and type are both coded (what a SEG segment needs)."""
        return self.category is not None and self.type is not None


def _parse_code(part: str, name: str) -> Code | None:
    pieces = part.split(CODE_SEPARATOR)
    if len(pieces) != 3:
        raise TerminologyError(
            f"the {name} part {part!r} of the TerminologyEntry must be 'scheme^value^meaning' (3 pieces), "
            f"got {len(pieces)} piece(s)"
        )
    scheme, value, meaning = (piece.strip() for piece in pieces)
    if not (scheme or value or meaning):
        return None
    if not (scheme and value and meaning):
        raise TerminologyError(
            f"the {name} part {part!r} of the TerminologyEntry has an empty scheme, value or meaning; "
            "give all three or none"
        )
    return Code(value, scheme, meaning)


def parse_terminology_entry(text: str) -> TerminologyEntry:
    """Parse a ``TerminologyEntry`` tag value; raise :class:`TerminologyError` naming the bad part."""
    if not isinstance(text, str):
        raise TerminologyError(f"a TerminologyEntry must be a string, got {type(text).__name__}")
    if len(text) > _MAX_ENTRY_LENGTH:
        raise TerminologyError(f"the TerminologyEntry is {len(text)} characters long; that is not a terminology")
    parts = text.split(PART_SEPARATOR)
    if len(parts) != 7:
        raise TerminologyError(
            f"a TerminologyEntry has 7 parts separated by '~' ({', '.join(_PART_NAMES)}); "
            f"got {len(parts)} in {text[:200]!r}"
        )
    context, category, type_, modifier, anatomic_context, region, region_modifier = parts
    return TerminologyEntry(
        category=_parse_code(category, "category"),
        type=_parse_code(type_, "type"),
        type_modifier=_parse_code(modifier, "type modifier"),
        anatomic_region=_parse_code(region, "anatomic region"),
        anatomic_region_modifier=_parse_code(region_modifier, "region modifier"),
        context=context.strip(),
        anatomic_context=anatomic_context.strip(),
    )


def _format_code(code: Code | None) -> str:
    if code is None:
        return CODE_SEPARATOR * 2
    for piece in (code.scheme, code.value, code.meaning):
        if PART_SEPARATOR in piece or CODE_SEPARATOR in piece:
            raise TerminologyError(f"code {code} contains '~' or '^', which a TerminologyEntry cannot hold")
    return CODE_SEPARATOR.join((code.scheme, code.value, code.meaning))


def format_terminology_entry(entry: TerminologyEntry) -> str:
    """The ``TerminologyEntry`` tag value Slicer would store for ``entry``."""
    return PART_SEPARATOR.join(
        (
            entry.context,
            _format_code(entry.category),
            _format_code(entry.type),
            _format_code(entry.type_modifier),
            entry.anatomic_context,
            _format_code(entry.anatomic_region),
            _format_code(entry.anatomic_region_modifier),
        )
    )


def parse_segment_tags(text: str) -> dict[str, str]:
    """Split a segment's tags as a ``.seg.nrrd`` header stores them (``key:value|key:value|``)."""
    tags = {}
    for item in text.split("|"):
        if not item:
            continue
        key, separator, value = item.partition(":")
        if not separator:
            raise TerminologyError(f"segment tag {item[:100]!r} has no ':' between name and value")
        tags[key] = value
    return tags
