"""The source image series a segmentation refers to: geometry and references.

:class:`SourceSeries` gathers, from the source datasets (read with or without
pixel data, in any order, single-frame or enhanced multi-frame), what a SEG
needs: one :class:`SourcePlane` per image plane (the instance, and frame for a
multi-frame source, with its position), the shared plane geometry, and the
patient/study header. Inconsistent series are refused with
:class:`~SegExportLib.errors.SourceSeriesError` naming the offending files.

>>> series = SourceSeries.from_datasets(datasets)          # doctest: +SKIP
>>> len(series.planes), series.rows, series.columns        # doctest: +SKIP
(120, 512, 512)
"""

from __future__ import annotations

import functools
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Union

import numpy as np
from pydicom.dataset import Dataset

from .errors import SourceSeriesError
from .headers import read_source_header

SourceInput = Union[Dataset, str, "os.PathLike[str]"]

# Orientation vectors of one series may differ by DS rounding only.
ORIENTATION_TOLERANCE = 1e-4


@dataclass(frozen=True)
class SourcePlane:
    """One image plane of the source series."""

    sop_class_uid: str
    sop_instance_uid: str
    position: np.ndarray = field(compare=False)
    """ImagePositionPatient of the plane's first pixel (LPS, mm)."""
    frame_number: int | None = None
    """1-based frame number in a multi-frame source instance, else ``None``."""
    origin_name: str = ""
    """The file name or a description of the dataset, for error messages."""


@dataclass
class SourceSeries:
    """The planes and shared geometry of one source series."""

    planes: list[SourcePlane]
    """Every plane, sorted by position along the slice normal (ascending)."""
    row_direction: np.ndarray
    column_direction: np.ndarray
    row_spacing: float
    """Distance between rows (PixelSpacing[0]), i.e. spacing along the column direction."""
    column_spacing: float
    """Distance between columns (PixelSpacing[1]), i.e. spacing along the row direction."""
    rows: int
    columns: int
    image_orientation: list[str]
    """ImageOrientationPatient as the source wrote it (DS strings), reused verbatim."""
    pixel_spacing: list[str]
    """PixelSpacing as the source wrote it (DS strings), reused verbatim."""
    slice_thickness: float | None
    header: Dataset
    """The first source dataset: patient, study and frame of reference attributes."""
    instances: list[tuple[str, str]]
    """(SOPClassUID, SOPInstanceUID) of every source instance, in the order given."""

    @functools.cached_property
    def normal(self) -> np.ndarray:
        """Unit slice normal: row direction x column direction."""
        n = np.cross(self.row_direction, self.column_direction)
        return n / np.linalg.norm(n)

    @property
    def series_instance_uid(self) -> str:
        return str(self.header.SeriesInstanceUID)

    @property
    def study_instance_uid(self) -> str:
        return str(self.header.StudyInstanceUID)

    @property
    def frame_of_reference_uid(self) -> str:
        return str(self.header.FrameOfReferenceUID)

    def plane_offsets(self) -> np.ndarray:
        """Position of every plane along the slice normal (mm), ascending."""
        return offsets_along(self.planes, self.normal)

    def uniform_spacing(self, tolerance: float = 0.01) -> float | None:
        """The common gap between adjacent planes, or ``None`` if gaps differ (or one plane)."""
        offsets = self.plane_offsets()
        if len(offsets) < 2:
            return None
        gaps = np.diff(offsets)
        mean_gap = float(gaps.mean())
        if np.all(np.abs(gaps - mean_gap) <= tolerance * max(mean_gap, 1e-6)):
            return mean_gap
        return None

    @classmethod
    def of(cls, sources: SourceSeries | Sequence[SourceInput]) -> SourceSeries:
        """``sources`` if already a :class:`SourceSeries`, else :meth:`from_datasets` of them.

        Lets a caller that has checked the series once (the export, inspect) hand it on instead of having every
        step read and check the headers again.
        """
        return sources if isinstance(sources, SourceSeries) else cls.from_datasets(sources)

    @classmethod
    def from_datasets(cls, sources: Sequence[SourceInput]) -> SourceSeries:
        """Collect the planes of ``sources`` (datasets or file paths) and check they form one series."""
        if len(sources) == 0:
            raise SourceSeriesError("no source images were given: pass the DICOM images the segmentation was drawn on")
        datasets = [_load(source, index) for index, source in enumerate(sources)]
        _check_same_value(datasets, _SERIES_UID, "SeriesInstanceUID", "series", "pass the images of a single series")
        _check_same_value(
            datasets,
            _FRAME_OF_REFERENCE_UID,
            "FrameOfReferenceUID",
            "frames of reference",
            "pass images of one frame of reference",
        )
        instances = _check_unique_instances(datasets)

        found: list[_PlaneValues] = []
        for ds, name in datasets:
            found.extend(_plane_values(ds, name))
        positions = np.array([plane.position for plane in found], dtype=float)
        orientations = np.array([plane.orientation for plane in found], dtype=float)
        spacings = np.array([plane.spacing for plane in found], dtype=float)
        sizes = np.array([plane.size for plane in found], dtype=np.int64)
        row_dir, col_dir, spacing, (rows, columns) = _check_geometry(found, orientations, spacings, sizes)

        normal = np.cross(row_dir, col_dir)
        normal /= np.linalg.norm(normal)
        planes = [
            SourcePlane(plane.sop_class_uid, plane.sop_instance_uid, position, plane.frame_number, plane.name)
            for plane, position in zip(found, positions)
        ]
        offsets = positions @ normal
        order = np.argsort(offsets, kind="stable")
        planes = [planes[index] for index in order.tolist()]
        _check_distinct_positions(planes, offsets[order], spacing)
        header = datasets[0][0]
        orientation, pixel_spacing = _verbatim_geometry(header)
        thickness = header.get("SliceThickness")
        return cls(
            planes=planes,
            row_direction=row_dir,
            column_direction=col_dir,
            row_spacing=spacing[0],
            column_spacing=spacing[1],
            rows=rows,
            columns=columns,
            image_orientation=orientation,
            pixel_spacing=pixel_spacing,
            slice_thickness=float(thickness) if thickness not in (None, "") else None,
            header=header,
            instances=instances,
        )


