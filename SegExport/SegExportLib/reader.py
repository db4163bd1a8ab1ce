"""Reading DICOM SEG objects back into labelmaps and per-segment masks.

The readers follow pydicom-seg's: :class:`MultiClassReader` merges all segments
into one labelmap (values are SegmentNumbers) and refuses overlapping segments;
:class:`SegmentReader` gives each segment on its own. Both place the frames on a
regular grid spanning the SEG's frames (or on the grid of ``source_images``,
when given, which also keeps unevenly spaced series exact).

>>> result = MultiClassReader().read(pydicom.dcmread("seg.dcm"))   # doctest: +SKIP
>>> result.image.GetSize(), result.data.shape                         # doctest: +SKIP
((512, 512, 120), (120, 512, 512))
>>> SegmentReader().read(dataset).segment_data(2).sum()              # doctest: +SKIP
5308
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from .encode import unpack_binary_frame
from .errors import OverlappingSegmentsError, SegExportError, SegReadError
from .geometry import Grid
from .source import SourceInput, SourceSeries

if TYPE_CHECKING:
    import SimpleITK as sitk

logger = logging.getLogger(__name__)

SEGMENTATION_STORAGE_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.66.4": "Segmentation Storage",
    "1.2.840.10008.5.1.4.1.1.66.7": "Label Map Segmentation Storage",
}
SegInput = Union[Dataset, str, "os.PathLike[str]"]

# Frame positions closer than this fraction of the pixel spacing are the same position.
_POSITION_TOLERANCE = 0.01


@dataclass
class _Frames:
    """What the reader needs of a SEG's frames."""

    segment_numbers: np.ndarray
    positions: np.ndarray
    row_direction: np.ndarray
    column_direction: np.ndarray
    row_spacing: float
    column_spacing: float
    slice_spacing_hint: float | None
    rows: int
    columns: int

    @property
    def normal(self) -> np.ndarray:
        normal = np.cross(self.row_direction, self.column_direction)
        return normal / np.linalg.norm(normal)


@dataclass
class _Placement:
    """Where each frame lands in the output grid."""

    grid: Grid
    slice_index: np.ndarray
    row_offset: np.ndarray
    column_offset: np.ndarray


@dataclass
class SegmentReadResult:
    """Per-segment access to a SEG's contents (see :class:`SegmentReader`)."""

    dataset: Dataset
    grid: Grid
    segment_infos: dict[int, Dataset]
    """SegmentNumber -> its SegmentSequence item."""
    _frames: _Frames = field(repr=False)
    _placement: _Placement = field(repr=False)
    _segmentation_type: str = "BINARY"
    _max_fractional_value: int = 1

    @property
    def available_segments(self) -> set[int]:
        """The segment numbers the SEG describes (a LABELMAP's background segment 0 is not one)."""
        return {number for number in self.segment_infos if number != 0}

    @property
    def size(self) -> tuple[int, int, int]:
        return self.grid.size

    @property
    def spacing(self) -> tuple[float, ...]:
        return tuple(float(v) for v in self.grid.spacing)

    @property
    def origin(self) -> tuple[float, ...]:
        return tuple(float(v) for v in self.grid.origin)

    @property
    def direction(self) -> np.ndarray:
        return self.grid.direction

    def frame_pixels(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based) as stored: 0/1 for BINARY, 0..MaximumFractionalValue for FRACTIONAL,
        segment numbers for LABELMAP (PixelPaddingValue read as 0)."""
        with damaged_input(f"frame {index + 1} of the SEG"):
            return self._frame_pixels(index)

    def _frame_pixels(self, index: int) -> np.ndarray:
        pixels = _frame_pixels(self.dataset, index, self._frames.rows, self._frames.columns, self._segmentation_type)
        padding = self.dataset.get("PixelPaddingValue")
        if self._segmentation_type == "LABELMAP" and padding is not None and int(padding) != 0:
            pixels = np.where(pixels == int(padding), 0, pixels)
        return pixels

    def segment_data(self, number: int) -> np.ndarray:
        """Segment ``number`` as a (slices, rows, columns) array.

        The values are uint8 0/1 for BINARY, float32 fractions in [0, 1] for FRACTIONAL.
        """
        if number not in self.segment_infos:
            raise SegReadError(f"segment {number} is not in this SEG; it has segments {sorted(self.segment_infos)}")
        fractional = self._segmentation_type == "FRACTIONAL"
        labelmap = self._segmentation_type == "LABELMAP"
        size = self.grid.size
        volume = np.zeros((size[2], size[1], size[0]), dtype=np.float32 if fractional else np.uint8)
        rows, columns = self._frames.rows, self._frames.columns
        frames = (
            range(len(self._frames.segment_numbers))
            if labelmap
            else np.flatnonzero(self._frames.segment_numbers == number)
        )
        for index in frames:
            k, r, c = (
                int(a[index])
                for a in (self._placement.slice_index, self._placement.row_offset, self._placement.column_offset)
            )
            pixels = self.frame_pixels(int(index))
            target = volume[k, r : r + rows, c : c + columns]
            if fractional:
                np.maximum(target, pixels.astype(np.float32) / self._max_fractional_value, out=target)
            elif labelmap:
                target |= (pixels == number).astype(np.uint8)
            else:
                target |= pixels
        return volume

    def segment_image(self, number: int) -> sitk.Image:
        """Segment ``number`` as a SimpleITK image with the SEG's geometry."""
        return self.grid.apply_to(_image_from_array(self.segment_data(number)))


