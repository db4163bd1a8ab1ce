"""Round trips over geometries: every SEG passes dciodvfy and three independent readers decode exactly the input.

Series: axial, coronal, sagittal, oblique; slice axis reversed (as Slicer stores some DICOM volumes); files
given shuffled or descending; unevenly spaced slices. Writer options: in-plane cropping and skipping empty
slices, each on and off. Readers: ours (physical positions checked on its own grid), highdicom (maps frames
to source instances itself) and dcmqi's segimage2itkimage (what Slicer uses to load SEG).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from SegExportLib import MultiClassReader, MultiClassWriter, SegmentReader, write_file
from SegExportLib.codes import Code
from SegExportLib.synthetic import SyntheticSeries, make_ct_series, make_labelmap
from SegExportLib.template import SegmentDescription, Template
from support.oracles import (
    assert_masks_equal,
    dcmqi_decode,
    expected_masks_by_instance,
    highdicom_decode,
    masks_by_instance_from_volume,
    run_dcentvfy,
    run_dciodvfy,
)

SERIES = {
    "axial": {"orientation": "axial"},
    "coronal": {"orientation": "coronal", "file_order": "descending"},
    "sagittal": {"orientation": "sagittal"},
    "oblique": {"orientation": "oblique", "file_order": "shuffled"},
    "reversed": {"orientation": "axial", "reverse_slices": True, "file_order": "descending"},
    "reversed-oblique": {"orientation": "oblique", "reverse_slices": True, "file_order": "shuffled"},
    "uneven": {"orientation": "axial", "slice_offsets": [0.0, 2.0, 3.5, 7.0, 8.0, 12.5, 15.0, 16.25]},
}
OPTIONS = [(False, True), (True, True), (False, False), (True, False)]  # (inplane_cropping, skip_empty_slices)


def make_template(count: int) -> Template:
    organs = [("Liver", "10200004"), ("Spleen", "78961009"), ("Kidney", "64033007"), ("Pancreas", "15776009")]
    segments = []
    for label in range(1, count + 1):
        name, code = organs[(label - 1) % len(organs)]
        segments.append(
            SegmentDescription(
                label_id=label,
                label=f"{name} {label}",
                algorithm_type="AUTOMATIC",
                algorithm_name="SyntheticNet",
                category=Code("123037004", "SCT", "Anatomical Structure"),
                type=Code(code, "SCT", name),
                display_rgb=(40 * label % 256, 200, 90),
            )
        )
    return Template(segments, series_description="Synthetic organs", content_creator_name="Test^Reader")


def image_k_axis(image) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.array(image.GetDirection()).reshape(3, 3)[:, 2]


def sources_on_disk(series: SyntheticSeries, folder: Path) -> list[Path]:
    return series.write(folder)


@pytest.mark.parametrize(("cropping", "skip_empty"), OPTIONS, ids=lambda v: str(v))
@pytest.mark.parametrize("case", sorted(SERIES))
def test_round_trip(
    case: str, cropping: bool, skip_empty: bool, tmp_path: Path, dciodvfy: str, dcmqi: Path, highdicom_oracle: str
) -> None:
    series = make_ct_series(seed=len(case), **SERIES[case])  # type: ignore[arg-type]
    labels = make_labelmap(series, segment_count=3, seed=len(case))
    image = series.labelmap_image(labels)
    source_paths = sources_on_disk(series, tmp_path / "ct")
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in source_paths]

    writer = MultiClassWriter(make_template(3), inplane_cropping=cropping, skip_empty_slices=skip_empty)
    seg_path = write_file(writer.write(image, headers), tmp_path / "seg.dcm")
    numbers = writer.last_report.segment_numbers
    assert numbers == {1: 1, 2: 2, 3: 3}

    verdict = run_dciodvfy(seg_path)
    assert verdict.errors == [], verdict.output
    assert run_dcentvfy(seg_path, source_paths).errors == []

    seg = pydicom.dcmread(seg_path)
    frames_per_segment = {n: sum(1 for k in range(labels.shape[0]) if (labels[k] == n).any()) for n in numbers}
    assert int(seg.NumberOfFrames) == (sum(frames_per_segment.values()) if skip_empty else 3 * labels.shape[0])
    if cropping:
        assert (int(seg.Rows), int(seg.Columns)) < (series.grid.size[1], series.grid.size[0])

    expected = (
        expected_masks_by_instance(image, series.datasets, numbers)
        if SERIES[case].get("slice_offsets") is None
        else _expected_by_file_order(series, labels, numbers)
    )

    # highdicom: frames mapped to source instances through the SEG's own references. It places cropped
    # frames only through a regular volume, which an unevenly spaced series cannot form: a known limit.
    if cropping and SERIES[case].get("slice_offsets") is not None:
        with pytest.raises(AssertionError, match="do not form a regularly-spaced volume"):
            highdicom_decode(seg_path, source_paths)
    else:
        assert_masks_equal(expected, highdicom_decode(seg_path, source_paths))

    # Our reader on the source grid: exactly the input array (the reader's slice axis follows the normal,
    # so a reversed input comes back flipped, with its k axis flipped too).
    on_source_grid = MultiClassReader().read(seg_path, headers)
    reversed_input = bool(SERIES[case].get("reverse_slices"))
    np.testing.assert_array_equal(on_source_grid.data, labels[::-1] if reversed_input else labels)
    np.testing.assert_allclose(
        on_source_grid.direction[:, 2], -image_k_axis(image) if reversed_input else image_k_axis(image), atol=1e-6
    )

    # Our reader on its own grid, and dcmqi's: checked at the physical positions of the source pixels.
    decoded = dcmqi_decode(seg_path, tmp_path / "dcmqi")
    if SERIES[case].get("slice_offsets") is None:
        ours = SegmentReader().read(seg_path)
        ours_by_instance = {n: masks_by_instance_from_volume(ours.segment_image(n), headers) for n in numbers.values()}
        assert_masks_equal(expected, ours_by_instance)
        assert_masks_equal(expected, {n: masks_by_instance_from_volume(img, headers) for n, img in decoded.items()})
    else:
        # A known limit of dcmqi (what Slicer loads SEGs with): it snaps the frames of an unevenly spaced SEG onto
        # a regular grid, and frames that snap onto the same slice overwrite each other, so voxels are lost (e.g.
        # 1336 of 1782). Recorded here: it never invents voxels, and it loses some. Our reader given the source
        # series (above) and highdicom decode these SEGs exactly.
        lost = 0
        for label, number in numbers.items():
            decoded_count = int(sitk.GetArrayViewFromImage(decoded[number]).sum())
            assert 0 < decoded_count <= int((labels == label).sum())
            lost += int((labels == label).sum()) - decoded_count
        assert lost > 0, "dcmqi now decodes unevenly spaced SEGs completely: make this check exact"


def _expected_by_file_order(series: SyntheticSeries, labels: np.ndarray, numbers: dict[int, int]):  # type: ignore[no-untyped-def]
    """For an unevenly spaced series, slice k is the k-th instance by InstanceNumber (positions are not regular)."""
    by_number = sorted(series.datasets, key=lambda d: int(d.InstanceNumber))
    return {
        number: {
            str(d.SOPInstanceUID): labels[k] == label for k, d in enumerate(by_number) if (labels[k] == label).any()
        }
        for label, number in numbers.items()
    }


def test_unevenly_spaced_series_keeps_true_frame_positions(tmp_path: Path) -> None:
    series = make_ct_series(**SERIES["uneven"])  # type: ignore[arg-type]
    labels = make_labelmap(series, segment_count=2, seed=3)
    seg = MultiClassWriter(make_template(2), skip_empty_slices=False).write(
        series.labelmap_image(labels), series.datasets
    )
    positions = {
        tuple(float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient)
        for item in seg.PerFrameFunctionalGroupsSequence
    }
    sources = {tuple(float(v) for v in d.ImagePositionPatient) for d in series.datasets}
    assert positions == sources
    assert "SpacingBetweenSlices" not in seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