def _load(source: SourceInput, index: int) -> tuple[Dataset, str]:
    if isinstance(source, Dataset):
        name = str(getattr(source, "filename", "") or f"source dataset #{index} ({source.get('SOPInstanceUID', '?')})")
        return source, name
    path = os.fspath(source)
    # The first dataset is the header the SEG copies patient and study data from: read it all.
    return read_source_header(path, full=index == 0), path


_SOP_CLASS_UID = 0x00080016
_SOP_INSTANCE_UID = 0x00080018
_SERIES_UID = 0x0020000E
_FRAME_OF_REFERENCE_UID = 0x00200052
_IMAGE_POSITION = 0x00200032
_IMAGE_ORIENTATION = 0x00200037
_PIXEL_SPACING = 0x00280030


def _text(ds: Dataset, tag: int) -> str | None:
    """A text element's value (UIDs here), read from the raw bytes when pydicom has not converted it yet: this
    skips pydicom's value conversion, the largest cost of checking a few hundred headers."""
    element = ds.get_item(tag)
    if element is None:
        return None
    value = element.value
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace").rstrip("\0 ").strip()
    return None if value in (None, "") else str(value)


def _numbers(ds: Dataset, tag: int) -> object:
    """A DS element's numbers, from its raw bytes when possible; ``None`` when absent. Returns the raw text
    unchanged when it is not numbers (for the error message)."""
    element = ds.get_item(tag)
    if element is None:
        return None
    value = element.value
    if isinstance(value, bytes):
        text = value.decode("ascii", "replace").strip("\0 ")
        if not text:
            return None
        try:
            return [float(part) for part in text.split("\\")]
        except ValueError:
            return text
    if value is None or value == "":
        return None
    return value


def _check_same_value(datasets: list[tuple[Dataset, str]], tag: int, keyword: str, what: str, fix: str) -> None:
    values = []
    for ds, name in datasets:
        value = _text(ds, tag)
        if value is None:
            raise SourceSeriesError(f"source image {name} has no {keyword}; it cannot be referenced by a SEG")
        values.append(value)
    counts = Counter(values)
    if len(counts) > 1:
        listing = ", ".join(f"{uid} ({n} images)" for uid, n in counts.most_common())
        raise SourceSeriesError(f"the source images belong to {len(counts)} {what}: {listing}; {fix}")