@dataclass
class MultiClassReadResult:
    """A SEG merged into one labelmap whose values are SegmentNumbers."""

    data: np.ndarray
    image: sitk.Image
    segment_infos: dict[int, Dataset]
    grid: Grid

    @property
    def size(self) -> tuple[int, int, int]:
        return self.grid.size

    @property
    def spacing(self) -> tuple[float, ...]:
        return tuple(float(v) for v in self.grid.spacing)

    @property
    def origin(self) -> tuple[float, ...]:
        return tuple(float(v) for v in self.grid.origin)

    @property
    def direction(self) -> np.ndarray:
        return self.grid.direction


class SegmentReader:
    """Read each segment of a SEG separately (segments may overlap)."""

    def read(
        self, dataset: SegInput, source_images: Sequence[SourceInput] | SourceSeries | None = None
    ) -> SegmentReadResult:
        """Parse ``dataset`` (a pydicom Dataset or a file path).

        With ``source_images`` (the referenced series), the result uses that series' grid; otherwise a regular
        grid spanning the frames.
        """
        with damaged_input("the SEG"):
            return self._read(load_seg(dataset), source_images)

    def _read(self, dataset: Dataset, source_images: Sequence[SourceInput] | SourceSeries | None) -> SegmentReadResult:
        segmentation_type = _check_supported(dataset)
        frames = _read_frames(dataset, segmentation_type == "LABELMAP")
        reference = SourceSeries.of(source_images) if source_images else None
        if reference is not None:
            _check_reference(dataset, frames, reference)
        placement = _place_frames(frames, reference)
        infos = {int(item.SegmentNumber): item for item in dataset.get("SegmentSequence", [])}
        unknown = set(frames.segment_numbers.tolist()) - set(infos) - {_ALL_SEGMENTS}
        if unknown:
            raise SegReadError(f"frames refer to segments {sorted(unknown)} that the SegmentSequence does not describe")
        max_fractional = int(dataset.get("MaximumFractionalValue") or 1)
        return SegmentReadResult(dataset, placement.grid, infos, frames, placement, segmentation_type, max_fractional)


