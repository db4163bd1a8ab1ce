"""The ``segexport`` command: Slicer .seg.nrrd and labelmap input, series folders, resampling, exit codes.

Every SEG written here passes dciodvfy and decodes, in our reader, dcmqi (what Slicer uses) and highdicom, to the
voxels of its input; segment names, codes and colours come through.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from SegExportLib import SegmentReader
from SegExportLib.color import cielab_to_rgb
from SegExportLib.source import SourceSeries
from SegExportLib.synthetic import make_ct_series, make_labelmap
from SegExportLib.template import SegmentDescription, Template
from support.hostile import record
from support.oracles import dcmqi_decode, highdicom_decode, masks_by_instance_from_volume, run_dcentvfy, run_dciodvfy

PROJECT = Path(__file__).resolve().parents[1]


def segexport(*arguments: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m SegExportLib`` as a user would, in a fresh process."""
    environment = {**os.environ, "PYTHONPATH": str(PROJECT / "SegExport"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "SegExportLib", *map(str, arguments)],
        capture_output=True,
        text=True,
        env=environment,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def export_from_slicer_sample(slicerio_data: Path, tmp_path: Path, name: str, *extra: str) -> tuple[Path, list[Path]]:
    result = segexport(
        "export",
        slicerio_data / name,
        "--volume",
        slicerio_data / "CTChest4.nrrd",
        "--volume-output",
        tmp_path / "ct",
        "--patient-name",
        "Sample^Chest",
        "--patient-id",
        "SLICERIO-CT",
        "-o",
        tmp_path / "seg.dcm",
        *extra,
    )
    assert result.returncode == 0, result.stderr
    return tmp_path / "seg.dcm", sorted((tmp_path / "ct").glob("*.dcm"))


@pytest.mark.parametrize("name", ["Segmentation.seg.nrrd", "SegmentationOverlapping.seg.nrrd"])
def test_slicer_seg_nrrd_exports_with_its_voxels_names_codes_and_colours(
    tmp_path: Path, slicerio_data: Path, name: str, dciodvfy: str, dcmqi: Path, highdicom_oracle: str
) -> None:
    import slicerio

    seg_path, ct_files = export_from_slicer_sample(slicerio_data, tmp_path, name)
    assert run_dciodvfy(seg_path).errors == []
    assert run_dcentvfy(seg_path, ct_files).errors == []
    for path in ct_files[:2]:
        assert run_dciodvfy(path).errors == []

    original = slicerio.read_segmentation(str(slicerio_data / name))
    voxels = np.asarray(original["voxels"])
    if voxels.ndim == 3:
        voxels = voxels[np.newaxis]
    dataset = pydicom.dcmread(seg_path)
    assert dataset.SegmentsOverlap == ("YES" if "Overlapping" in name else "NO")
    items = {int(item.SegmentNumber): item for item in dataset.SegmentSequence}
    assert len(items) == len(original["segments"])
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in ct_files]
    ours = SegmentReader().read(seg_path, ct_files)
    by_dcmqi = dcmqi_decode(seg_path, tmp_path / "dcmqi")
    by_highdicom = highdicom_decode(seg_path, ct_files)
    uids = [p.sop_instance_uid for p in SourceSeries.from_datasets(headers).planes]
    for number, segment in enumerate(original["segments"], start=1):
        expected = (voxels[segment["layer"]] == segment["labelValue"]).transpose(2, 1, 0)
        item = items[number]
        assert item.SegmentLabel == segment["name"]
        assert item.SegmentedPropertyTypeCodeSequence[0].CodeValue == segment["terminology"]["type"][1]
        assert item.SegmentedPropertyCategoryCodeSequence[0].CodeValue == segment["terminology"]["category"][1]
        rgb = cielab_to_rgb([int(v) for v in item.RecommendedDisplayCIELabValue])
        assert np.abs(np.array(rgb) - np.array(segment["color"]) * 255).max() <= 2
        np.testing.assert_array_equal(ours.segment_data(number), expected)
        dcmqi_masks = masks_by_instance_from_volume(by_dcmqi[number], headers)
        for k, uid in enumerate(uids):
            np.testing.assert_array_equal(dcmqi_masks[uid] != 0, expected[k])
            np.testing.assert_array_equal(by_highdicom[number].get(uid, np.zeros_like(expected[k])) != 0, expected[k])


