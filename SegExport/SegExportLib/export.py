"""One call from a labelmap, a template and the source files to a SEG file on disk.

Used by the Slicer logic and by scripts: it reads the source headers (no pixel data),
writes the SEG atomically and says what it wrote.

>>> summary = export_seg(labels, template, ct_files, "out/seg.dcm")     # doctest: +SKIP
>>> print(summary.describe())                                           # doctest: +SKIP
seg.dcm: 3 segments in 37 frames, 56 KiB, 0.1 s
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pydicom

from .errors import OverlappingSegmentsError
from .fileio import write_file
from .headers import read_source_headers
from .source import SourceSeries
from .template import Template
from .volume import is_single_volume
from .writer import LayeredWriter, MultiClassWriter, Volume, WriteReport

if TYPE_CHECKING:
    from .resample import ResampleReport

ProgressCallback = Callable[[float, str], None]


@dataclass
class ExportSummary:
    """What an export wrote."""

    path: Path
    segment_count: int
    frame_count: int
    size_bytes: int
    seconds: float
    report: WriteReport = field(repr=False)
    resampling: ResampleReport | None = None
    """What resampling onto the source grid did (``resample=True`` only)."""

    def describe(self) -> str:
        """One line for a user: file, segments, frames, size, time (and resampling, if any)."""
        text = (
            f"{self.path.name}: {self.segment_count} segments in {self.frame_count} frames, "
            f"{self.size_bytes / 1024:.0f} KiB, {self.seconds:.1f} s"
        )
        if self.resampling is not None and self.resampling.resampled:
            text += f"; {self.resampling.describe()}"
        return text


def export_seg(
    labelmap: Volume | Sequence[Volume],
    template: Template,
    source_files: Sequence[str | os.PathLike[str] | pydicom.Dataset],
    output_path: str | os.PathLike[str],
    overwrite: bool = False,
    inplane_cropping: bool = False,
    skip_empty_slices: bool = True,
    skip_missing_segment: bool = False,
    uid_root: str | None = None,
    compression: str | None = None,
    segmentation_type: str = "BINARY",
    progress: ProgressCallback | None = None,
    resample: bool = False,
) -> ExportSummary:
    """Write ``labelmap`` as a SEG referring to ``source_files``; nothing is written if anything fails.

    ``labelmap`` is one labelmap (:class:`MultiClassWriter`) or a list of labelmap layers whose segments may
    overlap (:class:`LayeredWriter`, layer ``i`` described by the template's layer ``i``). With ``resample``, a
    segmentation on another grid than the source series is first resampled onto it (nearest neighbour, see
    :func:`~SegExportLib.resample.resample_to_source`); without it, such a segmentation is refused.
    """
    started = time.perf_counter()
    report_progress = progress or (lambda fraction, message: None)
    report_progress(0.1, "Reading the source image headers")
    headers = read_source_headers(source_files)
    resampling = None
    sources: list[pydicom.Dataset] | SourceSeries = headers
    if resample:
        report_progress(0.2, "Checking the segmentation grid")
        series = sources = SourceSeries.from_datasets(headers)
        from .resample import resample_to_source

        layers = [labelmap] if is_single_volume(labelmap) else list(labelmap)  # type: ignore[arg-type]
        results = [resample_to_source(layer, series) for layer in layers]
        resampling = results[0].report
        resampling.voxels_outside = sum(r.report.voxels_outside for r in results)
        resampled = [r.image for r in results]
        labelmap = resampled[0] if is_single_volume(labelmap) else resampled
    report_progress(0.3, "Encoding the segments")
    options = {
        "inplane_cropping": inplane_cropping,
        "skip_empty_slices": skip_empty_slices,
        "skip_missing_segment": skip_missing_segment,
        "uid_root": uid_root,
        "compression": compression,
    }
    writer: MultiClassWriter | LayeredWriter
    if is_single_volume(labelmap):
        writer = MultiClassWriter(template, segmentation_type=segmentation_type, **options)  # type: ignore[arg-type]
    elif segmentation_type == "LABELMAP":
        raise OverlappingSegmentsError(
            "a LABELMAP SEG holds one label per voxel, but these segments overlap: write them as BINARY, "
            "or remove the overlap"
        )
    else:
        writer = LayeredWriter(template, **options)  # type: ignore[arg-type]
    encoded = writer.encode(labelmap, sources)
    report_progress(0.8, "Writing the file")
    path = write_file(encoded, output_path, overwrite=overwrite)
    report_progress(1.0, "Done")
    report = writer.last_report
    assert report is not None
    return ExportSummary(
        path,
        len(report.segment_numbers),
        report.frame_count,
        path.stat().st_size,
        time.perf_counter() - started,
        report,
        resampling,
    )