class MultiClassReader:
    """Read a SEG into one labelmap; refuses SEGs whose segments overlap."""

    def read(
        self, dataset: SegInput, source_images: Sequence[SourceInput] | SourceSeries | None = None
    ) -> MultiClassReadResult:
        """Parse ``dataset`` into a labelmap (0 = background, else the SegmentNumber)."""
        with damaged_input("the SEG"):
            return self._read(dataset, source_images)

    def _read(
        self, dataset: SegInput, source_images: Sequence[SourceInput] | SourceSeries | None
    ) -> MultiClassReadResult:
        segments = SegmentReader().read(dataset, source_images)
        if segments._segmentation_type == "LABELMAP":
            return _read_labelmap(segments)
        if segments._segmentation_type != "BINARY":
            raise SegReadError(
                f"this SEG is {segments._segmentation_type}; a labelmap holds only whole labels: use SegmentReader"
            )
        size = segments.grid.size
        numbers = sorted(segments.segment_infos)
        dtype = np.uint8 if not numbers or numbers[-1] < 256 else np.uint16
        labels = np.zeros((size[2], size[1], size[0]), dtype=dtype)
        frames, placement = segments._frames, segments._placement
        rows, columns = frames.rows, frames.columns
        for index in range(len(frames.segment_numbers)):
            number = int(frames.segment_numbers[index])
            k, r, c = (
                int(placement.slice_index[index]),
                int(placement.row_offset[index]),
                int(placement.column_offset[index]),
            )
            mask = segments.frame_pixels(index).astype(bool)
            target = labels[k, r : r + rows, c : c + columns]
            clash = target[mask]
            clash = clash[(clash != 0) & (clash != number)]
            if clash.size:
                raise OverlappingSegmentsError(
                    f"segments {number} and {int(clash[0])} overlap (slice {k}); a single labelmap cannot hold both: "
                    "read them one by one with SegmentReader"
                )
            target[mask] = number
        image = segments.grid.apply_to(_image_from_array(labels))
        return MultiClassReadResult(labels, image, segments.segment_infos, segments.grid)


def _read_labelmap(segments: SegmentReadResult) -> MultiClassReadResult:
    """A LABELMAP SEG's frames already are the labelmap: place them on the grid."""
    size = segments.grid.size
    labels = None
    frames, placement = segments._frames, segments._placement
    for index in range(len(frames.segment_numbers)):
        pixels = segments.frame_pixels(index)
        if labels is None:
            labels = np.zeros((size[2], size[1], size[0]), dtype=pixels.dtype)
        k, r, c = (
            int(placement.slice_index[index]),
            int(placement.row_offset[index]),
            int(placement.column_offset[index]),
        )
        labels[k, r : r + frames.rows, c : c + frames.columns] = pixels
    if labels is None:
        labels = np.zeros((size[2], size[1], size[0]), dtype=np.uint8)
    unknown = set(np.unique(labels).tolist()) - set(segments.segment_infos) - {0}
    if unknown:
        raise SegReadError(f"pixels hold values {sorted(unknown)} that the SegmentSequence does not describe")
    image = segments.grid.apply_to(_image_from_array(labels))
    infos = {number: item for number, item in segments.segment_infos.items() if number != 0}
    return MultiClassReadResult(labels, image, infos, segments.grid)


@contextlib.contextmanager
def damaged_input(what: str) -> Iterator[None]:
    """Turn the errors a damaged file makes pydicom, numpy or our parsing raise into a :class:`SegReadError`."""
    try:
        yield
    except SegExportError:
        raise
    except (
        TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, EOFError, struct.error,
        NotImplementedError, RuntimeError, pydicom.errors.BytesLengthException, pydicom.errors.InvalidDicomError,
    ) as exc:  # fmt: skip
        raise SegReadError(f"{what} is damaged or not a readable SEG ({type(exc).__name__}: {exc})") from exc


def load_seg(dataset: SegInput) -> Dataset:
    """A SEG dataset from a Dataset or a file.

    The file is read into memory first: pydicom then reads element values from a buffer, so a damaged length
    field cannot make it allocate more than the file holds.
    """
    if isinstance(dataset, Dataset):
        return dataset
    try:
        data = Path(os.fspath(dataset)).read_bytes()
        return pydicom.dcmread(io.BytesIO(data))
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise SegReadError(f"cannot read {dataset}: {exc}") from exc


