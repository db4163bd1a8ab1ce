"""Finding the image series in a folder of DICOM files.

>>> found = find_series("dicom/")                                   # doctest: +SKIP
>>> [(s.series_instance_uid, s.modality, len(s.files)) for s in found]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from .errors import SourceSeriesError
from .headers import scan_header

logger = logging.getLogger(__name__)

# Objects that are not images a SEG can refer to: segmentations, structure sets, reports, presentation states.
_NON_IMAGE_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.66",
    "1.2.840.10008.5.1.4.1.1.481",
    "1.2.840.10008.5.1.4.1.1.88",
    "1.2.840.10008.5.1.4.1.1.11",
)
_HEADER_TAGS = [
    "SOPClassUID",
    "SeriesInstanceUID",
    "Modality",
    "SeriesDescription",
    "SeriesNumber",
    "ImagePositionPatient",
    "PerFrameFunctionalGroupsSequence",
    "SharedFunctionalGroupsSequence",
]


_IMAGE_POSITION = 0x00200032
# What the quick header scan (headers.scan_header) keeps: the tags above that precede the pixel data module, and
# the character set the descriptions are decoded with.
_SCANNED_TAGS = frozenset({0x00080005, 0x00080016, 0x00080060, 0x0008103E, 0x0020000E, 0x00200011, _IMAGE_POSITION})


@dataclass
class FoundSeries:
    series_instance_uid: str
    modality: str
    description: str
    number: str
    files: list[Path] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.series_instance_uid}  {self.modality or '?':3s} #{self.number or '?'} "
            f"{self.description or '(no description)'}: {len(self.files)} files"
        )


def find_series(folder: str | os.PathLike[str]) -> list[FoundSeries]:
    """Every image series under ``folder`` (searched recursively), largest first; other files are skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise SourceSeriesError(f"{root} is not a folder: give the folder holding the source series' DICOM files")
    found: dict[str, FoundSeries] = {}
    skipped = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            header = scan_header(os.fspath(path), _SCANNED_TAGS)
            if header is None or _IMAGE_POSITION not in header:  # not scanned, or perhaps multi-frame: in full
                header = pydicom.dcmread(os.fspath(path), stop_before_pixels=True, specific_tags=_HEADER_TAGS)
        except (pydicom.errors.InvalidDicomError, OSError, ValueError, EOFError):
            skipped += 1
            continue
        sop_class = str(header.get("SOPClassUID", ""))
        uid = str(header.get("SeriesInstanceUID", ""))
        positioned = "ImagePositionPatient" in header or "PerFrameFunctionalGroupsSequence" in header
        if not uid or not positioned or sop_class.startswith(_NON_IMAGE_PREFIXES):
            skipped += 1
            continue
        series = found.setdefault(
            uid,
            FoundSeries(
                uid,
                str(header.get("Modality", "")),
                str(header.get("SeriesDescription", "")),
                str(header.get("SeriesNumber", "")),
            ),
        )
        series.files.append(path)
    if skipped:
        logger.info("%s: skipped %d files that are not images of a series", root, skipped)
    return sorted(found.values(), key=lambda s: -len(s.files))


def pick_series(folder: str | os.PathLike[str], series_uid: str | None = None) -> FoundSeries:
    """The one image series in ``folder``, or the one with ``series_uid``; a clear error otherwise."""
    found = find_series(folder)
    if not found:
        raise SourceSeriesError(f"no DICOM image series found in {folder}")
    if series_uid is not None:
        for series in found:
            if series.series_instance_uid == series_uid:
                return series
        listing = "\n  ".join(s.describe() for s in found)
        raise SourceSeriesError(f"series {series_uid} is not in {folder}; it holds:\n  {listing}")
    if len(found) > 1:
        listing = "\n  ".join(s.describe() for s in found)
        raise SourceSeriesError(f"{folder} holds {len(found)} image series; choose one with --series-uid:\n  {listing}")
    return found[0]
