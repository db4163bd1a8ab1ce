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

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Union

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from .errors import SourceSeriesError

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

    @property
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
        return np.array([p.position @ self.normal for p in self.planes])

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
        _check_same_value(datasets, "SeriesInstanceUID", "series", "pass the images of a single series")
        _check_same_value(
            datasets, "FrameOfReferenceUID", "frames of reference", "pass images of one frame of reference"
        )
        _check_unique_instances(datasets)

        planes: list[SourcePlane] = []
        geometries: list[tuple[np.ndarray, np.ndarray, tuple[float, float], int, int, str]] = []
        first_geometry = None
        for ds, name in datasets:
            for plane, geometry in _planes_of(ds, name):
                planes.append(plane)
                geometries.append(geometry)
                if first_geometry is None:
                    first_geometry = (ds, geometry)
        assert first_geometry is not None
        header, (row_dir, col_dir, spacing, rows, columns, _) = first_geometry
        for r, c, s, nr, nc, name in geometries:
            if (
                np.linalg.norm(r - row_dir) > ORIENTATION_TOLERANCE
                or np.linalg.norm(c - col_dir) > ORIENTATION_TOLERANCE
            ):
                raise SourceSeriesError(
                    f"mixed orientations: {name} has ImageOrientationPatient {np.r_[r, c].round(6).tolist()}, "
                    f"but {datasets[0][1]} has {np.r_[row_dir, col_dir].round(6).tolist()}; "
                    "a SEG frame set needs one orientation: pass only the images of one stack"
                )
            if (nr, nc) != (rows, columns):
                raise SourceSeriesError(
                    f"mixed image sizes: {name} has {nr} rows x {nc} columns, {datasets[0][1]} has "
                    f"{rows} x {columns}; pass only images of one size"
                )
            if not np.allclose(s, spacing, rtol=1e-4, atol=1e-6):
                raise SourceSeriesError(
                    f"mixed pixel spacing: {name} has PixelSpacing {list(s)}, {datasets[0][1]} has {list(spacing)}"
                )

        normal = np.cross(row_dir, col_dir)
        normal /= np.linalg.norm(normal)
        planes.sort(key=lambda p: float(p.position @ normal))
        _check_distinct_positions(planes, normal, spacing)
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
            instances=[(str(ds.SOPClassUID), str(ds.SOPInstanceUID)) for ds, _ in datasets],
        )


def _load(source: SourceInput, index: int) -> tuple[Dataset, str]:
    if isinstance(source, Dataset):
        name = str(getattr(source, "filename", "") or f"source dataset #{index} ({source.get('SOPInstanceUID', '?')})")
        return source, name
    path = os.fspath(source)
    try:
        return pydicom.dcmread(path, stop_before_pixels=True), path
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise SourceSeriesError(f"cannot read source image {path}: {exc}") from exc


def _check_same_value(datasets: list[tuple[Dataset, str]], keyword: str, what: str, fix: str) -> None:
    for ds, name in datasets:
        if keyword not in ds or ds[keyword].value in (None, ""):
            raise SourceSeriesError(f"source image {name} has no {keyword}; it cannot be referenced by a SEG")
    counts = Counter(str(ds[keyword].value) for ds, _ in datasets)
    if len(counts) > 1:
        listing = ", ".join(f"{uid} ({n} images)" for uid, n in counts.most_common())
        raise SourceSeriesError(f"the source images belong to {len(counts)} {what}: {listing}; {fix}")


def _check_unique_instances(datasets: list[tuple[Dataset, str]]) -> None:
    seen: dict[str, str] = {}
    for ds, name in datasets:
        if "SOPInstanceUID" not in ds or "SOPClassUID" not in ds:
            raise SourceSeriesError(
                f"source image {name} has no SOPInstanceUID/SOPClassUID; it is not a DICOM instance"
            )
        uid = str(ds.SOPInstanceUID)
        if uid in seen:
            raise SourceSeriesError(f"source instance {uid} was given twice ({seen[uid]} and {name}); pass each once")
        seen[uid] = name


def _vector(values: object, count: int, what: str, name: str) -> np.ndarray:
    try:
        vector = np.array([float(v) for v in values], dtype=float)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise SourceSeriesError(f"source image {name} has an unreadable {what}: {values!r}") from exc
    if vector.shape != (count,) or not np.all(np.isfinite(vector)):
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


def _planes_of(ds: Dataset, name: str):
    """Yield (plane, geometry) for every frame of ``ds``."""
    frames = int(ds.get("NumberOfFrames") or 1)
    multi_frame = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
    for index in range(frames):
        if multi_frame:
            position = _functional_group_value(ds, index, "PlanePositionSequence", "ImagePositionPatient")
            orientation = _functional_group_value(ds, index, "PlaneOrientationSequence", "ImageOrientationPatient")
            spacing = _functional_group_value(ds, index, "PixelMeasuresSequence", "PixelSpacing")
        else:
            position, orientation, spacing = (
                ds.get(k) for k in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing")
            )
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
        iop = _vector(orientation, 6, "ImageOrientationPatient", where)
        row_dir, col_dir = iop[:3], iop[3:]
        if not (
            np.isclose(np.linalg.norm(row_dir), 1, atol=1e-3)
            and np.isclose(np.linalg.norm(col_dir), 1, atol=1e-3)
            and abs(row_dir @ col_dir) < 1e-3
        ):
            raise SourceSeriesError(
                f"source image {where} has an ImageOrientationPatient that is "
                f"not two orthogonal unit vectors: {list(iop)}"
            )
        row_dir, col_dir = row_dir / np.linalg.norm(row_dir), col_dir / np.linalg.norm(col_dir)
        pixel_spacing = _vector(spacing, 2, "PixelSpacing", where)
        if np.any(pixel_spacing <= 0):
            raise SourceSeriesError(f"source image {where} has a non-positive PixelSpacing {list(pixel_spacing)}")
        rows, columns = ds.get("Rows"), ds.get("Columns")
        if not rows or not columns:
            raise SourceSeriesError(f"source image {where} has no Rows/Columns")
        plane = SourcePlane(
            sop_class_uid=str(ds.SOPClassUID),
            sop_instance_uid=str(ds.SOPInstanceUID),
            position=_vector(position, 3, "ImagePositionPatient", where),
            frame_number=index + 1 if multi_frame else None,
            origin_name=where,
        )
        yield (
            plane,
            (row_dir, col_dir, (float(pixel_spacing[0]), float(pixel_spacing[1])), int(rows), int(columns), where),
        )


def _check_distinct_positions(planes: list[SourcePlane], normal: np.ndarray, spacing: tuple[float, float]) -> None:
    offsets = np.array([p.position @ normal for p in planes])
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