def _check_supported(dataset: Dataset) -> str:
    sop_class = str(dataset.get("SOPClassUID", ""))
    if sop_class not in SEGMENTATION_STORAGE_CLASSES:
        raise SegReadError(f"not a DICOM Segmentation: SOPClassUID is {sop_class or 'missing'}")
    segmentation_type = str(dataset.get("SegmentationType", ""))
    if segmentation_type not in ("BINARY", "FRACTIONAL", "LABELMAP"):
        raise SegReadError(f"SegmentationType {segmentation_type or '(missing)'} is not BINARY, FRACTIONAL or LABELMAP")
    if "PixelData" not in dataset:
        raise SegReadError("the SEG has no PixelData")
    expected_bits = {"BINARY": (1,), "FRACTIONAL": (8,), "LABELMAP": (8, 16)}[segmentation_type]
    if dataset.get("BitsAllocated") not in expected_bits:
        raise SegReadError(
            f"a {segmentation_type} SEG must have BitsAllocated {' or '.join(map(str, expected_bits))}, "
            f"not {dataset.get('BitsAllocated')}"
        )
    return segmentation_type


def _check_reference(dataset: Dataset, frames: _Frames, reference: SourceSeries) -> None:
    """Refuse source images that are not the series the SEG refers to, or not on its pixel grid."""
    referenced = {str(item.get("SeriesInstanceUID", "")) for item in dataset.get("ReferencedSeriesSequence") or []}
    if referenced and reference.series_instance_uid not in referenced:
        raise SegReadError(
            f"the source images given belong to series {reference.series_instance_uid}, but this SEG refers to "
            f"{', '.join(sorted(referenced))}; pass the referenced series, or read without source images"
        )
    if not np.allclose(
        [reference.row_spacing, reference.column_spacing], [frames.row_spacing, frames.column_spacing], rtol=1e-4
    ):
        raise SegReadError(
            f"the source images have PixelSpacing {reference.pixel_spacing}, the SEG frames "
            f"{[frames.row_spacing, frames.column_spacing]}: they are not on the same pixel grid"
        )


def _decoded_frames(dataset: Dataset, rows: int, columns: int) -> np.ndarray | None:
    """All frames of compressed pixel data, decoded by pydicom (RLE needs no extra package); None if native."""
    transfer_syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
    if transfer_syntax is None or not transfer_syntax.is_compressed:
        return None
    cached = _DECODED.get(id(dataset))
    if cached is not None and cached[0] is dataset:
        return cached[1]
    try:
        pixels = dataset.pixel_array
    except Exception as exc:  # pydicom raises many kinds for codecs it lacks or corrupt fragments
        raise SegReadError(
            f"cannot decode pixel data compressed as {transfer_syntax.name}: {exc}; RLE is decoded by pydicom "
            "itself, JPEG 2000 or JPEG-LS need pylibjpeg plugins"
        ) from exc
    frames = np.asarray(pixels).reshape(-1, rows, columns)
    _DECODED.clear()
    _DECODED[id(dataset)] = (dataset, frames)
    return frames


# The last decoded compressed dataset (frames are asked for one by one).
_DECODED: dict[int, tuple[Dataset, np.ndarray]] = {}


def _frame_pixels(dataset: Dataset, index: int, rows: int, columns: int, segmentation_type: str) -> np.ndarray:
    decoded = _decoded_frames(dataset, rows, columns)
    if decoded is not None:
        if index >= len(decoded):
            raise SegReadError(f"the compressed pixel data holds {len(decoded)} frames; frame {index + 1} is missing")
        return decoded[index]
    pixel_data = dataset.PixelData
    try:
        if segmentation_type == "BINARY":
            return unpack_binary_frame(pixel_data, index, rows, columns)
        dtype = np.dtype("<u2") if int(dataset.BitsAllocated) == 16 else np.dtype(np.uint8)
        frame_values = rows * columns
        return np.frombuffer(
            pixel_data, dtype=dtype, count=frame_values, offset=index * frame_values * dtype.itemsize
        ).reshape(rows, columns)
    except ValueError as exc:
        raise SegReadError(
            f"PixelData is too short for frame {index + 1} of {rows} x {columns}: the file is truncated"
        ) from exc


def _group_value(groups: Dataset | None, sequence: str, keyword: str) -> object:
    if groups is None:
        return None
    items = groups.get(sequence)
    if items and keyword in items[0]:
        return items[0][keyword].value
    return None


def _floats(value: object, count: int, what: str) -> np.ndarray:
    try:
        array = np.array([float(v) for v in value], dtype=float)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise SegReadError(f"{what} is not numeric: {value!r}") from exc
    if array.shape != (count,) or not np.all(np.isfinite(array)):
        raise SegReadError(f"{what} must hold {count} numbers, got {value!r}")
    return array


