"""Writing a volume that did not come from DICOM as a new CT or MR series, so a SEG can refer to it.

A SEG must point at source images. When the reference volume is a NRRD or NIfTI file (or a
Slicer volume loaded from one), :func:`write_volume_series` first writes it as a new, valid
single-frame CT or MR series in a new study, with the patient and study details the user gives;
the SEG written next goes into that study.

>>> paths = write_volume_series(ct_image, "out/ct", PatientInfo("Doe^Jane", "P-001"),
...                             StudyInfo(description="Research CT"))           # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from ._version import __version__
from .errors import OutputExistsError, OutputWriteError, SegExportError
from .fileio import declare_explicit_little_endian, save_dataset
from .geometry import Grid
from .rawencode import format_ds
from .uid import new_uid

SOP_CLASSES = {"CT": "1.2.840.10008.5.1.4.1.1.2", "MR": "1.2.840.10008.5.1.4.1.1.4"}
_SEXES = ("M", "F", "O", "")


@dataclass
class PatientInfo:
    """The patient the new series belongs to (PatientName in DICOM's ``Family^Given`` form)."""

    name: str
    patient_id: str
    birth_date: str = ""
    """YYYYMMDD, or empty if unknown."""
    sex: str = ""
    """M, F, O, or empty if unknown."""

    def check(self) -> None:
        problems = []
        if not self.patient_id.strip():
            problems.append("a patient ID is required (use a research or pseudonymous ID)")
        if len(self.patient_id) > 64:
            problems.append(f"the patient ID has {len(self.patient_id)} characters; DICOM allows 64")
        if self.birth_date and not (len(self.birth_date) == 8 and self.birth_date.isdigit()):
            problems.append(f"birth date {self.birth_date!r} must be YYYYMMDD")
        if self.sex not in _SEXES:
            problems.append(f"sex {self.sex!r} must be M, F, O or empty")
        if problems:
            raise SegExportError("patient details: " + "; ".join(problems))


@dataclass
class StudyInfo:
    """The new study; UIDs are generated unless given."""

    description: str = ""
    accession_number: str = ""
    study_id: str = "1"
    referring_physician: str = ""
    study_instance_uid: str | None = None
    when: datetime.datetime = field(default_factory=datetime.datetime.now)


def write_volume_series(
    image: sitk.Image,
    folder: str | os.PathLike[str],
    patient: PatientInfo,
    study: StudyInfo,
    modality: str = "CT",
    series_description: str = "",
    series_number: int = 1,
    uid_root: str | None = None,
) -> list[Path]:
    """Write ``image`` as one single-frame ``modality`` instance per slice into the new folder ``folder``.

    The folder must not exist or be empty; it appears complete or not at all. Returns the file paths, slice 0
    first. Integer voxels that fit 16 bits are stored as they are; others (floats, wider integers) are mapped
    linearly onto 16 bits with RescaleSlope/RescaleIntercept giving back the original values.
    """
    modality = modality.upper()
    if modality not in SOP_CLASSES:
        raise SegExportError(f"modality {modality!r} is not supported: choose CT or MR")
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise SegExportError("the reference volume must be a 3D scalar image")
    patient.check()
    target = Path(folder)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise OutputExistsError(f"{target} exists and is not an empty folder; choose a new folder for the series")
    stored, slope, intercept, signed = _stored_values(sitk.GetArrayViewFromImage(image))
    grid = Grid.from_image(image)
    shared = _shared_header(patient, study, modality, series_description, series_number, uid_root, grid)
    shared.PixelRepresentation = 1 if signed else 0
    identity = slope == 1 and intercept == 0
    if modality == "CT" or not identity:  # the MR IOD has no rescale: only added when values need it
        shared.RescaleSlope, shared.RescaleIntercept = format_ds(slope), format_ds(intercept)
    if modality == "CT":
        shared.RescaleType = "HU" if identity and signed else "US"
    parent = target.parent if str(target.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    try:
        names = []
        for k in range(stored.shape[0]):
            dataset = _slice_dataset(shared, grid, k, stored[k], uid_root)
            name = f"{modality}{k + 1:04d}.dcm"
            save_dataset(dataset, staging / name)
            names.append(name)
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputWriteError(f"writing the series into {target} failed: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [target / name for name in names]


def _stored_values(voxels: np.ndarray) -> tuple[np.ndarray, float, float, bool]:
    """(16-bit stored values, slope, intercept, signed) such that value = stored * slope + intercept."""
    if voxels.size == 0:
        raise SegExportError("the reference volume is empty")
    low, high = float(voxels.min()), float(voxels.max())
    if voxels.dtype.kind in "iub":
        if low >= -32768 and high <= 32767:
            return voxels.astype(np.int16), 1.0, 0.0, True
        if low >= 0 and high <= 65535:
            return voxels.astype(np.uint16), 1.0, 0.0, False
    if not np.isfinite([low, high]).all():
        raise SegExportError("the reference volume holds NaN or infinite values; replace them before export")
    slope = (high - low) / 65535 if high > low else 1.0
    stored = np.rint((voxels - low) / slope).astype(np.uint16)
    return stored, slope, low, False


def _shared_header(
    patient: PatientInfo,
    study: StudyInfo,
    modality: str,
    series_description: str,
    series_number: int,
    uid_root: str | None,
    grid: Grid,
) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL" if modality == "CT" else "OTHER"]
    ds.SOPClassUID = SOP_CLASSES[modality]
    date, time = study.when.strftime("%Y%m%d"), study.when.strftime("%H%M%S")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = time
    ds.AccessionNumber = study.accession_number
    ds.Modality = modality
    ds.Manufacturer = "SegExport"
    ds.ReferringPhysicianName = study.referring_physician
    ds.StudyDescription = study.description
    ds.SeriesDescription = series_description or f"{modality} volume written by SegExport"
    ds.ManufacturerModelName = "SegExport"
    ds.SoftwareVersions = __version__
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.StudyInstanceUID = study.study_instance_uid or new_uid(uid_root)
    ds.SeriesInstanceUID = new_uid(uid_root)
    ds.StudyID = study.study_id
    ds.SeriesNumber = series_number
    ds.Laterality = ""  # unknown: the volume came without acquisition details
    ds.PatientPosition = ""
    ds.FrameOfReferenceUID = new_uid(uid_root)
    ds.PositionReferenceIndicator = ""
    ds.ImageOrientationPatient = [format_ds(v) for v in np.r_[grid.direction[:, 0], grid.direction[:, 1]]]
    ds.PixelSpacing = [format_ds(grid.spacing[1]), format_ds(grid.spacing[0])]
    ds.SliceThickness = format_ds(grid.spacing[2])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = grid.size[1], grid.size[0]
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    if modality == "CT":
        ds.KVP = ""
        ds.AcquisitionNumber = None
    else:
        ds.ScanningSequence = "RM"  # research mode: the acquisition is unknown
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = ""
        ds.RepetitionTime = None
        ds.EchoTime = None
        ds.EchoTrainLength = None
    return ds


def _slice_dataset(shared: Dataset, grid: Grid, k: int, pixels: np.ndarray, uid_root: str | None) -> Dataset:
    dataset = shared.copy()  # shallow: per-slice elements are set anew below, shared ones are not changed
    dataset.SOPInstanceUID = new_uid(uid_root)
    dataset.InstanceNumber = k + 1
    position = grid.slice_position(k)
    dataset.ImagePositionPatient = [format_ds(v) for v in position]
    dataset.add_new(0x7FE00010, "OW", pixels.astype(pixels.dtype.newbyteorder("<"), copy=False).tobytes())
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.preamble = b"\0" * 128
    declare_explicit_little_endian(dataset)
    return dataset