def test_new_series_and_seg_share_the_new_study_and_the_given_patient(tmp_path: Path, slicerio_data: Path) -> None:
    seg_path, ct_files = export_from_slicer_sample(slicerio_data, tmp_path, "Segmentation.seg.nrrd")
    seg = pydicom.dcmread(seg_path, stop_before_pixels=True)
    ct = pydicom.dcmread(ct_files[0], stop_before_pixels=True)
    assert seg.StudyInstanceUID == ct.StudyInstanceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == ct.SeriesInstanceUID
    assert (str(seg.PatientName), seg.PatientID) == ("Sample^Chest", "SLICERIO-CT")
    assert (str(ct.PatientName), ct.PatientID, ct.Modality) == ("Sample^Chest", "SLICERIO-CT", "CT")
    volume = sitk.ReadImage([str(p) for p in ct_files])
    reference = sitk.ReadImage(str(slicerio_data / "CTChest4.nrrd"))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(volume), sitk.GetArrayFromImage(reference))
    np.testing.assert_allclose(volume.GetOrigin(), reference.GetOrigin(), atol=1e-4)


def labelmap_case(tmp_path: Path, slices: int = 6) -> tuple[object, np.ndarray, Path, Path]:
    series = make_ct_series(rows=40, columns=32, slices=slices, orientation="oblique")
    series.write(tmp_path / "ct")
    labels = make_labelmap(series, segment_count=3, seed=5)
    metainfo = tmp_path / "meta.json"
    Template(
        [SegmentDescription(n, label=f"Organ {n}", algorithm_type="MANUAL") for n in (1, 2, 3)],
        clinical_trial_coordinating_center_name="test",
    ).save(metainfo)
    return series, labels, metainfo, tmp_path / "ct"


def decoded(seg_path: Path, ct_folder: Path) -> dict[int, np.ndarray]:
    result = SegmentReader().read(seg_path, sorted(ct_folder.glob("*.dcm")))
    return {n: result.segment_data(n) for n in sorted(result.available_segments)}


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz"])
def test_labelmap_file_with_metainfo_and_a_series_folder(tmp_path: Path, suffix: str, dciodvfy: str) -> None:
    series, labels, metainfo, ct_folder = labelmap_case(tmp_path)
    labels_path = tmp_path / f"labels{suffix}"
    sitk.WriteImage(series.labelmap_image(labels), str(labels_path))
    result = segexport("export", labels_path, "--series", ct_folder, "--metainfo", metainfo, "-o", tmp_path / "s.dcm")
    assert result.returncode == 0, result.stderr
    assert "3 segments" in result.stdout
    assert run_dciodvfy(tmp_path / "s.dcm").errors == []
    for number, data in decoded(tmp_path / "s.dcm", ct_folder).items():
        np.testing.assert_array_equal(data, labels == number)


def test_every_writer_option_reaches_the_file(tmp_path: Path) -> None:
    series, labels, metainfo, ct_folder = labelmap_case(tmp_path)
    labels_path = tmp_path / "labels.nrrd"
    sitk.WriteImage(series.labelmap_image(labels), str(labels_path))
    common = ["export", labels_path, "--series", ct_folder, "--metainfo", metainfo]
    cases = {
        "labelmap-rle": (["--type", "labelmap", "--compression", "rle"], "1.2.840.10008.1.2.5"),
        "deflate": (["--compression", "deflate"], "1.2.840.10008.1.2.1.99"),
        "crop": (["--crop", "--keep-empty-slices", "--series-description", "Options", "--series-number", "77"], None),
    }
    for name, (options, syntax) in cases.items():
        out = tmp_path / f"{name}.dcm"
        result = segexport(*common, *options, "--uid-root", "1.2.826.0.1.3680043.10.511.", "-o", out)
        assert result.returncode == 0, result.stderr
        dataset = pydicom.dcmread(out)
        assert dataset.SOPInstanceUID.startswith("1.2.826.0.1.3680043.10.511.")
        if syntax:
            assert dataset.file_meta.TransferSyntaxUID == syntax
        for number, data in decoded(out, ct_folder).items():
            np.testing.assert_array_equal(data, labels == number)
    cropped = pydicom.dcmread(tmp_path / "crop.dcm")
    assert (cropped.Rows, cropped.Columns) != (40, 32)
    assert cropped.NumberOfFrames == 3 * 6  # every slice, for every segment
    assert (cropped.SeriesDescription, cropped.SeriesNumber) == ("Options", 77)
    assert pydicom.dcmread(tmp_path / "labelmap-rle.dcm").SegmentationType == "LABELMAP"


