"""What a written SEG contains: the IOD's attributes, consistent frames, and nothing else of the source."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

import SegExportLib
from SegExportLib import MultiClassReader, MultiClassWriter, dataset_to_bytes, write_file
from SegExportLib.codes import Code
from SegExportLib.synthetic import make_ct_series, make_labelmap
from SegExportLib.template import SegmentDescription, Template
from support.hostile import record
from support.oracles import run_dciodvfy

# Identifying or irrelevant attributes a source may carry that a SEG must not copy.
STUFFING = {
    "OtherPatientIDs": "OTHER-ID-4711",
    "PatientAddress": "1 Secret Lane, Hometown",
    "PatientTelephoneNumbers": "+1-555-0100",
    "PatientMotherBirthName": "Maiden^Name",
    "EthnicGroup": "Stuffed",
    "PatientComments": "confidential remark",
    "InstitutionName": "Hospital of Secrets",
    "InstitutionAddress": "2 Hidden Road",
    "OperatorsName": "Operator^Olga",
    "PerformingPhysicianName": "Doctor^Dolittle",
    "StationName": "CT-SECRET-01",
    "DeviceSerialNumber": "SN-99999",
    "RequestingPhysician": "Requesting^Rita",
    "ImageComments": "image remark",
    "AdditionalPatientHistory": "history remark",
    "PatientWeight": "81.5",
}
PRIVATE_VALUE = "PRIVATE-LEAK-CHECK"

# Top-level attributes a BINARY SEG from MultiClassWriter may carry (IOD modules we write).
ALLOWED = {
    "SpecificCharacterSet",
    "ImageType",
    "InstanceCreationDate",
    "InstanceCreationTime",
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyDate",
    "SeriesDate",
    "ContentDate",
    "StudyTime",
    "SeriesTime",
    "ContentTime",
    "AccessionNumber",
    "Modality",
    "Manufacturer",
    "ReferringPhysicianName",
    "StudyDescription",
    "SeriesDescription",
    "ManufacturerModelName",
    "ReferencedSeriesSequence",
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientIdentityRemoved",
    "DeidentificationMethod",
    "DeidentificationMethodCodeSequence",
    "ClinicalTrialSponsorName",
    "ClinicalTrialProtocolID",
    "ClinicalTrialProtocolName",
    "ClinicalTrialSiteID",
    "ClinicalTrialSiteName",
    "ClinicalTrialSubjectID",
    "ClinicalTrialSubjectReadingID",
    "ClinicalTrialTimePointID",
    "ClinicalTrialCoordinatingCenterName",
    "ClinicalTrialSeriesID",
    "BodyPartExamined",
    "DeviceSerialNumber",
    "SoftwareVersions",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "StudyID",
    "SeriesNumber",
    "InstanceNumber",
    "FrameOfReferenceUID",
    "PositionReferenceIndicator",
    "DimensionOrganizationSequence",
    "DimensionIndexSequence",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "NumberOfFrames",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "LossyImageCompression",
    "ContentLabel",
    "ContentDescription",
    "ContentCreatorName",
    "SegmentationType",
    "SegmentsOverlap",
    "SegmentSequence",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
    "PixelData",
}


def organ(label_id: int, **changes: object) -> SegmentDescription:
    values = {
        "label_id": label_id,
        "label": f"Organ {label_id}",
        "algorithm_type": "MANUAL",
        "category": Code("123037004", "SCT", "Anatomical Structure"),
        "type": Code("10200004", "SCT", "Liver"),
    }
    values.update(changes)
    return SegmentDescription(**values)  # type: ignore[arg-type]


@pytest.fixture
def series():  # type: ignore[no-untyped-def]
    built = make_ct_series(rows=20, columns=18, slices=6)
    for dataset in built.datasets:
        for keyword, value in STUFFING.items():
            setattr(dataset, keyword, value)
        block = dataset.private_block(0x0029, "LEAKY VENDOR", create=True)
        block.add_new(0x10, "LO", PRIVATE_VALUE)
        dataset.add_new(0x00091010, "LO", PRIVATE_VALUE)
    return built


def write(series, segments: list[SegmentDescription], **options: object) -> Dataset:  # type: ignore[no-untyped-def]
    labels = make_labelmap(series, segment_count=len(segments), seed=2)
    tpl = Template(segments, **{k: v for k, v in options.items() if k not in ("uid_root", "inplane_cropping")})
    writer_options = {k: v for k, v in options.items() if k in ("uid_root", "inplane_cropping")}
    return MultiClassWriter(tpl, **writer_options).write(series.labelmap_image(labels), series.datasets)  # type: ignore[arg-type]


def test_only_iod_attributes_and_no_private_or_stuffed_data(series) -> None:  # type: ignore[no-untyped-def]
    dataset = write(series, [organ(1), organ(2)])
    data = dataset_to_bytes(dataset)
    parsed = pydicom.dcmread(io.BytesIO(data))
    assert set(parsed.dir()) <= ALLOWED, set(parsed.dir()) - ALLOWED
    assert not any(element.tag.is_private for element in parsed.iterall())
    for value in [*STUFFING.values(), PRIVATE_VALUE, "LEAKY VENDOR"]:
        assert value.encode() not in data, value
    assert parsed.DeviceSerialNumber != STUFFING["DeviceSerialNumber"]
    record(
        "source series stuffed with private tags and extra identifying data",
        len(STUFFING) + 2,
        {"not copied into the SEG": len(STUFFING) + 2},
        f"{len(STUFFING)} identifying attributes ({', '.join(sorted(STUFFING)[:4])}, ...) and 2 private elements",
    )


def test_patient_study_and_frame_of_reference_come_from_the_source(series) -> None:  # type: ignore[no-untyped-def]
    source = series.datasets[0]
    dataset = write(series, [organ(1)])
    for keyword in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyID",
        "StudyDescription",
        "FrameOfReferenceUID",
        "PositionReferenceIndicator",
    ):
        assert dataset.get(keyword) == source.get(keyword), keyword
    assert dataset.SeriesInstanceUID != source.SeriesInstanceUID
    assert dataset.Modality == "SEG"


def test_equipment_names_segexport_and_its_version(series) -> None:  # type: ignore[no-untyped-def]
    dataset = write(series, [organ(1)])
    assert dataset.Manufacturer == "SegExport"
    assert dataset.ManufacturerModelName == "SegExport"
    assert dataset.SoftwareVersions == SegExportLib.__version__


def test_uids_are_fresh_and_follow_the_root(series) -> None:  # type: ignore[no-untyped-def]
    first, second = write(series, [organ(1)]), write(series, [organ(1)])
    assert first.SOPInstanceUID != second.SOPInstanceUID and first.SeriesInstanceUID != second.SeriesInstanceUID
    assert first.SOPInstanceUID.startswith("2.25.")
    rooted = write(series, [organ(1)], uid_root="1.2.826.0.1.3680043.10.1234.")
    for uid in (
        rooted.SOPInstanceUID,
        rooted.SeriesInstanceUID,
        rooted.file_meta.MediaStorageSOPInstanceUID,
        rooted.DimensionOrganizationSequence[0].DimensionOrganizationUID,
    ):
        assert uid.startswith("1.2.826.0.1.3680043.10.1234.") and len(uid) <= 64


def test_segment_label_falls_back_to_description_then_number(series) -> None:  # type: ignore[no-untyped-def]
    dataset = write(series, [organ(1), organ(2, label=None, description="Left lobe"), organ(3, label=None)])
    assert [s.SegmentLabel for s in dataset.SegmentSequence] == ["Organ 1", "Left lobe", "Segment 3"]
    assert [int(s.SegmentNumber) for s in dataset.SegmentSequence] == [1, 2, 3]


def test_segment_codes_colour_anatomy_and_tracking(series) -> None:  # type: ignore[no-untyped-def]
    segment = organ(
        1,
        algorithm_type="SEMIAUTOMATIC",
        algorithm_name="GrowCut",
        display_rgb=(221, 130, 101),
        type_modifier=Code("7771000", "SCT", "Left"),
        anatomic_region=Code("818981001", "SCT", "Abdomen"),
        anatomic_region_modifier=Code("24028007", "SCT", "Right"),
        tracking_id="lesion-1",
        tracking_uid="1.2.3.4.5",
    )
    item = write(series, [segment]).SegmentSequence[0]
    assert item.SegmentAlgorithmName == "GrowCut"
    assert item.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence[0].CodeMeaning == "Left"
    assert item.AnatomicRegionSequence[0].AnatomicRegionModifierSequence[0].CodeValue == "24028007"
    assert list(item.RecommendedDisplayCIELabValue) == list(segment.cielab())
    assert (item.TrackingID, item.TrackingUID) == ("lesion-1", "1.2.3.4.5")


def test_long_code_values_go_to_long_code_value(series) -> None:  # type: ignore[no-untyped-def]
    item = write(series, [organ(1, type=Code("12345678901234567890", "99LOCAL", "Long coded thing"))]).SegmentSequence[
        0
    ]
    code = item.SegmentedPropertyTypeCodeSequence[0]
    assert code.LongCodeValue == "12345678901234567890" and "CodeValue" not in code


def test_urn_code_values_go_to_urn_code_value(series) -> None:  # type: ignore[no-untyped-def]
    urn = "urn:oid:2.16.840.1.113883.6.96"
    item = write(series, [organ(1, type=Code(urn, "URN", "Coded by URN"))]).SegmentSequence[0]
    code = item.SegmentedPropertyTypeCodeSequence[0]
    assert code.URNCodeValue == urn and code["URNCodeValue"].VR == "UR" and "CodeValue" not in code


def test_series_and_clinical_trial_fields_from_the_template(series, tmp_path: Path, dciodvfy: str) -> None:  # type: ignore[no-untyped-def]
    dataset = write(
        series,
        [organ(1)],
        series_description="AI organs",
        series_number=42,
        instance_number=3,
        content_creator_name="Reader^Rita",
        clinical_trial_series_id="S1",
        clinical_trial_time_point_id="T1",
        body_part_examined="ABDOMEN",
        content_label="ORGANS",
    )
    assert (dataset.SeriesDescription, dataset.SeriesNumber, dataset.InstanceNumber) == ("AI organs", 42, 3)
    assert (dataset.ClinicalTrialSeriesID, dataset.ClinicalTrialTimePointID) == ("S1", "T1")
    assert dataset.ClinicalTrialCoordinatingCenterName == ""
    assert (dataset.BodyPartExamined, dataset.ContentLabel, str(dataset.ContentCreatorName)) == (
        "ABDOMEN",
        "ORGANS",
        "Reader^Rita",
    )
    assert run_dciodvfy(write_file(dataset, tmp_path / "seg.dcm")).errors == []


def test_non_ascii_text_is_written_as_utf8(series, tmp_path: Path, dciodvfy: str) -> None:  # type: ignore[no-untyped-def]
    for dataset in series.datasets:
        dataset.PatientName = "Müller^Jürgen"
    path = write_file(write(series, [organ(1, label="Leber (rechts) – Läsion")]), tmp_path / "seg.dcm")
    parsed = pydicom.dcmread(path)
    assert parsed.SpecificCharacterSet == "ISO_IR 192"
    assert parsed.SegmentSequence[0].SegmentLabel == "Leber (rechts) – Läsion"
    assert str(parsed.PatientName) == "Müller^Jürgen"
    assert run_dciodvfy(path).errors == []


@pytest.mark.parametrize("cropping", [False, True])
def test_frames_reference_the_source_instance_at_their_position(series, cropping: bool) -> None:  # type: ignore[no-untyped-def]
    dataset = pydicom.dcmread(
        io.BytesIO(dataset_to_bytes(write(series, [organ(1), organ(2)], inplane_cropping=cropping)))
    )
    by_uid = {d.SOPInstanceUID: d for d in series.datasets}
    indices = [
        tuple(int(v) for v in f.FrameContentSequence[0].DimensionIndexValues)
        for f in dataset.PerFrameFunctionalGroupsSequence
    ]
    position_of_index: dict[int, tuple[float, ...]] = {}
    row_dir = np.array(
        [
            float(v)
            for v in dataset.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient[:3]
        ]
    )
    for frame, (segment, position_index) in zip(dataset.PerFrameFunctionalGroupsSequence, indices):
        assert segment == frame.SegmentIdentificationSequence[0].ReferencedSegmentNumber
        source = frame.DerivationImageSequence[0].SourceImageSequence[0]
        assert source.SpatialLocationsPreserved == "YES"
        assert source.PurposeOfReferenceCodeSequence[0].CodeValue == "121322"
        frame_position = np.array([float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient])
        source_position = np.array([float(v) for v in by_uid[source.ReferencedSOPInstanceUID].ImagePositionPatient])
        offset = frame_position - source_position
        if not cropping:
            np.testing.assert_allclose(offset, 0, atol=1e-4)
        else:
            normal = np.cross(
                row_dir,
                [
                    float(v)
                    for v in dataset.SharedFunctionalGroupsSequence[0]
                    .PlaneOrientationSequence[0]
                    .ImageOrientationPatient[3:]
                ],
            )
            assert abs(offset @ normal) < 1e-4  # same plane, shifted within it
        assert position_of_index.setdefault(position_index, tuple(frame_position.round(3))) == tuple(
            frame_position.round(3)
        )
    assert indices == sorted(indices)  # dimension order: segment, then position
    assert [p.DimensionIndexPointer for p in dataset.DimensionIndexSequence] == [0x0062000B, 0x00200032]
    assert dataset.SegmentsOverlap == "NO"
    assert len(dataset.ReferencedSeriesSequence[0].ReferencedInstanceSequence) == len(series.datasets)


def test_plain_save_as_gives_a_standard_file(series, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dataset = write(series, [organ(1)])
    dataset.save_as(tmp_path / "plain.dcm")
    raw = (tmp_path / "plain.dcm").read_bytes()
    assert raw[128:132] == b"DICM"
    assert MultiClassReader().read(tmp_path / "plain.dcm").data.any()


def test_edits_after_writing_still_save(series, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dataset = write(series, [organ(1)])
    dataset.SeriesDescription = "edited"
    dataset.PerFrameFunctionalGroupsSequence[0].FrameContentSequence[0].FrameAcquisitionNumber = 1
    path = write_file(dataset, tmp_path / "seg.dcm")
    parsed = pydicom.dcmread(path)
    assert parsed.SeriesDescription == "edited"
    assert parsed.PerFrameFunctionalGroupsSequence[0].FrameContentSequence[0].FrameAcquisitionNumber == 1


@pytest.mark.parametrize("patient_name", ["Plain^Name", "Müller^Jürgen"])
def test_pre_encoded_frame_groups_are_written_as_they_are(series, patient_name: str) -> None:  # type: ignore[no-untyped-def]
    """pydicom must not decode and re-encode the per-frame groups (the slow path of every other writer)."""
    from pydicom.dataelem import RawDataElement

    for dataset in series.datasets:
        dataset.PatientName = patient_name
    dataset = write(series, [organ(1)])
    dataset_to_bytes(dataset)
    assert isinstance(dataset.get_item(0x52009230), RawDataElement)
