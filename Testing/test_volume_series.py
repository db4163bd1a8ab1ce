"""A reference volume without DICOM, written as a new CT or MR series that a SEG can refer to."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from SegExportLib import MultiClassWriter, write_file
from SegExportLib.errors import OutputExistsError, SegExportError
from SegExportLib.template import SegmentDescription, Template
from SegExportLib.volume_series import PatientInfo, StudyInfo, write_volume_series
from support.oracles import run_dcentvfy, run_dciodvfy

PATIENT = PatientInfo("Doe^Jane", "RES-001", "19800101", "F")


def volume(pixel_type: int = sitk.sitkInt16) -> sitk.Image:
    rng = np.random.default_rng(1)
    array = rng.integers(-1000, 1500, size=(5, 12, 10)).astype(
        sitk.GetArrayViewFromImage(sitk.Image(1, 1, 1, pixel_type)).dtype
    )
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.7, 0.9, 2.5))
    image.SetOrigin((10.0, -20.0, 30.0))
    direction = sitk.VersorTransform((0.2, 0.5, 0.1), 0.4).GetMatrix()  # an oblique volume
    image.SetDirection(direction)
    return image


@pytest.mark.parametrize("modality", ["CT", "MR"])
def test_the_new_series_is_valid_and_holds_the_volume(tmp_path: Path, modality: str, dciodvfy: str) -> None:
    image = volume()
    files = write_volume_series(image, tmp_path / "series", PATIENT, StudyInfo("Research"), modality=modality)
    assert len(files) == 5
    for path in files:
        assert run_dciodvfy(path).errors == []
    header = pydicom.dcmread(files[0], stop_before_pixels=True)
    assert (header.Modality, str(header.PatientName), header.PatientID) == (modality, "Doe^Jane", "RES-001")
    assert (header.PatientBirthDate, header.PatientSex, header.StudyDescription) == ("19800101", "F", "Research")
    back = sitk.ReadImage([str(p) for p in files])
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(image))
    np.testing.assert_allclose(back.GetOrigin(), image.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(back.GetSpacing(), image.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(back.GetDirection(), image.GetDirection(), atol=1e-5)


def test_a_seg_on_the_new_series_passes_both_validators(tmp_path: Path, dciodvfy: str) -> None:
    image = volume()
    files = write_volume_series(image, tmp_path / "series", PATIENT, StudyInfo("Research"))
    labels = (sitk.GetArrayFromImage(image) > 500).astype(np.uint8)
    label_image = sitk.GetImageFromArray(labels)
    label_image.CopyInformation(image)
    template = Template([SegmentDescription(1, label="Bright", algorithm_type="MANUAL")])
    seg = write_file(MultiClassWriter(template).write(label_image, files), tmp_path / "seg.dcm")
    assert run_dciodvfy(seg).errors == []
    assert run_dcentvfy(seg, files).errors == []


def test_float_volumes_are_stored_with_a_rescale_that_gives_them_back(tmp_path: Path) -> None:
    image = sitk.Cast(volume(), sitk.sitkFloat32) / 7.0
    files = write_volume_series(image, tmp_path / "series", PATIENT, StudyInfo())
    back = sitk.ReadImage([str(p) for p in files], sitk.sitkFloat64)
    original = sitk.GetArrayFromImage(image)
    slope = float(pydicom.dcmread(files[0], stop_before_pixels=True).RescaleSlope)
    assert np.abs(sitk.GetArrayFromImage(back) - original).max() <= slope / 2 + 1e-6


def test_existing_folders_and_bad_details_are_refused(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something.txt").write_text("keep")
    with pytest.raises(OutputExistsError, match="not an empty folder"):
        write_volume_series(volume(), tmp_path / "full", PATIENT, StudyInfo())
    assert (tmp_path / "full" / "something.txt").read_text() == "keep"
    with pytest.raises(SegExportError, match="patient ID is required"):
        write_volume_series(volume(), tmp_path / "a", PatientInfo("X", " "), StudyInfo())
    with pytest.raises(SegExportError, match="YYYYMMDD"):
        write_volume_series(volume(), tmp_path / "b", PatientInfo("X", "1", "1.1.1980"), StudyInfo())
    with pytest.raises(SegExportError, match="choose CT or MR"):
        write_volume_series(volume(), tmp_path / "c", PATIENT, StudyInfo(), modality="US")
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no half-written staging folders
