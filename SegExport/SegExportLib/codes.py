"""Coded concepts (DICOM Code Sequence Macro items).

A :class:`Code` is the triplet every coded attribute of a SEG uses: the value,
the coding scheme designator and the human-readable meaning.

>>> liver = Code("10200004", "SCT", "Liver")
>>> liver.to_dataset().CodeMeaning
'Liver'
>>> Code.from_dataset(liver.to_dataset()) == liver
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

# CodeValue is SH (at most 16 characters); longer values go to LongCodeValue and
# URNs/URLs to URNCodeValue, as PS3.3 Table 8.8-1 prescribes.
_MAX_SHORT_CODE_VALUE = 16


@dataclass(frozen=True)
class Code:
    """A coded concept: ``value`` in coding scheme ``scheme``, meaning ``meaning``."""

    value: str
    scheme: str
    meaning: str

    @property
    def value_keyword(self) -> str:
        """The attribute that holds the value: CodeValue, LongCodeValue (over 16 characters) or URNCodeValue."""
        if self.value.startswith(("urn:", "http://", "https://")):
            return "URNCodeValue"
        if len(self.value) > _MAX_SHORT_CODE_VALUE:
            return "LongCodeValue"
        return "CodeValue"

    def to_dataset(self) -> Dataset:
        """Return a Code Sequence Macro item for this concept."""
        item = Dataset()
        setattr(item, self.value_keyword, self.value)
        item.CodingSchemeDesignator = self.scheme
        item.CodeMeaning = self.meaning
        return item

    @classmethod
    def from_dataset(cls, item: Dataset) -> Code:
        """Read a Code Sequence Macro item (CodeValue, LongCodeValue or URNCodeValue)."""
        value = item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue") or ""
        return cls(str(value), str(item.get("CodingSchemeDesignator", "")), str(item.get("CodeMeaning", "")))

    def to_json(self) -> dict[str, str]:
        """Return the dcmqi metainfo form ``{"CodeValue", "CodingSchemeDesignator", "CodeMeaning"}``."""
        return {"CodeValue": self.value, "CodingSchemeDesignator": self.scheme, "CodeMeaning": self.meaning}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Code:
        """Build from the dcmqi metainfo form (no validation: see :mod:`.metainfo`)."""
        return cls(str(obj["CodeValue"]), str(obj["CodingSchemeDesignator"]), str(obj["CodeMeaning"]))


# Codes the writer itself needs (PS3.16 DCM context group values).
SEGMENTATION_DERIVATION = Code("113076", "DCM", "Segmentation")
SOURCE_IMAGE_PURPOSE = Code("121322", "DCM", "Source image for image processing operation")
# The default property when nothing better is known: SCT "Tissue", as dcmqi's schema defaults.
TISSUE_CATEGORY = Code("85756007", "SCT", "Tissue")
TISSUE_TYPE = Code("85756007", "SCT", "Tissue")