def test_a_cropped_segmentation_is_put_back_on_the_source_grid_exactly(tmp_path: Path, dciodvfy: str) -> None:
    series, labels, metainfo, ct_folder = labelmap_case(tmp_path)
    image = series.labelmap_image(labels)
    # As Slicer saves a .seg.nrrd: cropped to the segments' extent.
    k, j, i = np.nonzero(labels)
    low = [int(i.min()), int(j.min()), int(k.min())]
    size = [int(i.max()) - low[0] + 1, int(j.max()) - low[1] + 1, int(k.max()) - low[2] + 1]
    cropped = sitk.RegionOfInterest(image, size, low)
    assert cropped.GetSize() != image.GetSize()
    sitk.WriteImage(cropped, str(tmp_path / "cropped.nrrd"))
    result = segexport(
        "export", tmp_path / "cropped.nrrd", "--series", ct_folder, "--metainfo", metainfo, "-o", tmp_path / "s.dcm"
    )
    assert result.returncode == 0, result.stderr
    assert "resampled" in result.stdout and "voxels copied exactly" in result.stdout
    assert run_dciodvfy(tmp_path / "s.dcm").errors == []
    for number, data in decoded(tmp_path / "s.dcm", ct_folder).items():
        np.testing.assert_array_equal(data, labels == number)

    refused = segexport(
        "export", tmp_path / "cropped.nrrd", "--series", ct_folder, "--metainfo", metainfo, "-o", tmp_path / "n.dcm",
        "--no-resample",
    )  # fmt: skip
    assert refused.returncode == 3
    assert "size" in refused.stderr and not (tmp_path / "n.dcm").exists()


def test_a_finer_grid_is_sampled_by_nearest_neighbour(tmp_path: Path) -> None:
    series, labels, metainfo, ct_folder = labelmap_case(tmp_path)
    image = series.labelmap_image(labels)
    # Three times finer in-plane: every source pixel centre is the centre of a fine voxel.
    fine = sitk.Expand(image, [3, 3, 1], sitk.sitkNearestNeighbor)
    fine.SetOrigin(
        list(
            np.array(image.GetOrigin())
            - np.array(image.GetDirection()).reshape(3, 3) @ (np.array(image.GetSpacing()) * [1 / 3, 1 / 3, 0])
        )
    )
    sitk.WriteImage(fine, str(tmp_path / "fine.nrrd"))
    result = segexport(
        "export", tmp_path / "fine.nrrd", "--series", ct_folder, "--metainfo", metainfo, "-o", tmp_path / "s.dcm"
    )
    assert result.returncode == 0, result.stderr
    assert "nearest neighbour" in result.stdout
    for number, data in decoded(tmp_path / "s.dcm", ct_folder).items():
        np.testing.assert_array_equal(data, labels == number)


def test_labels_outside_the_series_are_reported(tmp_path: Path) -> None:
    series, labels, metainfo, ct_folder = labelmap_case(tmp_path)
    image = series.labelmap_image(labels)
    padded = sitk.ConstantPad(image, [0, 0, 0], [0, 0, 2], 0)
    array = sitk.GetArrayFromImage(padded)
    array[-1, :3, :3] = 2  # 9 labelled voxels on a slice the series does not have
    outside = sitk.GetImageFromArray(array)
    outside.CopyInformation(padded)
    sitk.WriteImage(outside, str(tmp_path / "more.nrrd"))
    result = segexport(
        "export", tmp_path / "more.nrrd", "--series", ct_folder, "--metainfo", metainfo, "-o", tmp_path / "s.dcm"
    )
    assert result.returncode == 0, result.stderr
    assert "9 labelled voxels lie outside the source volume" in result.stdout


