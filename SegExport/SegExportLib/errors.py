"""Named exceptions raised by the SegExport core.

Every error the core raises on bad input derives from :class:`SegExportError`,
which is a :class:`ValueError`, so code written for pydicom-seg (which raises
``ValueError``) keeps working. Each message says what is wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence


class SegExportError(ValueError):
    """Base class of every error the SegExport core raises on bad input."""


class TemplateError(SegExportError):
    """The metainfo (template) is malformed or incomplete.

    ``problems`` lists every problem found, each starting with the JSON path of
    the offending field, for example
    ``$.segmentAttributes[0][1].SegmentAlgorithmType: must be one of ...``.
    """

    def __init__(self, problems: Sequence[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the segmentation metainfo{where}:\n{lines}")


class SegmentationImageError(SegExportError):
    """The segmentation image cannot be encoded (wrong type, dimension, values)."""


class EmptySegmentationError(SegmentationImageError):
    """The segmentation holds no segment voxels at all, so there is nothing to write."""


class MissingSegmentError(SegExportError):
    """A label in the image has no description in the template."""


class SourceSeriesError(SegExportError):
    """The source images are unusable: several series, no geometry, inconsistent."""


class GeometryMismatchError(SegExportError):
    """The segmentation grid does not match the grid of the source images."""


class OverlappingSegmentsError(SegExportError):
    """Segments overlap where the requested output cannot represent overlaps."""


class SegReadError(SegExportError):
    """A DICOM SEG cannot be read: unsupported, malformed or inconsistent."""


class OutputExistsError(SegExportError, FileExistsError):
    """The output file exists already and overwriting was not allowed."""


class OutputWriteError(SegExportError):
    """The output could not be written (read-only folder, full disk, ...); nothing was left behind."""