_ALL_SEGMENTS = -1
"""Segment number recorded for LABELMAP frames, which show every segment."""


def _read_frames(dataset: Dataset, labelmap: bool = False) -> _Frames:
    frame_count = int(dataset.get("NumberOfFrames") or 1)
    shared_items = dataset.get("SharedFunctionalGroupsSequence")
    shared = shared_items[0] if shared_items else None
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence") or []
    if per_frame and len(per_frame) != frame_count:
        raise SegReadError(
            f"NumberOfFrames is {frame_count} but there are {len(per_frame)} per-frame functional groups"
        )
    segment_count = len(dataset.get("SegmentSequence") or [])

    def lookup(index: int, sequence: str, keyword: str) -> object:
        value = _group_value(per_frame[index] if per_frame else None, sequence, keyword)
        return value if value is not None else _group_value(shared, sequence, keyword)

    numbers = np.zeros(frame_count, dtype=np.int64)
    positions = np.zeros((frame_count, 3))
    for index in range(frame_count):
        number = (
            _ALL_SEGMENTS if labelmap else lookup(index, "SegmentIdentificationSequence", "ReferencedSegmentNumber")
        )
        if number is None:
            if segment_count != 1:
                raise SegReadError(
                    f"frame {index + 1} does not say which segment it shows (no SegmentIdentificationSequence)"
                )
            number = dataset.SegmentSequence[0].SegmentNumber
        numbers[index] = int(number)  # type: ignore[call-overload]
        position = lookup(index, "PlanePositionSequence", "ImagePositionPatient")
        if position is None:
            position = dataset.get("ImagePositionPatient")
        if position is None:
            raise SegReadError(f"frame {index + 1} has no ImagePositionPatient; its place in space is unknown")
        positions[index] = _floats(position, 3, f"ImagePositionPatient of frame {index + 1}")

    orientation = lookup(0, "PlaneOrientationSequence", "ImageOrientationPatient") or dataset.get(
        "ImageOrientationPatient"
    )
    spacing = lookup(0, "PixelMeasuresSequence", "PixelSpacing") or dataset.get("PixelSpacing")
    if orientation is None or spacing is None:
        raise SegReadError("the SEG has no ImageOrientationPatient or PixelSpacing in its functional groups")
    iop = _floats(orientation, 6, "ImageOrientationPatient")
    pixel_spacing = _floats(spacing, 2, "PixelSpacing")
    hint = lookup(0, "PixelMeasuresSequence", "SpacingBetweenSlices") or lookup(
        0, "PixelMeasuresSequence", "SliceThickness"
    )
    row_direction, column_direction = iop[:3] / np.linalg.norm(iop[:3]), iop[3:] / np.linalg.norm(iop[3:])
    return _Frames(
        numbers,
        positions,
        row_direction,
        column_direction,
        float(pixel_spacing[0]),
        float(pixel_spacing[1]),
        float(hint) if hint not in (None, "") else None,
        int(dataset.Rows),
        int(dataset.Columns),
    )  # type: ignore[arg-type]


MAX_GRID_VOXELS = 1 << 30
"""Largest output grid the reader allocates (1 Gi voxels): beyond it, frame positions are taken as corrupt."""
MAX_GRID_SLICES = 20000
"""A regular slice grid deeper than this is not built (the frames' own positions are used instead)."""