def _check_unique_instances(datasets: list[tuple[Dataset, str]]) -> list[tuple[str, str]]:
    """(SOPClassUID, SOPInstanceUID) of every dataset, refusing missing UIDs and an instance given twice."""
    seen: dict[str, str] = {}
    instances = []
    for ds, name in datasets:
        sop_class, uid = _text(ds, _SOP_CLASS_UID), _text(ds, _SOP_INSTANCE_UID)
        if uid is None or sop_class is None:
            raise SourceSeriesError(
                f"source image {name} has no SOPInstanceUID/SOPClassUID; it is not a DICOM instance"
            )
        if not (uid + sop_class).isascii():
            raise SourceSeriesError(
                f"source image {name} has a damaged SOPInstanceUID or SOPClassUID ({uid!r}, {sop_class!r}): UIDs "
                "are digits and dots; check the file, or leave it out"
            )
        if uid in seen:
            raise SourceSeriesError(f"source instance {uid} was given twice ({seen[uid]} and {name}); pass each once")
        seen[uid] = name
        instances.append((sop_class, uid))
    return instances


def _vector(values: object, count: int, what: str, name: str) -> list[float]:
    try:
        vector = [float(v) for v in values]  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise SourceSeriesError(f"source image {name} has an unreadable {what}: {values!r}") from exc
    if len(vector) != count or not all(math.isfinite(v) for v in vector):
        raise SourceSeriesError(f"source image {name} has {what} {values!r}; expected {count} numbers")
    return vector


def _functional_group_value(ds: Dataset, frame_index: int, sequence: str, keyword: str) -> object:
    """Look an attribute up in the per-frame, then the shared functional groups of ``ds``."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame_index), ("SharedFunctionalGroupsSequence", 0)):
        items = ds.get(groups)
        if items and len(items) > index:
            seq = items[index].get(sequence)
            if seq and keyword in seq[0]:
                return seq[0][keyword].value
    return None


@dataclass(frozen=True)
class _PlaneValues:
    """What one plane's header says, parsed but not yet checked against the other planes."""

    sop_class_uid: str
    sop_instance_uid: str
    position: list[float]
    orientation: list[float]
    spacing: list[float]
    size: tuple[int, int]
    frame_number: int | None
    name: str


def _plane_values(ds: Dataset, name: str) -> list[_PlaneValues]:
    """The planes of ``ds`` (one per frame), each with its position, orientation, spacing and size."""
    frames = int(ds.get("NumberOfFrames") or 1)
    multi_frame = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
    rows, columns = ds.get("Rows"), ds.get("Columns")
    sop_class, sop_instance = str(_text(ds, _SOP_CLASS_UID)), str(_text(ds, _SOP_INSTANCE_UID))
    values = []
    for index in range(frames):
        if multi_frame:
            position = _functional_group_value(ds, index, "PlanePositionSequence", "ImagePositionPatient")
            orientation = _functional_group_value(ds, index, "PlaneOrientationSequence", "ImageOrientationPatient")
            spacing = _functional_group_value(ds, index, "PixelMeasuresSequence", "PixelSpacing")
        else:
            position = _numbers(ds, _IMAGE_POSITION)
            orientation = _numbers(ds, _IMAGE_ORIENTATION)
            spacing = _numbers(ds, _PIXEL_SPACING)
        where = f"{name} frame {index + 1}" if frames > 1 else name
        for value, keyword in (
            (position, "ImagePositionPatient"),
            (orientation, "ImageOrientationPatient"),
            (spacing, "PixelSpacing"),
        ):
            if value is None:
                raise SourceSeriesError(
                    f"source image {where} has no {keyword}; SEG frames can only refer to images with a known position "
                    "(a projection image or a secondary capture cannot be the source of a volumetric SEG)"
                )
        if not rows or not columns:
            raise SourceSeriesError(f"source image {where} has no Rows/Columns")
        values.append(
            _PlaneValues(
                sop_class,
                sop_instance,
                _vector(position, 3, "ImagePositionPatient", where),
                _vector(orientation, 6, "ImageOrientationPatient", where),
                _vector(spacing, 2, "PixelSpacing", where),
                (int(rows), int(columns)),
                index + 1 if multi_frame else None,
                where,
            )
        )
    return values