def test_a_folder_with_several_series_needs_a_choice(tmp_path: Path) -> None:
    series, labels, metainfo, ct_folder = labelmap_case(tmp_path)
    other = make_ct_series(rows=40, columns=32, slices=3)
    other.write(ct_folder / "other")
    (ct_folder / "notes.txt").write_text("not DICOM")
    sitk.WriteImage(series.labelmap_image(labels), str(tmp_path / "labels.nrrd"))
    common = ["export", tmp_path / "labels.nrrd", "--series", ct_folder, "--metainfo", metainfo]
    result = segexport(*common, "-o", tmp_path / "s.dcm")
    assert result.returncode == 3
    assert "--series-uid" in result.stderr
    assert str(series.datasets[0].SeriesInstanceUID) in result.stderr
    assert str(other.datasets[0].SeriesInstanceUID) in result.stderr
    chosen = segexport(*common, "--series-uid", series.datasets[0].SeriesInstanceUID, "-o", tmp_path / "s.dcm")
    assert chosen.returncode == 0, chosen.stderr


def test_exit_codes_and_nothing_is_clobbered(tmp_path: Path) -> None:
    series, labels, metainfo, ct_folder = labelmap_case(tmp_path)
    sitk.WriteImage(series.labelmap_image(labels), str(tmp_path / "labels.nrrd"))
    existing = tmp_path / "existing.dcm"
    existing.write_bytes(b"keep me")
    common = ["export", tmp_path / "labels.nrrd", "--series", ct_folder, "--metainfo", metainfo]

    result = segexport(*common, "-o", existing)
    assert result.returncode == 4 and "--overwrite" in result.stderr
    assert existing.read_bytes() == b"keep me"

    bad_metainfo = tmp_path / "bad.json"
    bad_metainfo.write_text('{"segmentAttributes": [[{"labelID": "one"}]]}')
    result = segexport("export", tmp_path / "labels.nrrd", "--series", ct_folder, "--metainfo", bad_metainfo, "-o",
                       tmp_path / "x.dcm")  # fmt: skip
    assert result.returncode == 3 and "$.segmentAttributes[0][0].labelID" in result.stderr
    assert not (tmp_path / "x.dcm").exists()

    assert segexport("export", tmp_path / "labels.nrrd", "-o", tmp_path / "x.dcm").returncode == 2  # no source
    assert segexport(*common, "-o", tmp_path / "x.dcm", "--store", "nohostport").returncode == 2
    missing = segexport("export", tmp_path / "nope.nrrd", "--series", ct_folder, "-o", tmp_path / "x.dcm")
    assert missing.returncode == 3 and "nope.nrrd does not exist" in missing.stderr
    broken = tmp_path / "broken.seg.nrrd"
    broken.write_bytes(b"NRRD0004\ntype: what\n\n")
    result = segexport("export", broken, "--series", ct_folder, "-o", tmp_path / "x.dcm")
    assert result.returncode == 3 and "broken.seg.nrrd: the NRRD header has no valid" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_tells_a_newcomer_what_to_do() -> None:
    top = segexport("--help")
    assert top.returncode == 0
    for word in ("export", "inspect", "upload", "exit codes", "SEGEXPORT_TOKEN"):
        assert word in top.stdout
    export = segexport("export", "--help")
    for option in ("--series", "--volume", "--metainfo", "--type", "--compression", "--stow", "--store", "--crop"):
        assert option in export.stdout
    assert segexport().returncode == 2


def test_the_installed_segexport_script_runs() -> None:
    script = Path(sys.executable).parent / "segexport"
    if not script.exists():
        pytest.skip("the project is not installed in this environment (pip install .)")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.startswith("segexport ")