def _place_frames(frames: _Frames, reference: SourceSeries | None) -> _Placement:
    normal = frames.normal
    along_rows = frames.positions @ frames.row_direction
    along_columns = frames.positions @ frames.column_direction
    offsets = frames.positions @ normal
    tolerance = _POSITION_TOLERANCE * min(frames.row_spacing, frames.column_spacing)

    if reference is not None:
        if (
            np.linalg.norm(reference.row_direction - frames.row_direction) > 1e-4
            or np.linalg.norm(reference.column_direction - frames.column_direction) > 1e-4
        ):
            raise SegReadError("the source images given to the reader have another orientation than the SEG frames")
        first = reference.planes[0].position
        origin_u, origin_v = first @ frames.row_direction, first @ frames.column_direction
        slice_offsets = reference.plane_offsets()
        width, height = reference.columns, reference.rows
    else:
        origin_u, origin_v = along_rows.min(), along_columns.min()
        slice_offsets = _slice_offsets(offsets, frames.slice_spacing_hint, tolerance)
        width = height = 0

    column_offset = np.rint((along_rows - origin_u) / frames.column_spacing)
    row_offset = np.rint((along_columns - origin_v) / frames.row_spacing)
    residual = np.maximum(
        np.abs(along_rows - origin_u - column_offset * frames.column_spacing),
        np.abs(along_columns - origin_v - row_offset * frames.row_spacing),
    )
    if np.any(residual > tolerance):
        raise SegReadError("frame positions are not on a common pixel grid (frames shifted by a fraction of a pixel)")
    nearest = np.clip(np.searchsorted(slice_offsets, offsets), 0, len(slice_offsets) - 1)
    left = np.clip(nearest - 1, 0, len(slice_offsets) - 1)
    nearest = np.where(np.abs(slice_offsets[left] - offsets) < np.abs(slice_offsets[nearest] - offsets), left, nearest)
    gap = np.min(np.diff(slice_offsets)) if len(slice_offsets) > 1 else 1.0
    if np.any(np.abs(slice_offsets[nearest] - offsets) > max(tolerance, 0.05 * gap)):
        raise SegReadError(
            "some frames lie between the slices of the grid (the source images given do not match the SEG?)"
        )
    if np.any(column_offset < 0) or np.any(row_offset < 0):
        raise SegReadError("some frames start outside the grid of the source images given")
    width = max(width, int(column_offset.max()) + frames.columns)
    height = max(height, int(row_offset.max()) + frames.rows)
    if reference is not None and (width, height) != (reference.columns, reference.rows):
        raise SegReadError("some frames reach beyond the grid of the source images given")
    voxels = width * height * len(slice_offsets)
    if voxels > MAX_GRID_VOXELS:
        raise SegReadError(
            f"the SEG frames span a grid of {width} x {height} x {len(slice_offsets)} voxels, more than the "
            f"{MAX_GRID_VOXELS:,} a reader should allocate: their positions or sizes are probably corrupt"
        )
    slice_spacing = (
        float(np.mean(np.diff(slice_offsets))) if len(slice_offsets) > 1 else (frames.slice_spacing_hint or 1.0)
    )
    origin = origin_u * frames.row_direction + origin_v * frames.column_direction + slice_offsets[0] * normal
    grid = Grid(
        size=(width, height, len(slice_offsets)),
        spacing=np.array([frames.column_spacing, frames.row_spacing, slice_spacing]),
        origin=origin,
        direction=np.column_stack([frames.row_direction, frames.column_direction, normal]),
    )
    return _Placement(grid, nearest.astype(np.int64), row_offset.astype(np.int64), column_offset.astype(np.int64))


def _slice_offsets(offsets: np.ndarray, spacing_hint: float | None, tolerance: float) -> np.ndarray:
    """The slice positions (along the normal) of a grid holding every frame: regular when the frames allow it."""
    distinct = np.unique(offsets)
    keep = np.concatenate([[True], np.diff(distinct) > tolerance])
    distinct = distinct[keep]
    if len(distinct) == 1:
        return distinct
    gaps = np.diff(distinct)
    candidates = [spacing_hint] if spacing_hint and spacing_hint > tolerance else []
    candidates.append(float(gaps.min()))
    for step in candidates:
        steps = gaps / step
        if np.all(np.abs(steps - np.rint(steps)) * step <= max(tolerance, 0.01 * step)):
            count = int(np.rint((distinct[-1] - distinct[0]) / step)) + 1
            if count > MAX_GRID_SLICES:  # a regular grid this deep would be mostly empty: keep the frame positions
                break
            return distinct[0] + step * np.arange(count)
    logger.warning("SEG frames are unevenly spaced; the grid has one slice per frame position (spacing is approximate)")
    return distinct


def _image_from_array(array: np.ndarray) -> sitk.Image:
    import SimpleITK as sitk  # only when images are asked for: importing it costs more than reading a small SEG

    return sitk.GetImageFromArray(array)