def _check_geometry(
    planes: list[_PlaneValues], orientations: np.ndarray, spacings: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[float, float], tuple[int, int]]:
    """Check every plane's orientation and spacing, and that all planes share them (and their size), in a few
    array operations; return the (normalised) row and column directions, the spacing and the size."""
    row_dirs, col_dirs = orientations[:, :3], orientations[:, 3:]
    row_norms, col_norms = np.linalg.norm(row_dirs, axis=1), np.linalg.norm(col_dirs, axis=1)
    bad = (
        (np.abs(row_norms - 1) > 1e-3)
        | (np.abs(col_norms - 1) > 1e-3)
        | (np.abs(np.einsum("ij,ij->i", row_dirs, col_dirs)) >= 1e-3)
    )
    if bad.any():
        plane = planes[int(np.argmax(bad))]
        raise SourceSeriesError(
            f"source image {plane.name} has an ImageOrientationPatient that is "
            f"not two orthogonal unit vectors: {plane.orientation}"
        )
    bad = (spacings <= 0).any(axis=1)
    if bad.any():
        plane = planes[int(np.argmax(bad))]
        raise SourceSeriesError(f"source image {plane.name} has a non-positive PixelSpacing {plane.spacing}")
    row_dirs, col_dirs = row_dirs / row_norms[:, None], col_dirs / col_norms[:, None]
    first = planes[0]
    bad = (np.linalg.norm(row_dirs - row_dirs[0], axis=1) > ORIENTATION_TOLERANCE) | (
        np.linalg.norm(col_dirs - col_dirs[0], axis=1) > ORIENTATION_TOLERANCE
    )
    if bad.any():
        index = int(np.argmax(bad))
        raise SourceSeriesError(
            f"mixed orientations: {planes[index].name} has ImageOrientationPatient "
            f"{np.r_[row_dirs[index], col_dirs[index]].round(6).tolist()}, but {first.name} has "
            f"{np.r_[row_dirs[0], col_dirs[0]].round(6).tolist()}; "
            "a SEG frame set needs one orientation: pass only the images of one stack"
        )
    bad = (sizes != sizes[0]).any(axis=1)
    if bad.any():
        plane = planes[int(np.argmax(bad))]
        raise SourceSeriesError(
            f"mixed image sizes: {plane.name} has {plane.size[0]} rows x {plane.size[1]} columns, {first.name} has "
            f"{first.size[0]} x {first.size[1]}; pass only images of one size"
        )
    bad = ~np.isclose(spacings, spacings[0], rtol=1e-4, atol=1e-6).all(axis=1)
    if bad.any():
        plane = planes[int(np.argmax(bad))]
        raise SourceSeriesError(
            f"mixed pixel spacing: {plane.name} has PixelSpacing {plane.spacing}, {first.name} has {first.spacing}"
        )
    spacing = (float(spacings[0, 0]), float(spacings[0, 1]))
    return row_dirs[0], col_dirs[0], spacing, (int(sizes[0, 0]), int(sizes[0, 1]))


def offsets_along(planes: Sequence[SourcePlane], normal: np.ndarray) -> np.ndarray:
    """Position of each plane along ``normal`` (mm), in the order given."""
    return np.array([plane.position for plane in planes], dtype=float).reshape(-1, 3) @ normal


def _check_distinct_positions(planes: list[SourcePlane], offsets: np.ndarray, spacing: tuple[float, float]) -> None:
    """Refuse two planes at one position; ``offsets`` are the (sorted) planes' positions along the normal."""
    if len(offsets) < 2:
        return
    gaps = np.diff(offsets)
    tolerance = 1e-3 * min(spacing)
    for index in np.flatnonzero(gaps < tolerance):
        first, second = planes[index], planes[index + 1]
        raise SourceSeriesError(
            f"two source images lie at the same position {first.position.round(3).tolist()}: {first.origin_name} and "
            f"{second.origin_name}; the series mixes several acquisitions (or a duplicate); pass one image per position"
        )


def _verbatim_geometry(ds: Dataset) -> tuple[list[str], list[str]]:
    """The orientation and spacing strings of the first plane, to be reused without reformatting."""
    if "ImageOrientationPatient" in ds and "PixelSpacing" in ds:
        orientation, spacing = ds.ImageOrientationPatient, ds.PixelSpacing
    else:
        orientation = _functional_group_value(ds, 0, "PlaneOrientationSequence", "ImageOrientationPatient")
        spacing = _functional_group_value(ds, 0, "PixelMeasuresSequence", "PixelSpacing")
    return [_ds_text(v) for v in orientation], [_ds_text(v) for v in spacing]  # type: ignore[union-attr]


def _ds_text(value: object) -> str:
    original = getattr(value, "original_string", None)
    if original and len(str(original).strip()) <= 16:
        return str(original).strip()
    from .rawencode import format_ds

    return format_ds(float(value))  # type: ignore[arg-type]