def test_a_terminated_export_leaves_no_file_behind(tmp_path: Path) -> None:
    import signal
    import time

    series = make_ct_series(rows=512, columns=512, slices=120, pixel_data=False)
    series.write(tmp_path / "ct")
    rng = np.random.default_rng(0)
    labels = np.zeros((120, 512, 512), dtype=np.uint8)
    for label in range(1, 101):
        z, y, x = rng.integers(0, 100), rng.integers(0, 480), rng.integers(0, 480)
        labels[z : z + 20, y : y + 30, x : x + 30] = label
    sitk.WriteImage(series.labelmap_image(labels), str(tmp_path / "labels.nrrd"))
    out = tmp_path / "out"
    out.mkdir()
    command = [sys.executable, "-m", "SegExportLib", "export", str(tmp_path / "labels.nrrd"), "--series",
               str(tmp_path / "ct"), "-o", str(out / "seg.dcm"), "--compression", "deflate"]  # fmt: skip
    process = subprocess.Popen(
        command, env={**os.environ, "PYTHONPATH": str(PROJECT / "SegExport")}, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not list(out.glob("*.part")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert process.poll() is None, "the export finished before it could be interrupted while writing"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted: nothing was written" in stderr
    assert list(out.iterdir()) == []
    record("interrupted, failed or refused writes", 1, {"nothing left behind": 1}, "SIGTERM while writing")


def test_probability_maps_become_a_fractional_seg(tmp_path: Path, dciodvfy: str) -> None:
    series, labels, metainfo, ct_folder = labelmap_case(tmp_path)
    rng = np.random.default_rng(4)
    probabilities = np.where(labels == 1, rng.uniform(0.2, 1.0, labels.shape), 0).astype(np.float32)
    sitk.WriteImage(series.labelmap_image(probabilities), str(tmp_path / "probability.nrrd"))
    result = segexport("export", tmp_path / "probability.nrrd", "--series", ct_folder, "--metainfo", metainfo,
                       "--type", "fractional", "--fractional-type", "occupancy", "-o", tmp_path / "f.dcm")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "FRACTIONAL (occupancy)" in result.stdout
    assert run_dciodvfy(tmp_path / "f.dcm").errors == []
    dataset = pydicom.dcmread(tmp_path / "f.dcm")
    assert (dataset.SegmentationType, dataset.SegmentationFractionalType) == ("FRACTIONAL", "OCCUPANCY")
    decoded = SegmentReader().read(tmp_path / "f.dcm", sorted(ct_folder.glob("*.dcm"))).segment_data(1)
    assert np.abs(decoded - probabilities).max() <= 0.5 / 255 + 1e-6


def test_real_ct_and_dcmqi_inputs_give_the_seg_dcmqi_made(testdata: Path, tmp_path: Path, dciodvfy: str) -> None:
    # dcmqi's own test recipe (see ../shared/testdata/README.md): seg-example.json + liver_seg.nrrd on the GE CT.
    case = testdata / "dcmqi-ct3slice"
    result = segexport(
        "export", case / "nrrd" / "liver_seg.nrrd", "--metainfo", case / "json" / "seg-example.json",
        "--series", case / "ct", "-o", tmp_path / "liver.dcm",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert run_dciodvfy(tmp_path / "liver.dcm").errors == []
    ct_files = sorted((case / "ct").glob("*.dcm"))
    ours = SegmentReader().read(tmp_path / "liver.dcm", ct_files)
    theirs = SegmentReader().read(case / "seg" / "liver.dcm", ct_files)
    np.testing.assert_array_equal(ours.segment_data(1), theirs.segment_data(1))
    mine, reference = pydicom.dcmread(tmp_path / "liver.dcm"), pydicom.dcmread(case / "seg" / "liver.dcm")
    for keyword in ("SegmentLabel", "SegmentAlgorithmType"):
        assert mine.SegmentSequence[0].get(keyword) == reference.SegmentSequence[0].get(keyword)
    for sequence in ("SegmentedPropertyCategoryCodeSequence", "SegmentedPropertyTypeCodeSequence"):
        # dcmqi copies the retired SRT codes of its template; SegExport writes their SNOMED CT equivalents.
        assert mine.SegmentSequence[0][sequence][0].CodeMeaning == reference.SegmentSequence[0][sequence][0].CodeMeaning
        assert mine.SegmentSequence[0][sequence][0].CodingSchemeDesignator == "SCT"
