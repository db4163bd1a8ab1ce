"""Writers that turn a labelmap and its source series into a DICOM SEG dataset.

:class:`MultiClassWriter` follows pydicom-seg's writer of the same name: one
labelmap whose non-zero values are segments described by a template, written
as a BINARY segmentation (segments in one labelmap never overlap).

>>> from SegExportLib import template, MultiClassWriter
>>> tpl = template.from_dcmqi_metainfo("metainfo.json")               # doctest: +SKIP
>>> writer = MultiClassWriter(tpl, inplane_cropping=False, skip_empty_slices=True)  # doctest: +SKIP
>>> dataset = writer.write(sitk.ReadImage("labels.nrrd"), ct_datasets)  # doctest: +SKIP
>>> dataset.save_as("seg.dcm")                                         # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, RLELossless

from .binary_frames import BinaryFrames, LabelBands
from .encode import LabelSummary, nonzero_bounding_box, summarize_labels
from .encoded import EncodedSeg
from .errors import (
    EmptySegmentationError,
    MissingSegmentError,
    SegExportError,
    SegmentationImageError,
    TemplateError,
)
from .fileio import declare_explicit_little_endian
from .functional_groups import Frame, PerFrameGroupsEncoder, dimension_modules, shared_functional_groups
from .geometry import match_slices
from .labelmap_frames import LabelmapFrames
from .seg_header import (
    LABEL_MAP_SEGMENTATION_STORAGE,
    SEGMENTATION_STORAGE,
    copy_patient_and_study,
    file_meta,
    items_are_ascii,
    needs_unicode,
    referenced_series,
    segment_items,
    segment_sequence,
    set_series_and_content,
)
from .source import SourceInput, SourcePlane, SourceSeries, offsets_along
from .template import SegmentDescription, Template
from .uid import check_uid_root, new_uid
from .volume import LabelVolume, array_of, grid_of, is_single_volume, is_sitk_image

if TYPE_CHECKING:
    import SimpleITK as sitk

Volume = Union["sitk.Image", LabelVolume]
"""A 3D image the writers take: a SimpleITK image or a :class:`~SegExportLib.volume.LabelVolume`."""

logger = logging.getLogger(__name__)


@dataclass
class WriteReport:
    """What the last :meth:`MultiClassWriter.write` did (also available as ``writer.last_report``)."""

    segment_numbers: dict[int, int] = field(default_factory=dict)
    """Label value -> SegmentNumber of every segment written."""
    frame_count: int = 0
    skipped_labels: list[int] = field(default_factory=list)
    """Labels in the image with no template entry, left out because ``skip_missing_segment``."""
    absent_segments: list[int] = field(default_factory=list)
    """Template labelIDs with no voxel in the image (not written)."""
    cropped_box: tuple[int, int, int, int] | None = None
    """(row_start, row_stop, column_start, column_stop) when in-plane cropping was applied."""
    segments_overlap: str = "NO"
    """SegmentsOverlap as written: YES when a voxel belongs to two written segments."""


def labelmap_array(image: Volume) -> np.ndarray:
    """The (slices, rows, columns) voxel array of a 3D integer labelmap, checked; a view, not a copy."""
    if isinstance(image, LabelVolume):
        labels = image.array
        if labels.dtype.kind not in "iu":
            raise SegmentationImageError(
                f"the segmentation has voxels of type {labels.dtype}; a labelmap needs integer labels: convert it, "
                "e.g. array.astype(np.uint16), after checking its values are whole numbers"
            )
    else:
        labels = _sitk_labelmap_array(image)
    if labels.dtype.kind == "i" and labels.size and labels.min() < 0:
        raise SegmentationImageError(
            "the segmentation holds negative labels (minimum "
            f"{labels.min()}); labels must be 0 (background) or positive"
        )
    return labels


def _sitk_labelmap_array(image: sitk.Image) -> np.ndarray:
    if not is_sitk_image(image):
        raise SegmentationImageError(
            f"the segmentation must be a SimpleITK.Image or a SegExportLib LabelVolume, got {type(image).__name__}"
        )
    import SimpleITK as sitk

    if image.GetDimension() != 3:
        raise SegmentationImageError(
            f"the segmentation is {image.GetDimension()}D; a SEG needs a 3D labelmap (use a single slice volume "
            "of size (columns, rows, 1) for one slice)"
        )
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise SegmentationImageError(
            f"the segmentation has {image.GetNumberOfComponentsPerPixel()} components per voxel; pass a scalar labelmap"
        )
    integer_types = {
        sitk.sitkUInt8,
        sitk.sitkUInt16,
        sitk.sitkUInt32,
        sitk.sitkUInt64,
        sitk.sitkInt8,
        sitk.sitkInt16,
        sitk.sitkInt32,
        sitk.sitkInt64,
    }
    if image.GetPixelID() not in integer_types:
        raise SegmentationImageError(
            f"the segmentation has pixel type {image.GetPixelIDTypeAsString()}; a labelmap needs integer labels: "
            "cast it, e.g. sitk.Cast(image, sitk.sitkUInt16), after checking its values are whole numbers"
        )
    return array_of(image)


MAX_FRACTIONAL_VALUE = 255
"""FRACTIONAL frames store round(fraction * 255) in 8 bits."""

COMPRESSIONS = {
    "none": ExplicitVRLittleEndian,
    "deflate": DeflatedExplicitVRLittleEndian,
    "rle": RLELossless,
}
"""Compression name -> transfer syntax. BINARY SEGs are 1-bit, so only whole-dataset Deflate applies to them
(the standard's RLE and JPEG-LS encode whole bytes per pixel)."""


def transfer_syntax_for(compression: str | None) -> str:
    """The transfer syntax UID for a compression name; refuse unknown names, listing the known ones."""
    name = (compression or "none").lower()
    if name not in COMPRESSIONS:
        raise SegExportError(f"unknown compression {compression!r}: choose one of {', '.join(COMPRESSIONS)}")
    return COMPRESSIONS[name]


@dataclass(frozen=True)
class _SegmentSource:
    """Where a segment's voxels are: value ``label`` in labelmap layer ``layer``."""

    layer: int
    label: int
    description: SegmentDescription


class _SegWriter:
    """What the writers share: options, geometry checks, frame planning, pixel data and the dataset."""

    def __init__(
        self,
        template: Template,
        inplane_cropping: bool = False,
        skip_empty_slices: bool = True,
        skip_missing_segment: bool = False,
        uid_root: str | None = None,
        compression: str | None = None,
    ) -> None:
        if not isinstance(template, Template):
            raise TemplateError(
                [
                    f"$: expected a SegExportLib.template.Template, got {type(template).__name__}; "
                    "load one with SegExportLib.template.from_dcmqi_metainfo"
                ]
            )
        self.template = template
        self.inplane_cropping = inplane_cropping
        self.skip_empty_slices = skip_empty_slices
        self.skip_missing_segment = skip_missing_segment
        self.uid_root = check_uid_root(uid_root) if uid_root is not None else None
        self.transfer_syntax = transfer_syntax_for(compression)
        self.last_report: WriteReport | None = None

    def _encode(
        self,
        layers: list[np.ndarray],
        summaries: list[LabelSummary],
        segments: list[_SegmentSource],
        series: SourceSeries,
        planes: list[SourcePlane],
        report: WriteReport,
        overlap: str,
    ) -> EncodedSeg:
        box = self._frame_box(layers, series, report)
        row_start, row_stop, column_start, column_stop = box
        frames, sources = self._plan_frames(summaries, segments, planes, series, box)

        source_array = np.array(sources, dtype=np.int64).reshape(-1, 3)
        bands = []
        for layer, summary in enumerate(summaries):
            indices = np.flatnonzero(source_array[:, 0] == layer)
            labels, slices = source_array[indices, 1], source_array[indices, 2]
            if summary.first_rows is None or summary.stop_rows is None:
                first, stop = np.full(len(indices), row_start), np.full(len(indices), row_stop)
            else:  # only the rows holding the label: every other row of the frame stays zero
                columns = np.searchsorted(summary.values, labels)
                first, stop = summary.first_rows[slices, columns], summary.stop_rows[slices, columns]
            bands.append(LabelBands(layers[layer], indices, slices, labels, first, stop))
        # Packed when written (or when a complete dataset is asked for), chunk by chunk.
        pixels = BinaryFrames(
            len(frames), row_stop - row_start, column_stop - column_start, bands, row_start, column_start
        )
        report.frame_count = len(frames)
        report.segments_overlap = overlap
        encoded = self._build_dataset(
            series,
            [s.description for s in segments],
            PerFrameGroupsEncoder().encode(frames),
            len(frames),
            pixels,
            (row_stop - row_start, column_stop - column_start),
            overlap,
        )
        self.last_report = report
        logger.info(
            "SEG with %d segments in %d frames of %d x %d",
            len(segments),
            len(frames),
            row_stop - row_start,
            column_stop - column_start,
        )
        return encoded

    def _frame_box(
        self, layers: list[np.ndarray], series: SourceSeries, report: WriteReport
    ) -> tuple[int, int, int, int]:
        """The in-plane box every frame covers: the whole slice, or the box around all segmented voxels."""
        if not self.inplane_cropping:
            return (0, series.rows, 0, series.columns)
        boxes = [b for b in (nonzero_bounding_box(layer) for layer in layers) if b is not None]
        box = (min(b[0] for b in boxes), max(b[1] for b in boxes), min(b[2] for b in boxes), max(b[3] for b in boxes))
        report.cropped_box = box
        return box

    def _frame_shift(self, series: SourceSeries, box: tuple[int, int, int, int]) -> np.ndarray:
        """Offset (mm) of a cropped frame's first pixel from its plane's first pixel."""
        return (
            box[2] * series.column_spacing * series.row_direction
            + box[0] * series.row_spacing * series.column_direction
        )

    def _plan_frames(
        self,
        summaries: list[LabelSummary],
        segments: list[_SegmentSource],
        planes: list[SourcePlane],
        series: SourceSeries,
        box: tuple[int, int, int, int],
    ) -> tuple[list[Frame], list[tuple[int, int, int]]]:
        """Frames in dimension order (segment, then position along the normal) and their (layer, label, slice)."""
        shift = self._frame_shift(series, box)
        offsets = offsets_along(planes, series.normal)
        slices_by_segment = []
        for segment in segments:
            if self.skip_empty_slices:
                slices = summaries[segment.layer].slices_of(segment.label)
            else:
                slices = np.arange(len(planes))
            slices_by_segment.append(slices[np.argsort(offsets[slices], kind="stable")])
        used = np.unique(np.concatenate(slices_by_segment))
        position_index = {int(k): index for index, k in enumerate(used[np.argsort(offsets[used])], start=1)}
        frames: list[Frame] = []
        sources: list[tuple[int, int, int]] = []
        for number, (segment, slices) in enumerate(zip(segments, slices_by_segment), start=1):
            for k in slices.tolist():
                plane = planes[k]
                frames.append(Frame(number, plane, plane.position + shift, position_index[k]))
                sources.append((segment.layer, segment.label, k))
        return frames, sources

    def _build_dataset(
        self,
        series: SourceSeries,
        descriptions: list[SegmentDescription],
        per_frame: RawDataElement,
        frame_count: int,
        pixel_data: np.ndarray | BinaryFrames | LabelmapFrames,
        frame_shape: tuple[int, int],
        overlap: str,
        bits_allocated: int = 1,
        segmentation_type: str = "BINARY",
        fractional_type: str | None = None,
    ) -> EncodedSeg:
        """The SEG dataset around encoded frames: BINARY (1 bit), FRACTIONAL (8 bits, one frame per segment and
        slice) or LABELMAP (8 or 16 bits, one frame per slice)."""
        if self.transfer_syntax == RLELossless and bits_allocated == 1:
            raise SegExportError(
                "RLE Lossless encodes whole bytes per pixel: use it for LABELMAP or FRACTIONAL SEGs; "
                "for BINARY (1-bit) SEGs choose compression='deflate'"
            )
        labelmap = segmentation_type == "LABELMAP"
        sop_class = LABEL_MAP_SEGMENTATION_STORAGE if labelmap else SEGMENTATION_STORAGE
        instance_uid = new_uid(self.uid_root)
        dataset = Dataset()
        copy_patient_and_study(dataset, series)
        set_series_and_content(
            dataset, self.template, new_uid(self.uid_root), instance_uid, datetime.datetime.now(), sop_class
        )
        dataset.ImageType = ["DERIVED", "PRIMARY"]
        dataset.SamplesPerPixel = 1
        dataset.PhotometricInterpretation = "MONOCHROME2"
        dataset.Rows, dataset.Columns = frame_shape
        dataset.BitsAllocated = bits_allocated
        dataset.BitsStored = bits_allocated
        dataset.HighBit = bits_allocated - 1
        dataset.PixelRepresentation = 0
        dataset.LossyImageCompression = "00"
        dataset.SegmentationType = segmentation_type
        if fractional_type is not None:
            dataset.SegmentationFractionalType = fractional_type
            dataset.MaximumFractionalValue = MAX_FRACTIONAL_VALUE
        dataset.SegmentsOverlap = overlap
        dataset.DimensionOrganizationSequence, dataset.DimensionIndexSequence = dimension_modules(
            new_uid(self.uid_root), labelmap
        )
        spacing = series.uniform_spacing()
        thickness = spacing if spacing is not None else (series.slice_thickness or 1.0)
        dataset.SharedFunctionalGroupsSequence = shared_functional_groups(
            series.image_orientation, series.pixel_spacing, thickness, spacing
        )
        dataset.NumberOfFrames = frame_count
        segments = segment_items(descriptions, labelmap)
        unicode = needs_unicode(dataset) or not items_are_ascii(segments)
        if unicode:
            dataset.SpecificCharacterSet = "ISO_IR 192"
        # Pre-encoded elements go in last: needs_unicode would decode them.
        dataset[0x00620002] = segment_sequence(segments, unicode)
        dataset[0x00081115] = referenced_series(series)
        dataset[0x52009230] = per_frame
        dataset.file_meta = file_meta(instance_uid, self.transfer_syntax, sop_class)
        # With a preamble, a plain dataset.save_as(path) (as pydicom-seg users write) gives a standard file too.
        dataset.preamble = b"\0" * 128
        # Declare the dataset as already Explicit VR Little Endian so pydicom writes the
        # pre-encoded per-frame groups as they are instead of re-encoding them.
        declare_explicit_little_endian(dataset)
        return EncodedSeg(dataset, pixel_data, bits_allocated)


class MultiClassWriter(_SegWriter):
    """Write a multi-class labelmap as a DICOM SEG (its segments cannot overlap).

    Segments are numbered 1..N in ascending label order. ``segmentation_type="LABELMAP"`` writes a Label Map
    Segmentation (DICOM Supplement 243, SOP class 1.2.840.10008.5.1.4.1.1.66.7): one 8- or 16-bit frame per
    slice whose pixels are segment numbers, instead of one 1-bit frame per segment and slice.

    Args:
        template: segment descriptions and series information (see :func:`SegExportLib.template.from_dcmqi_metainfo`).
        inplane_cropping: crop all frames to the in-plane box around the segmented voxels (smaller files; some
            viewers ignore the per-frame position of cropped frames, so it is off by default).
        skip_empty_slices: write a frame only where a segment has voxels (the SEG then holds no empty frames).
        skip_missing_segment: leave out labels the template does not describe instead of refusing.
        uid_root: optional organisation UID root (ending with ".") for the new UIDs.
        compression: ``None`` (Explicit VR Little Endian, read everywhere), ``"deflate"`` (Deflated Explicit VR
            Little Endian: the whole dataset zlib-compressed) or ``"rle"`` (RLE Lossless, LABELMAP only); see
            :data:`SegExportLib.writer.COMPRESSIONS`.
    """

    def __init__(
        self,
        template: Template,
        inplane_cropping: bool = False,
        skip_empty_slices: bool = True,
        skip_missing_segment: bool = False,
        uid_root: str | None = None,
        compression: str | None = None,
        segmentation_type: str = "BINARY",
    ) -> None:
        super().__init__(template, inplane_cropping, skip_empty_slices, skip_missing_segment, uid_root, compression)
        if segmentation_type not in ("BINARY", "LABELMAP"):
            raise SegExportError(f"segmentation_type must be BINARY or LABELMAP, got {segmentation_type!r}")
        if segmentation_type == "BINARY" and self.transfer_syntax == RLELossless:
            raise SegExportError(
                "RLE Lossless encodes whole bytes per pixel: use it with segmentation_type='LABELMAP'; "
                "for BINARY (1-bit) SEGs choose compression='deflate'"
            )
        self.segmentation_type = segmentation_type

    def write(self, segmentation: Volume, source_images: Sequence[SourceInput] | SourceSeries) -> Dataset:
        """Encode ``segmentation`` (labels on the source grid) as a SEG referring to ``source_images``.

        ``source_images`` are the datasets (read with or without pixel data) or file paths of the series the
        segmentation was drawn on, in any order. Returns the SEG as a :class:`pydicom.Dataset`; nothing is written
        to disk (see :func:`SegExportLib.write_file`).
        """
        return self.encode(segmentation, source_images).to_dataset()

    def encode(self, segmentation: Volume, source_images: Sequence[SourceInput] | SourceSeries) -> EncodedSeg:
        """As :meth:`write`, with the pixel data kept apart (for :func:`SegExportLib.write_file`, which writes it
        without a complete copy in memory).

        The frames are made from the labelmap when written: leave its voxels unchanged until then.
        """
        labels = labelmap_array(segmentation)
        series = SourceSeries.of(source_images)
        planes = match_slices(grid_of(segmentation), series)
        summary = summarize_labels(labels)
        if len(summary.values) == 0:
            raise EmptySegmentationError(
                "the segmentation is empty (every voxel is 0): there is nothing to write; check that the right "
                "labelmap was passed and that its segments are not all empty"
            )
        report = WriteReport()
        segments = self._select_segments(summary, report)
        if self.segmentation_type == "LABELMAP":
            return self._encode_labelmap(labels, summary, segments, series, planes, report)
        return self._encode([labels], [summary], segments, series, planes, report, "NO")

    def _encode_labelmap(
        self,
        labels: np.ndarray,
        summary: LabelSummary,
        segments: list[_SegmentSource],
        series: SourceSeries,
        planes: list[SourcePlane],
        report: WriteReport,
    ) -> EncodedSeg:
        """One frame per slice (slices with a written segment, unless skip_empty_slices is off)."""
        box = self._frame_box([labels], series, report)
        # Segment number of each label value present (0 for labels left out).
        number_of_value = np.zeros(len(summary.values), dtype=np.int64)
        for number, segment in enumerate(segments, start=1):
            number_of_value[np.searchsorted(summary.values, segment.label)] = number
        if self.skip_empty_slices:
            columns = np.searchsorted(summary.values, [s.label for s in segments])
            slices = np.flatnonzero(summary.presence[:, columns].any(axis=1))
        else:
            slices = np.arange(len(planes))
        offsets = offsets_along(planes, series.normal)
        slices = slices[np.argsort(offsets[slices], kind="stable")]
        shift = self._frame_shift(series, box)
        frames = [Frame(0, planes[k], planes[k].position + shift, index) for index, k in enumerate(slices, start=1)]
        # Made when written (or when a complete dataset is asked for), a few slices at a time.
        pixels = LabelmapFrames(labels, slices, box, summary.values, number_of_value)
        report.frame_count = len(frames)
        encoded = self._build_dataset(
            series,
            [s.description for s in segments],
            PerFrameGroupsEncoder().encode_stack(frames),
            len(frames),
            pixels,
            pixels.shape[1:],
            "NO",
            bits_allocated=8 * pixels.dtype.itemsize,
            segmentation_type="LABELMAP",
        )
        self.last_report = report
        return encoded

    def _select_segments(self, summary: LabelSummary, report: WriteReport) -> list[_SegmentSource]:
        """Pair each label in the image with its template description; number them 1..N."""
        described: dict[int, SegmentDescription] = {}
        duplicates: set[int] = set()
        for segment in self.template.segments:
            if segment.label_id in described:
                duplicates.add(segment.label_id)
            described[segment.label_id] = segment
        if duplicates:
            raise TemplateError(
                [
                    f"$.segmentAttributes: labelID {label} is described more than once (in several input files); "
                    "a single labelmap needs exactly one description per label: merge the lists, renumber the "
                    "labels, or write the layers with LayeredWriter"
                    for label in sorted(duplicates)
                ]
            )
        present = [int(v) for v in summary.values]
        missing = [label for label in present if label not in described]
        if missing and not self.skip_missing_segment:
            raise MissingSegmentError(
                f"labels {missing} occur in the segmentation but the template describes only labelIDs "
                f"{sorted(described)}; add them to segmentAttributes, or pass "
                "skip_missing_segment=True to leave them out"
            )
        if missing:
            logger.warning("leaving out labels %s: the template does not describe them", missing)
        report.skipped_labels = missing
        report.absent_segments = sorted(set(described) - set(present))
        if report.absent_segments:
            logger.info("template labelIDs %s have no voxels and are not written", report.absent_segments)
        chosen = [label for label in present if label in described]
        if not chosen:
            raise EmptySegmentationError(
                f"none of the labels in the segmentation ({present}) is described in the template; nothing to write"
            )
        report.segment_numbers = {label: number for number, label in enumerate(chosen, start=1)}
        return [_SegmentSource(0, label, described[label]) for label in chosen]


class LayeredWriter(_SegWriter):
    """Write segments that may overlap as a BINARY DICOM SEG.

    The segmentation is either a list of labelmap layers (as Slicer stores shared labelmaps, and as dcmqi's
    list-of-lists metainfo describes its input files: layer ``i`` is described by the template's
    ``segmentAttributes[i]``), or a mapping ``{labelID: binary mask image}`` described by the template's labelIDs.
    Segments are numbered 1..N in template order. SegmentsOverlap says whether voxels are really shared.

    >>> writer = LayeredWriter(template.from_dcmqi_metainfo("seg-example_partial_overlaps.json"))  # doctest: +SKIP
    >>> dataset = writer.write([layer1, layer2, layer3], ct_datasets)                               # doctest: +SKIP
    """

    def write(
        self,
        segmentation: Sequence[Volume] | Mapping[int, Volume],
        source_images: Sequence[SourceInput] | SourceSeries,
    ) -> Dataset:
        """Encode the layers (or masks) as one SEG referring to ``source_images``; see :class:`MultiClassWriter`."""
        return self.encode(segmentation, source_images).to_dataset()

    def encode(
        self,
        segmentation: Sequence[Volume] | Mapping[int, Volume],
        source_images: Sequence[SourceInput] | SourceSeries,
    ) -> EncodedSeg:
        """As :meth:`write`, with the pixel data kept apart (see :meth:`MultiClassWriter.encode`)."""
        if isinstance(segmentation, Mapping):
            keys = sorted(segmentation)
            images = [segmentation[key] for key in keys]
            layer_of_label = {key: index for index, key in enumerate(keys)}
        elif is_single_volume(segmentation):
            images, layer_of_label = [segmentation], None
        else:
            images, layer_of_label = list(segmentation), None
        if not images:
            raise SegmentationImageError("no segmentation layers were given")
        layers = [labelmap_array(image) for image in images]
        self._check_same_grid(images)
        series = SourceSeries.of(source_images)
        planes = match_slices(grid_of(images[0]), series)
        if layer_of_label is not None:
            for key, layer in zip(keys, layers):
                if layer.size and int(layer.max()) > 1:
                    raise SegmentationImageError(
                        f"the mask of labelID {key} holds values up to {int(layer.max())}; a mask must be 0 or 1"
                    )
        summaries = [summarize_labels(layer) for layer in layers]
        report = WriteReport()
        segments = self._select_segments(summaries, layer_of_label, report)
        overlap = "YES" if _layers_overlap(layers, segments) else "NO"
        return self._encode(layers, summaries, segments, series, planes, report, overlap)

    @staticmethod
    def _check_same_grid(images: list[Volume]) -> None:
        first = grid_of(images[0])
        for index, image in enumerate(images[1:], start=1):
            other = grid_of(image)
            differences = [
                name
                for name, same in (
                    ("size", other.size == first.size),
                    ("spacing", np.allclose(other.spacing, first.spacing)),
                    ("origin", np.allclose(other.origin, first.origin)),
                    ("direction", np.allclose(other.direction, first.direction)),
                )
                if not same
            ]
            if differences:
                raise SegmentationImageError(
                    f"layer {index} is on another grid than layer 0 ({', '.join(differences)} differ); "
                    "resample all layers onto the source image grid"
                )

    def _select_segments(
        self, summaries: list[LabelSummary], layer_of_label: dict[int, int] | None, report: WriteReport
    ) -> list[_SegmentSource]:
        """Pair the template's descriptions with the (layer, label) holding their voxels, in template order."""
        if all(len(summary.values) == 0 for summary in summaries):
            raise EmptySegmentationError("every layer is empty (all voxels 0): there is nothing to write")
        chosen: list[_SegmentSource] = []
        described: set[tuple[int, int]] = set()
        for description in self.template.segments:
            if layer_of_label is not None:
                where = (layer_of_label.get(description.label_id, -1), 1)
            else:
                where = (description.layer, description.label_id)
            described.add(where)
            layer, label = where
            if 0 <= layer < len(summaries) and label in summaries[layer].values:
                chosen.append(_SegmentSource(layer, label, description))
            else:
                report.absent_segments.append(description.label_id)
        present = {(index, int(v)) for index, summary in enumerate(summaries) for v in summary.values}
        missing = sorted(present - described)
        if missing and not self.skip_missing_segment:
            listing = ", ".join(f"label {label} of layer {layer}" for layer, label in missing)
            raise MissingSegmentError(
                f"the template does not describe {listing} (layer i is described by segmentAttributes[i]); "
                "describe them, or pass skip_missing_segment=True to leave them out"
            )
        report.skipped_labels = [label for _, label in missing]
        if not chosen:
            raise EmptySegmentationError("none of the labels in the layers is described in the template")
        report.segment_numbers = {s.description.label_id: number for number, s in enumerate(chosen, start=1)}
        return chosen


def _layers_overlap(layers: list[np.ndarray], segments: list[_SegmentSource]) -> bool:
    """True if a voxel belongs to written segments of two layers."""
    used_layers = sorted({s.layer for s in segments})
    if len(used_layers) < 2:
        return False
    written = {index: np.array(sorted({s.label for s in segments if s.layer == index})) for index in used_layers}
    for k in range(layers[0].shape[0]):
        count = np.zeros(layers[0].shape[1:], dtype=np.uint8)
        for index in used_layers:
            count += np.isin(layers[index][k], written[index])
        if count.max(initial=0) > 1:
            return True
    return False


class FractionalWriter(_SegWriter):
    """Write probability or occupancy maps as a FRACTIONAL DICOM SEG (8-bit, MaximumFractionalValue 255).

    The segmentation is a float image with values in [0, 1] (described by the template's only segment, or
    its first one) or a mapping ``{labelID: float image}``; each segment gets one frame per slice where it is
    not 0 (every slice with ``skip_empty_slices=False``). ``fractional_type`` is PROBABILITY or OCCUPANCY.

    >>> dataset = FractionalWriter(tpl).write(probability_image, ct_datasets)   # doctest: +SKIP
    """

    def write(
        self,
        segmentation: Volume | Mapping[int, Volume],
        source_images: Sequence[SourceInput] | SourceSeries,
        fractional_type: str = "PROBABILITY",
    ) -> Dataset:
        """Encode the fractions as a SEG referring to ``source_images``."""
        return self.encode(segmentation, source_images, fractional_type).to_dataset()

    def encode(
        self,
        segmentation: Volume | Mapping[int, Volume],
        source_images: Sequence[SourceInput] | SourceSeries,
        fractional_type: str = "PROBABILITY",
    ) -> EncodedSeg:
        """As :meth:`write`, with the pixel data kept apart (see :meth:`MultiClassWriter.encode`)."""
        if fractional_type not in ("PROBABILITY", "OCCUPANCY"):
            raise SegExportError(f"fractional_type must be PROBABILITY or OCCUPANCY, got {fractional_type!r}")
        if is_single_volume(segmentation):
            if not self.template.segments:
                raise TemplateError(["$.segmentAttributes: the template describes no segment"])
            segmentation = {self.template.segments[0].label_id: segmentation}
        keys = sorted(segmentation)
        fractions = [_fraction_array(segmentation[key], key) for key in keys]
        LayeredWriter._check_same_grid([segmentation[key] for key in keys])
        series = SourceSeries.of(source_images)
        planes = match_slices(grid_of(segmentation[keys[0]]), series)
        described = {d.label_id: d for d in self.template.segments}
        undescribed = [key for key in keys if key not in described]
        if undescribed and not self.skip_missing_segment:
            raise MissingSegmentError(
                f"labelIDs {undescribed} have fractions but no description in the template; describe them, "
                "or pass skip_missing_segment=True"
            )
        report = WriteReport(skipped_labels=undescribed)
        segments, summaries = [], []
        for index, (key, fraction) in enumerate(zip(keys, fractions)):
            presence = np.array([bool(fraction[k].any()) for k in range(fraction.shape[0])])[:, np.newaxis]
            summaries.append(LabelSummary(np.array([1]), presence))
            if key in described and presence.any():
                segments.append(_SegmentSource(index, 1, described[key]))
            elif key in described:
                report.absent_segments.append(key)
        if not segments:
            raise EmptySegmentationError("every fraction is 0: there is nothing to write")
        report.segment_numbers = {s.description.label_id: number for number, s in enumerate(segments, start=1)}
        box = self._frame_box([(f > 0).view(np.uint8) for f in fractions], series, report)
        row_start, row_stop, column_start, column_stop = box
        frames, sources = self._plan_frames(summaries, segments, planes, series, box)
        pixels = np.empty((len(frames), row_stop - row_start, column_stop - column_start), dtype=np.uint8)
        for index, (layer, _, k) in enumerate(sources):
            window = fractions[layer][k, row_start:row_stop, column_start:column_stop]
            pixels[index] = np.rint(window * MAX_FRACTIONAL_VALUE)
        report.frame_count = len(frames)
        encoded = self._build_dataset(
            series,
            [s.description for s in segments],
            PerFrameGroupsEncoder().encode(frames),
            len(frames),
            pixels,
            pixels.shape[1:],
            "YES" if _fractions_overlap([fractions[s.layer] for s in segments]) else "NO",
            bits_allocated=8,
            segmentation_type="FRACTIONAL",
            fractional_type=fractional_type,
        )
        self.last_report = report
        return encoded


def _fraction_array(image: Volume, key: int) -> np.ndarray:
    """The (slices, rows, columns) float fractions of ``image``, checked to lie in [0, 1]."""
    scalar_3d = is_sitk_image(image) and image.GetDimension() == 3 and image.GetNumberOfComponentsPerPixel() == 1
    if not (isinstance(image, LabelVolume) or scalar_3d):
        raise SegmentationImageError(
            f"the fractions of labelID {key} must be a 3D scalar SimpleITK image or a LabelVolume"
        )
    values = array_of(image).astype(np.float32, copy=False)
    if values.size and (not np.isfinite(values).all() or values.min() < 0 or values.max() > 1):
        raise SegmentationImageError(
            f"the fractions of labelID {key} must lie in [0, 1] (found {float(np.nanmin(values)):.3g} to "
            f"{float(np.nanmax(values)):.3g}); scale them, e.g. divide by the largest value"
        )
    return values


def _fractions_overlap(fractions: list[np.ndarray]) -> bool:
    """True if a voxel has a non-zero fraction in two segments."""
    if len(fractions) < 2:
        return False
    for k in range(fractions[0].shape[0]):
        count = sum((fraction[k] > 0).astype(np.uint8) for fraction in fractions)
        if count.max(initial=0) > 1:
            return True
    return False
