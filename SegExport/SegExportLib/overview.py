"""Looking inside a SEG: what it holds, what it refers to, what is wrong, and a picture of it.

:func:`inspect_seg` lists the segments (label, codes, colour, frames, voxels), the frames,
the referenced series and instances, and the problems found (unreadable parts, references
to images that are not in the given series, segments without frames). :func:`render_overview`
draws the source slices with the segments overlaid in their recommended display colours,
so a user sees at a glance that an export is right.

>>> inspection = inspect_seg("seg.dcm", ct_files)                    # doctest: +SKIP
>>> print(inspection.text())                                          # doctest: +SKIP
>>> layout = render_overview("seg.dcm", ct_files, "seg.png")          # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from .color import cielab_to_rgb
from .errors import SegExportError, SourceSeriesError
from .png import write_png
from .reader import SegmentReader, SegmentReadResult, damaged_input, load_seg
from .source import SourceSeries

logger = logging.getLogger(__name__)

SOP_CLASS_NAMES = {
    "1.2.840.10008.5.1.4.1.1.66.4": "Segmentation",
    "1.2.840.10008.5.1.4.1.1.66.7": "Label Map Segmentation",
}
OVERLAY_OPACITY = 0.6
MIN_TILE_SIZE = 192


@dataclass
class SegmentSummary:
    number: int
    label: str
    category: str
    type: str
    algorithm: str
    color_rgb: tuple[int, int, int]
    frames: int
    voxels: int


@dataclass
class SegInspection:
    """What :func:`inspect_seg` found."""

    path: str
    sop_class: str
    segmentation_type: str
    rows: int
    columns: int
    frame_count: int
    transfer_syntax: str
    series_description: str
    referenced_series: list[str]
    referenced_instances: int
    segments: list[SegmentSummary] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def text(self) -> str:
        """A report for people: one block of facts, a table of segments, then the problems."""
        lines = [
            f"{self.path}: {self.sop_class} ({self.segmentation_type}), {self.frame_count} frames of "
            f"{self.rows} x {self.columns}, transfer syntax {self.transfer_syntax}",
            f"series description: {self.series_description or '(none)'}",
            f"refers to {self.referenced_instances} instances of series "
            f"{', '.join(self.referenced_series) or '(none)'}",
            f"{len(self.segments)} segments:",
            "  #  label                            type                      frames    voxels  colour",
        ]
        for s in self.segments:
            colour = "#{:02x}{:02x}{:02x}".format(*s.color_rgb)
            lines.append(f"  {s.number:<3d}{s.label[:32]:33s}{s.type[:25]:26s}{s.frames:6d}{s.voxels:10d}  {colour}")
        if self.problems:
            lines.append(f"{len(self.problems)} problems:")
            lines += [f"  - {problem}" for problem in self.problems]
        else:
            lines.append("no problems found")
        return "\n".join(lines)


def _meaning(item: Dataset, sequence: str) -> str:
    codes = item.get(sequence)
    return str(codes[0].get("CodeMeaning", "")) if codes else ""


def inspect_seg(
    seg: str | os.PathLike[str] | Dataset, source_files: Sequence[str | os.PathLike[str]] | None = None
) -> SegInspection:
    """Describe a SEG; with ``source_files``, also check that it fits that series."""
    with damaged_input("the SEG"):
        return _inspect(load_seg(seg), seg, source_files)


def _inspect(
    dataset: Dataset, seg: str | os.PathLike[str] | Dataset, source_files: Sequence[str | os.PathLike[str]] | None
) -> SegInspection:
    referenced = list(dataset.get("ReferencedSeriesSequence") or [])
    referenced_uids = [str(item.get("SeriesInstanceUID", "")) for item in referenced]
    referenced_instances = {
        str(instance.get("ReferencedSOPInstanceUID", ""))
        for item in referenced
        for instance in item.get("ReferencedInstanceSequence") or []
    }
    inspection = SegInspection(
        path=str(seg) if not isinstance(seg, Dataset) else "(dataset)",
        sop_class=SOP_CLASS_NAMES.get(str(dataset.get("SOPClassUID", "")), str(dataset.get("SOPClassUID", "?"))),
        segmentation_type=str(dataset.get("SegmentationType", "?")),
        rows=int(dataset.get("Rows", 0) or 0),
        columns=int(dataset.get("Columns", 0) or 0),
        frame_count=int(dataset.get("NumberOfFrames", 1) or 1),
        transfer_syntax=str(getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", "?")),
        series_description=str(dataset.get("SeriesDescription", "")),
        referenced_series=referenced_uids,
        referenced_instances=len(referenced_instances),
    )
    problems = inspection.problems
    if not referenced_uids:
        problems.append("no ReferencedSeriesSequence: viewers cannot tell which images this SEG belongs to")
    series = None
    if source_files is not None:
        try:
            series = SourceSeries.from_datasets(list(source_files))
        except SegExportError as exc:
            problems.append(f"the given source series cannot be used: {exc}")
        if series is not None:
            if referenced_uids and series.series_instance_uid not in referenced_uids:
                problems.append(f"the given series {series.series_instance_uid} is not the one the SEG refers to")
            present = {uid for _, uid in series.instances}
            missing = referenced_instances - present
            if missing:
                problems.append(f"{len(missing)} referenced instances are not in the given series")
    result: SegmentReadResult | None = None
    try:
        result = SegmentReader().read(dataset, series)
    except SegExportError as exc:
        problems.append(f"the frames cannot be read: {exc}")
    frames_of = _frames_per_segment(dataset)
    for item in dataset.get("SegmentSequence") or []:
        number = int(item.get("SegmentNumber", -1))
        if number == 0 and inspection.segmentation_type == "LABELMAP":
            continue
        label = str(item.get("SegmentLabel", ""))
        if not label:
            problems.append(f"segment {number} has no SegmentLabel")
        lab = item.get("RecommendedDisplayCIELabValue")
        rgb = cielab_to_rgb([int(v) for v in lab]) if lab is not None and len(lab) == 3 else (128, 128, 128)
        voxels = 0
        if result is not None and number in result.available_segments:
            data = result.segment_data(number)
            voxels = int(np.count_nonzero(data))
        frames = frames_of.get(number, 0) if inspection.segmentation_type != "LABELMAP" else inspection.frame_count
        if inspection.segmentation_type != "LABELMAP" and frames == 0:
            problems.append(f"segment {number} ({label or 'no label'}) has no frames")
        inspection.segments.append(
            SegmentSummary(
                number,
                label,
                _meaning(item, "SegmentedPropertyCategoryCodeSequence"),
                _meaning(item, "SegmentedPropertyTypeCodeSequence"),
                str(item.get("SegmentAlgorithmType", "")),
                rgb,
                frames,
                voxels,
            )
        )
    if not inspection.segments:
        problems.append("the SEG describes no segments")
    return inspection


def _frames_per_segment(dataset: Dataset) -> dict[int, int]:
    counts: dict[int, int] = {}
    for frame in dataset.get("PerFrameFunctionalGroupsSequence") or []:
        identification = frame.get("SegmentIdentificationSequence")
        if identification:
            number = int(identification[0].get("ReferencedSegmentNumber", -1))
            counts[number] = counts.get(number, 0) + 1
    return counts


@dataclass
class OverviewTile:
    """Where source slice ``slice_index`` (0 = first along the normal) was drawn in the PNG."""

    slice_index: int
    left: int
    top: int
    scale: int


def render_overview(
    seg: str | os.PathLike[str] | Dataset,
    source_files: Sequence[str | os.PathLike[str]],
    png_path: str | os.PathLike[str],
    max_slices: int = 6,
    overwrite: bool = False,
) -> list[OverviewTile]:
    """Draw up to ``max_slices`` source slices holding segments, with the segments in their colours, as a PNG.

    Slices are spread over the segmented range; each tile shows one slice at an integer zoom (pixel (r, c) of
    slice k covers PNG pixels ``top + r * scale`` .. and ``left + c * scale`` ..). Returns the tiles.
    """
    dataset = load_seg(seg)
    files = list(source_files)
    try:
        series = SourceSeries.from_datasets(files)
    except SourceSeriesError as exc:
        raise SegExportError(f"cannot draw the overview: {exc}") from exc
    result = SegmentReader().read(dataset, series)
    numbers = sorted(result.available_segments)
    colours = {
        item.SegmentNumber: cielab_to_rgb([int(v) for v in item.RecommendedDisplayCIELabValue])
        if "RecommendedDisplayCIELabValue" in item
        else (255, 0, 0)
        for item in dataset.SegmentSequence
    }
    masks = {number: result.segment_data(number) != 0 for number in numbers}
    occupied = np.zeros(len(series.planes), dtype=np.int64)
    for mask in masks.values():
        occupied += mask.reshape(mask.shape[0], -1).sum(axis=1)
    candidates = np.flatnonzero(occupied)
    if candidates.size == 0:
        raise SegExportError("the SEG has no segmented voxels on this series: nothing to draw")
    picks = np.linspace(0, candidates.size - 1, min(max_slices, candidates.size)).round().astype(int)
    chosen = sorted({int(candidates[i]) for i in picks})
    scale = max(1, -(-MIN_TILE_SIZE // max(series.rows, series.columns)))
    tile_h, tile_w, gap = series.rows * scale, series.columns * scale, 4
    per_row = min(3, len(chosen))
    grid_rows = -(-len(chosen) // per_row)
    canvas = np.full((grid_rows * (tile_h + gap) + gap, per_row * (tile_w + gap) + gap, 3), 32, dtype=np.uint8)
    # series.instances follows the order of the files given: no need to read their headers again.
    by_uid = {uid: source for (_, uid), source in zip(series.instances, files)}
    tiles = []
    for position, k in enumerate(chosen):
        gray = _gray_slice(by_uid, series.planes[k].sop_instance_uid, series.planes[k].frame_number, series)
        rgb = np.repeat(gray[..., None], 3, axis=2).astype(np.float32)
        for number in numbers:
            inside = masks[number][k]
            rgb[inside] = (1 - OVERLAY_OPACITY) * rgb[inside] + OVERLAY_OPACITY * np.array(colours[number], np.float32)
        block = np.repeat(np.repeat(rgb.round().astype(np.uint8), scale, axis=0), scale, axis=1)
        top = gap + (position // per_row) * (tile_h + gap)
        left = gap + (position % per_row) * (tile_w + gap)
        canvas[top : top + tile_h, left : left + tile_w] = block
        tiles.append(OverviewTile(k, left, top, scale))
    write_png(canvas, png_path, overwrite=overwrite)
    return tiles


def _gray_slice(
    by_uid: dict[str, str | os.PathLike[str] | Dataset], uid: str, frame: int | None, series: SourceSeries
) -> np.ndarray:
    """The source plane as 0..255 grey (CT soft-tissue window, else 1st-99th percentile); black if unreadable."""
    source = by_uid.get(uid)
    try:
        dataset = source if isinstance(source, Dataset) else pydicom.dcmread(os.fspath(source))  # type: ignore[arg-type]
        pixels = dataset.pixel_array
        if frame is not None:
            pixels = pixels[frame - 1]
        values = pixels * float(dataset.get("RescaleSlope", 1) or 1) + float(dataset.get("RescaleIntercept", 0) or 0)
    except Exception as exc:  # no pixel data, or a compression pydicom cannot decode here: draw on black
        logger.info("source image %s has no readable pixels (%s): drawing on black", uid, exc)
        return np.zeros((series.rows, series.columns), dtype=np.uint8)
    if str(dataset.get("Modality", "")) == "CT":
        low, high = -160.0, 240.0
    else:
        low, high = (float(v) for v in np.percentile(values, [1, 99]))
    scaled = (values - low) / max(high - low, 1e-6) * 255
    return np.clip(scaled, 0, 255).astype(np.uint8)
