"""Quick header reading: the scan must give exactly what pydicom reads, or step aside for pydicom."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian

from SegExportLib.errors import SourceSeriesError
from SegExportLib.headers import WANTED_TAGS, read_geometry_header, read_source_headers
from SegExportLib.source import SourceSeries
from SegExportLib.synthetic import make_ct_series

PYDICOM_3 = pydicom.__version__.startswith("3")


def save(dataset: Dataset, path: Path, syntax: str | None = None) -> None:
    """Save under ``syntax`` (re-encoding the dataset), on pydicom 2 and 3."""
    if syntax is not None:
        dataset.file_meta.TransferSyntaxUID = syntax
    if PYDICOM_3:
        dataset.save_as(path, enforce_file_format=True, implicit_vr=None, little_endian=None)
    else:
        uid = dataset.file_meta.TransferSyntaxUID
        dataset.is_implicit_VR, dataset.is_little_endian = uid.is_implicit_VR, uid.is_little_endian
        dataset.save_as(path, write_like_original=False)


def assert_same_wanted_values(scanned: Dataset, path: Path) -> None:
    full = pydicom.dcmread(path, stop_before_pixels=True)
    for tag in WANTED_TAGS:
        assert scanned[tag].value == full[tag].value, f"{full[tag].keyword} of {path.name}"
    assert "PatientName" not in scanned and scanned.filename == str(path)


@pytest.fixture
def ct_files(tmp_path: Path) -> list[Path]:
    return make_ct_series(rows=24, columns=20, slices=5, orientation="oblique").write(tmp_path / "ct")


@pytest.mark.parametrize("syntax", [None, ImplicitVRLittleEndian])
def test_the_scan_reads_what_pydicom_reads(ct_files: list[Path], tmp_path: Path, syntax: str | None) -> None:
    for path in ct_files:
        if syntax is not None:
            save(pydicom.dcmread(path), path, syntax)
        scanned = read_geometry_header(str(path))
        assert scanned is not None, "explicit and implicit VR little endian CT files take the quick path"
        assert_same_wanted_values(scanned, path)


def test_the_scan_reads_real_ct_files_as_pydicom_does(testdata: Path) -> None:
    """Every CT image of ../shared/testdata (GE, Siemens syngo, dcmqi's and pydicom's, explicit and implicit VR)."""
    scanned_count = 0
    for path in sorted(p for p in testdata.rglob("*") if p.is_file()):
        try:
            full = pydicom.dcmread(path, stop_before_pixels=True)
        except pydicom.errors.InvalidDicomError:
            continue
        scanned = read_geometry_header(str(path))
        if full.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2":
            assert scanned is not None, f"{path} is a plain CT image"
            assert_same_wanted_values(scanned, path)
            scanned_count += 1
        else:
            assert scanned is None, f"{path} ({full.SOPClassUID.name}) is not a single-frame image"
    assert scanned_count >= 10


def test_a_series_read_quickly_is_the_series_read_in_full(ct_files: list[Path]) -> None:
    quick = read_source_headers(ct_files)
    assert "PatientName" in quick[0] and all("PatientName" not in ds for ds in quick[1:])
    full = SourceSeries.from_datasets([pydicom.dcmread(p, stop_before_pixels=True) for p in ct_files])
    from_quick, from_paths = SourceSeries.from_datasets(quick), SourceSeries.from_datasets(ct_files)
    for series in (from_quick, from_paths):
        assert series.instances == full.instances
        assert [p.sop_instance_uid for p in series.planes] == [p.sop_instance_uid for p in full.planes]
        np.testing.assert_array_equal([p.position for p in series.planes], [p.position for p in full.planes])
        assert series.image_orientation == full.image_orientation and series.pixel_spacing == full.pixel_spacing
        assert series.header.PatientID == full.header.PatientID


def with_undefined_length_sequence(dataset: Dataset) -> None:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = "1", "99TEST", "test"
    dataset.ProcedureCodeSequence = DicomSequence([item])  # (0008,1032): before the geometry
    dataset["ProcedureCodeSequence"].is_undefined_length = True


def with_frames(dataset: Dataset) -> None:
    dataset.NumberOfFrames = 1


def as_secondary_capture(dataset: Dataset) -> None:
    dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"


def without_position(dataset: Dataset) -> None:
    del dataset.ImagePositionPatient


@pytest.mark.parametrize(
    ("change", "syntax"),
    [
        (with_undefined_length_sequence, None),
        (with_frames, None),
        (as_secondary_capture, None),
        (without_position, None),
        (None, DeflatedExplicitVRLittleEndian),
    ],
    ids=["undefined-length sequence", "NumberOfFrames", "secondary capture", "no position", "deflated"],
)
def test_files_the_scan_does_not_handle_go_to_pydicom(ct_files: list[Path], change: object, syntax: str | None) -> None:
    path = ct_files[1]
    dataset = pydicom.dcmread(path)
    if change is not None:
        change(dataset)  # type: ignore[operator]
    save(dataset, path, syntax)
    assert read_geometry_header(str(path)) is None
    read = read_source_headers([ct_files[0], path])[1]
    assert read.SOPInstanceUID == dataset.SOPInstanceUID and "PatientName" in read  # read in full by pydicom


@pytest.mark.parametrize("syntax", [ExplicitVRBigEndian, "1.2.840.10008.1.2.4.95"], ids=["big endian", "JPIP deflate"])
def test_big_endian_and_jpip_deflate_files_are_not_scanned(ct_files: list[Path], syntax: str) -> None:
    """The scan refuses on the transfer syntax alone (pydicom 3 no longer writes big endian datasets, so only the
    file meta is rewritten here)."""
    data = ct_files[1].read_bytes()
    body = data[144 + int.from_bytes(data[140:144], "little") :]  # after the file meta group
    dataset = pydicom.dcmread(ct_files[1], stop_before_pixels=True)
    dataset.file_meta.TransferSyntaxUID = syntax
    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    write_file_meta_info(meta, dataset.file_meta, enforce_standard=True)
    ct_files[1].write_bytes(data[:132] + meta.getvalue() + body)
    assert pydicom.dcmread(ct_files[1], stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax
    assert read_geometry_header(str(ct_files[1])) is None


def test_truncated_and_foreign_files_are_left_to_pydicom_which_names_them(ct_files: list[Path], tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(ct_files[1].read_bytes()[:300])
    text = tmp_path / "notes.dcm"
    text.write_text("not DICOM")
    for path in (truncated, text):
        assert read_geometry_header(str(path)) is None
        with pytest.raises(SourceSeriesError, match=path.name):
            SourceSeries.from_datasets([ct_files[0], path])


def test_series_search_reads_descriptions_as_pydicom_does(ct_files: list[Path], tmp_path: Path) -> None:
    """find_series scans the headers quickly; its series fields must be pydicom's, non-ASCII text included."""
    from SegExportLib.series_folder import find_series

    for index, path in enumerate(ct_files):
        dataset = pydicom.dcmread(path)
        dataset.SpecificCharacterSet = "ISO_IR 192"
        dataset.SeriesDescription = "Thorax, Kontrast äöü"
        save(dataset, path, ImplicitVRLittleEndian if index % 2 else None)
    (found,) = find_series(ct_files[0].parent)
    full = pydicom.dcmread(ct_files[0], stop_before_pixels=True)
    assert (found.series_instance_uid, found.modality, found.description, found.number) == (
        full.SeriesInstanceUID,
        full.Modality,
        "Thorax, Kontrast äöü",
        str(full.SeriesNumber),
    )
    assert found.files == sorted(ct_files)
