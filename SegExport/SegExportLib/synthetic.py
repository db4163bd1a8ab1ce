"""Synthetic CT series and labelmaps, for demos, benchmarks and self-tests.

Real DICOM CT Image objects (with small pixel data) in any orientation, slice
order or spacing, and labelmaps on exactly their grid, so an export can be tried
and checked without any patient data.

>>> series = make_ct_series(rows=32, columns=24, slices=5, orientation="oblique")
>>> labels = make_labelmap(series, segment_count=2, seed=1)
>>> image = series.labelmap_image(labels)
>>> image.GetSize()
(24, 32, 5)
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from .fileio import declare_explicit_little_endian, save_dataset
from .geometry import Grid
from .rawencode import format_ds
from .uid import new_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def _rotation(axis: int, degrees: float) -> np.ndarray:
    angle = np.deg2rad(degrees)
    c, s = np.cos(angle), np.sin(angle)
    i, j = [a for a in range(3) if a != axis]
    matrix = np.eye(3)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -s, s, c
    return matrix


# Columns: the row direction (i), the column direction (j) and the slice normal, in LPS.
ORIENTATIONS: dict[str, np.ndarray] = {
    "axial": np.eye(3),
    "coronal": np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]]),
    "sagittal": np.array([[0, 0, -1.0], [1, 0, 0], [0, -1, 0]]),
    "oblique": _rotation(0, 25) @ _rotation(1, -17) @ np.eye(3),
}


@dataclass
class SyntheticSeries:
    """A synthetic CT series and the volume grid it forms."""

    datasets: list[Dataset]
    """The CT instances, in the requested file order."""
    grid: Grid
    """The volume: i along rows, j along columns, k along the stacking direction (slice 0 first)."""
    slice_offsets: np.ndarray
    """Distance (mm) of each slice k from the origin along the k axis; regular unless built uneven."""

    def labelmap_image(self, labels: np.ndarray) -> sitk.Image:
        """Wrap a (slices, rows, columns) label array as a SimpleITK image on this series' grid."""
        expected = (self.grid.size[2], self.grid.size[1], self.grid.size[0])
        if labels.shape != expected:
            raise ValueError(f"labels have shape {labels.shape}, the series needs {expected}")
        return self.grid.apply_to(sitk.GetImageFromArray(labels))

    def write(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Write every instance as ``CT0001.dcm``, ... into ``folder``; return the paths in file order."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        for dataset in self.datasets:
            path = target / f"CT{int(dataset.InstanceNumber):04d}.dcm"
            save_dataset(dataset, path)
            paths.append(path)
        return paths


def make_ct_series(
    rows: int = 64,
    columns: int = 48,
    slices: int = 8,
    spacing: Sequence[float] = (0.75, 0.8, 2.0),
    orientation: str | np.ndarray = "axial",
    origin: Sequence[float] = (-18.0, -25.0, 40.0),
    slice_offsets: Sequence[float] | None = None,
    reverse_slices: bool = False,
    file_order: str = "ascending",
    seed: int = 0,
    patient_name: str = "Synthetic^Patient",
    patient_id: str = "SEGEXPORT-0001",
    pixel_data: bool = True,
    uid_root: str | None = None,
) -> SyntheticSeries:
    """Build a CT series of ``slices`` images of ``rows`` x ``columns`` pixels.

    ``spacing`` is (column spacing, row spacing, slice spacing) in mm, as SimpleITK orders it.
    ``orientation`` is a name in :data:`ORIENTATIONS` or a 3x3 matrix of unit columns.
    ``slice_offsets`` (ascending mm along the k axis) makes an unevenly spaced series.
    ``reverse_slices`` makes the volume's k axis run against the slice normal, as Slicer stores
    some DICOM volumes. ``file_order`` is "ascending", "descending" or "shuffled".
    """
    axes = ORIENTATIONS[orientation] if isinstance(orientation, str) else np.asarray(orientation, dtype=float)
    direction = axes.copy()
    if reverse_slices:
        direction[:, 2] = -direction[:, 2]
    offsets = (
        np.asarray(slice_offsets, dtype=float) if slice_offsets is not None else np.arange(slices) * float(spacing[2])
    )
    slices = len(offsets)
    nominal = float(offsets[1] - offsets[0]) if slices > 1 else float(spacing[2])
    grid = Grid(
        (columns, rows, slices),
        np.array([spacing[0], spacing[1], nominal], dtype=float),
        np.asarray(origin, dtype=float),
        direction,
    )

    rng = np.random.default_rng(seed)
    now = datetime.datetime(2026, 1, 15, 9, 30, 0)
    study, series, frame_of_reference = new_uid(uid_root), new_uid(uid_root), new_uid(uid_root)
    body = _body_phantom(rows, columns) if pixel_data else None
    datasets = []
    for k, offset in enumerate(offsets):
        position = grid.origin + offset * direction[:, 2]
        ds = _ct_header(study, series, frame_of_reference, now, patient_name, patient_id)
        ds.SOPInstanceUID = new_uid(uid_root)
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [format_ds(v) for v in position]
        ds.ImageOrientationPatient = [format_ds(v) for v in np.r_[direction[:, 0], direction[:, 1]]]
        ds.SliceLocation = format_ds(float(position @ axes[:, 2]))
        ds.SliceThickness = format_ds(nominal)
        ds.PixelSpacing = [format_ds(spacing[1]), format_ds(spacing[0])]
        ds.Rows, ds.Columns = rows, columns
        if body is not None:
            noise = rng.integers(-20, 21, size=(rows, columns), dtype=np.int16)
            ds.add_new(0x7FE00010, "OW", (body + noise).astype("<i2").tobytes())
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        declare_explicit_little_endian(ds)
        datasets.append(ds)
    if file_order == "descending":
        datasets.reverse()
    elif file_order == "shuffled":
        datasets = [datasets[i] for i in rng.permutation(slices)]
    elif file_order != "ascending":
        raise ValueError(f"file_order must be ascending, descending or shuffled, got {file_order!r}")
    return SyntheticSeries(datasets, grid, offsets)


def _ct_header(
    study: str, series: str, frame_of_reference: str, when: datetime.datetime, patient_name: str, patient_id: str
) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = when.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = when.strftime("%H%M%S")
    ds.AccessionNumber = "SYN0001"
    ds.Modality = "CT"
    ds.Manufacturer = "SegExport synthetic"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Synthetic CT"
    ds.SeriesDescription = "Synthetic CT series"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.KVP = "120"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.Laterality = ""
    ds.PatientPosition = "HFS"
    ds.AcquisitionNumber = 1
    ds.FrameOfReferenceUID = frame_of_reference
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    return ds


def _body_phantom(rows: int, columns: int) -> np.ndarray:
    """Stored values of a simple body cross-section: air, soft tissue and a bony ring."""
    y, x = np.ogrid[:rows, :columns]
    radius = ((y - rows / 2) / (rows * 0.42)) ** 2 + ((x - columns / 2) / (columns * 0.45)) ** 2
    stored = np.where(radius <= 1, 1024 + 40, 0).astype(np.int16)
    stored[(radius > 0.75) & (radius <= 0.85)] = 1024 + 700
    return stored


def make_labelmap(
    series: SyntheticSeries, segment_count: int = 3, seed: int = 0, dtype: type = np.uint8, margin_slices: int = 1
) -> np.ndarray:
    """Ellipsoids labelled 1..``segment_count`` (later ones cut into earlier ones, so none overlap).

    The first and last ``margin_slices`` slices stay empty, so skipping empty slices has something to skip.
    """
    columns, rows, slices = series.grid.size
    rng = np.random.default_rng(seed)
    labels = np.zeros((slices, rows, columns), dtype=dtype)
    z, y, x = np.ogrid[:slices, :rows, :columns]
    first, last = min(margin_slices, slices - 1), max(slices - 1 - margin_slices, min(margin_slices, slices - 1))
    for label in range(1, segment_count + 1):
        center = (rng.uniform(first, last + 1e-9), rng.uniform(0.2, 0.8) * rows, rng.uniform(0.2, 0.8) * columns)
        radii = (
            max(1.0, rng.uniform(0.2, 0.5) * slices),
            rng.uniform(0.1, 0.3) * rows,
            rng.uniform(0.1, 0.3) * columns,
        )
        inside = ((z - center[0]) / radii[0]) ** 2 + ((y - center[1]) / radii[1]) ** 2 + (
            (x - center[2]) / radii[2]
        ) ** 2 <= 1
        inside[:first] = False
        inside[last + 1 :] = False
        labels[inside] = label
    return labels
