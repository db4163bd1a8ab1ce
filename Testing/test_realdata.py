"""Real third-party data: SEGs written from dcmqi's own inputs decode like the SEGs dcmqi writes.

Inputs are the labelmaps and metainfo files of dcmqi's test suite on a real GE CT
(`../shared/testdata/dcmqi-ct3slice`) and the odd-sized series of `dcmqi-tiny`.
dcmqi's `itkimage2segimage` writes the reference SEG from the very same inputs in the
test, so the comparison is like for like.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from SegExportLib import MultiClassReader, MultiClassWriter, SegmentReader, template, write_file
from support.oracles import dcmqi_decode, run_dciodvfy

CT3 = "dcmqi-ct3slice"

# (metainfo, labelmap) pairs from dcmqi's test recipes that hold one labelmap.
SINGLE_LABELMAP_RECIPES = [
    ("seg-example.json", "liver_seg.nrrd"),
    ("seg-example_multiple_segments_single_input_file.json", "liver_spine_seg.nrrd"),
    ("seg-example_liver_spine_gapped_merged.json", "liver_spine_gapped_seg.nrrd"),
]


def ct_files(testdata: Path) -> list[Path]:
    return sorted((testdata / CT3 / "ct").glob("*.dcm"))


def dcmqi_reference_seg(dcmqi_bin: Path, metainfo: Path, labelmap: Path, ct_folder: Path, out: Path) -> Path:
    """dcmqi's SEG from the same inputs (its own writer, as Slicer's exporter runs it)."""
    result = subprocess.run(
        [
            str(dcmqi_bin / "itkimage2segimage"),
            "--inputMetadata",
            str(metainfo),
            "--inputImageList",
            str(labelmap),
            "--inputDICOMDirectory",
            str(ct_folder),
            "--outputDICOM",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0 and out.exists(), result.stdout + result.stderr
    return out


@pytest.mark.parametrize(("metainfo_name", "labelmap_name"), SINGLE_LABELMAP_RECIPES)
def test_dcmqi_recipes_decode_like_dcmqi_output(
    testdata: Path, dcmqi: Path, dciodvfy: str, tmp_path: Path, metainfo_name: str, labelmap_name: str
) -> None:
    metainfo = testdata / CT3 / "json" / metainfo_name
    labelmap_path = testdata / CT3 / "nrrd" / labelmap_name
    labelmap = sitk.ReadImage(str(labelmap_path))
    sources = [pydicom.dcmread(p, stop_before_pixels=True) for p in ct_files(testdata)]

    writer = MultiClassWriter(template.from_dcmqi_metainfo(metainfo))
    ours = write_file(writer.write(labelmap, sources), tmp_path / "ours.dcm")
    theirs = dcmqi_reference_seg(dcmqi, metainfo, labelmap_path, testdata / CT3 / "ct", tmp_path / "dcmqi.dcm")

    assert run_dciodvfy(ours).errors == []

    labels = sitk.GetArrayFromImage(labelmap)
    ours_read = SegmentReader().read(ours, ct_files(testdata))
    theirs_read = SegmentReader().read(theirs, ct_files(testdata))
    label_of = {number: label for label, number in writer.last_report.segment_numbers.items()}
    assert sorted(ours_read.available_segments) == sorted(label_of)
    # dcmqi numbers segments 1..N in ascending label order too.
    for number, label in label_of.items():
        expected = (labels == label).astype(np.uint8)
        np.testing.assert_array_equal(ours_read.segment_data(number), expected)
        np.testing.assert_array_equal(theirs_read.segment_data(number), expected)
        ours_info, theirs_info = ours_read.segment_infos[number], theirs_read.segment_infos[number]
        for keyword in ("SegmentLabel", "SegmentAlgorithmType", "RecommendedDisplayCIELabValue"):
            assert ours_info.get(keyword) == theirs_info.get(keyword), keyword
        for keyword in ("SegmentedPropertyCategoryCodeSequence", "SegmentedPropertyTypeCodeSequence"):
            assert ours_info[keyword][0].CodeValue == theirs_info[keyword][0].CodeValue

    decoded = dcmqi_decode(ours, tmp_path / "dcmqi-read")
    assert sorted(decoded) == sorted(label_of)
    for number, image in decoded.items():
        on_grid = sitk.Resample(image, labelmap, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(on_grid) != 0, labels == label_of[number])


def test_liver_matches_the_seg_dcmqi_shipped(testdata: Path) -> None:
    labelmap = sitk.ReadImage(str(testdata / CT3 / "nrrd" / "liver_seg.nrrd"))
    sources = ct_files(testdata)
    ours = MultiClassWriter(template.from_dcmqi_metainfo(testdata / CT3 / "json" / "seg-example.json")).write(
        labelmap, sources
    )
    shipped = MultiClassReader().read(testdata / CT3 / "seg" / "liver.dcm", sources)
    np.testing.assert_array_equal(MultiClassReader().read(ours, sources).data, shipped.data)
    assert shipped.data.sum() > 0


@pytest.mark.parametrize("size", ["23x38x3", "24x38x3"])
@pytest.mark.parametrize("source_kind", ["image", "multiframe"])
def test_odd_frame_sizes_and_multiframe_sources(
    testdata: Path, dciodvfy: str, tmp_path: Path, size: str, source_kind: str
) -> None:
    folder = testdata / "dcmqi-tiny" / size
    if source_kind == "multiframe" and not (folder / "multiframe" / "mf.dcm").exists():
        pytest.skip(f"{folder}/multiframe/mf.dcm is not in the test data")
    labelmap = sitk.ReadImage(str(folder / "nrrd" / "label.nrrd"))
    sources = sorted((folder / source_kind).glob("*.dcm"))
    metainfo = testdata / CT3 / "json" / "seg-example.json"
    for skip_empty in (True, False):
        dataset = MultiClassWriter(template.from_dcmqi_metainfo(metainfo), skip_empty_slices=skip_empty).write(
            labelmap, sources
        )
        path = write_file(dataset, tmp_path / f"seg-{skip_empty}.dcm")
        assert run_dciodvfy(path).errors == []
        np.testing.assert_array_equal(MultiClassReader().read(path, sources).data, sitk.GetArrayFromImage(labelmap))
        references = [
            item.DerivationImageSequence[0].SourceImageSequence[0]
            for item in pydicom.dcmread(path).PerFrameFunctionalGroupsSequence
        ]
        if source_kind == "multiframe":
            assert all("ReferencedFrameNumber" in reference for reference in references)
        else:
            assert not any("ReferencedFrameNumber" in reference for reference in references)
    shipped = MultiClassReader().read(folder / "seg" / "label.seg", sorted((folder / "image").glob("*.dcm")))
    np.testing.assert_array_equal(shipped.data, sitk.GetArrayFromImage(labelmap))
