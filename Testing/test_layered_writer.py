"""Segments that may overlap: layers or per-segment masks in, every voxel of every segment out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from SegExportLib import (
    EmptySegmentationError,
    LayeredWriter,
    MissingSegmentError,
    SegmentationImageError,
    SegmentReader,
    template,
    write_file,
)
from SegExportLib.segments import arrange_layers
from SegExportLib.synthetic import make_ct_series, make_labelmap
from SegExportLib.template import SegmentDescription, Template
from support.oracles import dcmqi_decode, highdicom_decode, masks_by_instance_from_volume, run_dciodvfy

CT3 = "dcmqi-ct3slice"


def masks_template(*labels: int) -> Template:
    return Template([SegmentDescription(label, label=f"S{label}", algorithm_type="MANUAL") for label in labels])


def test_partial_overlaps_are_recreated_from_dcmqis_inputs(
    testdata: Path, tmp_path: Path, dciodvfy: str, dcmqi: Path, highdicom_oracle: str
) -> None:
    layers = [sitk.ReadImage(str(testdata / CT3 / "nrrd" / f"partial_overlaps-{i}.nrrd")) for i in (1, 2, 3)]
    tpl = template.from_dcmqi_metainfo(testdata / CT3 / "json" / "seg-example_partial_overlaps.json")
    ct = sorted((testdata / CT3 / "ct").glob("*.dcm"))
    writer = LayeredWriter(tpl)
    path = write_file(writer.write(layers, ct), tmp_path / "overlaps.dcm")
    assert run_dciodvfy(path).errors == []
    ours = SegmentReader().read(path, ct)
    shipped = SegmentReader().read(testdata / CT3 / "seg" / "partial_overlaps.dcm", ct)
    assert ours.dataset.SegmentsOverlap == "YES"
    arrays = [sitk.GetArrayFromImage(layer) for layer in layers]
    overlap_voxels = 0
    for description in tpl.segments:
        number = writer.last_report.segment_numbers[description.label_id]
        expected = (arrays[description.layer] == description.label_id).astype(np.uint8)
        np.testing.assert_array_equal(ours.segment_data(number), expected)
        # The shipped SEG numbers its segments by labelID.
        np.testing.assert_array_equal(shipped.segment_data(description.label_id), expected)
        assert ours.segment_infos[number].SegmentLabel == shipped.segment_infos[description.label_id].SegmentLabel
    occupied = sum((a != 0).astype(np.uint8) for a in arrays)
    overlap_voxels = int((occupied > 1).sum())
    assert overlap_voxels > 0

    by_highdicom = highdicom_decode(path, ct)
    by_dcmqi = dcmqi_decode(path, tmp_path / "dcmqi")
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in ct]
    planes = sorted(headers, key=lambda d: float(d.ImagePositionPatient[2]))
    for description in tpl.segments:
        number = writer.last_report.segment_numbers[description.label_id]
        expected = arrays[description.layer] == description.label_id
        dcmqi_masks = masks_by_instance_from_volume(by_dcmqi[number], headers)
        for k, header in enumerate(planes):
            uid = header.SOPInstanceUID
            np.testing.assert_array_equal(by_highdicom[number].get(uid, np.zeros_like(expected[k])) != 0, expected[k])
            np.testing.assert_array_equal(dcmqi_masks[uid] != 0, expected[k])


def test_overlapping_masks_keep_every_voxel(tmp_path: Path, dciodvfy: str) -> None:
    series = make_ct_series(rows=24, columns=20, slices=6)
    grid_labels = make_labelmap(series, segment_count=1, seed=2)
    big = (grid_labels == 1).astype(np.uint8)
    small = np.zeros_like(big)
    small[2:4, 8:14, 6:12] = 1  # partly inside the big one
    assert (big & small).any()
    masks = {1: series.labelmap_image(big), 2: series.labelmap_image(small)}
    writer = LayeredWriter(masks_template(1, 2))
    path = write_file(writer.write(masks, series.datasets), tmp_path / "masks.dcm")
    assert run_dciodvfy(path).errors == []
    result = SegmentReader().read(path, series.datasets)
    assert result.dataset.SegmentsOverlap == "YES" and writer.last_report.segments_overlap == "YES"
    np.testing.assert_array_equal(result.segment_data(1), big)
    np.testing.assert_array_equal(result.segment_data(2), small)


def test_layers_that_do_not_overlap_say_so(tmp_path: Path) -> None:
    series = make_ct_series(rows=16, columns=16, slices=4)
    first, second = np.zeros((4, 16, 16), np.uint8), np.zeros((4, 16, 16), np.uint8)
    first[1, 2:5, 2:5] = 1
    second[2, 8:12, 8:12] = 1
    tpl = Template(
        [
            SegmentDescription(1, layer=0, label="A", algorithm_type="MANUAL"),
            SegmentDescription(1, layer=1, label="B", algorithm_type="MANUAL"),
        ]
    )
    dataset = LayeredWriter(tpl).write([series.labelmap_image(first), series.labelmap_image(second)], series.datasets)
    assert dataset.SegmentsOverlap == "NO"
    assert [s.SegmentLabel for s in dataset.SegmentSequence] == ["A", "B"]


def test_layers_on_different_grids_are_refused() -> None:
    series = make_ct_series(rows=16, columns=16, slices=4)
    first = series.labelmap_image(np.ones((4, 16, 16), np.uint8))
    second = series.labelmap_image(np.ones((4, 16, 16), np.uint8))
    second.SetOrigin([v + 1 for v in second.GetOrigin()])
    with pytest.raises(SegmentationImageError, match=r"layer 1 is on another grid than layer 0 \(origin differ"):
        LayeredWriter(masks_template(1, 2)).write({1: first, 2: second}, series.datasets)


def test_a_mask_must_be_binary() -> None:
    series = make_ct_series(rows=8, columns=8, slices=2)
    with pytest.raises(SegmentationImageError, match="labelID 3 holds values up to 2"):
        LayeredWriter(masks_template(3)).write(
            {3: series.labelmap_image(np.full((2, 8, 8), 2, np.uint8))}, series.datasets
        )


def test_an_undescribed_label_in_a_layer_is_refused_or_skipped() -> None:
    series = make_ct_series(rows=8, columns=8, slices=2)
    layer = np.zeros((2, 8, 8), np.uint8)
    layer[0, 1, 1], layer[1, 2, 2] = 1, 7
    tpl = Template([SegmentDescription(1, label="A", algorithm_type="MANUAL")])
    with pytest.raises(MissingSegmentError, match="label 7 of layer 0"):
        LayeredWriter(tpl).write([series.labelmap_image(layer)], series.datasets)
    writer = LayeredWriter(tpl, skip_missing_segment=True)
    assert len(writer.write([series.labelmap_image(layer)], series.datasets).SegmentSequence) == 1
    assert writer.last_report.skipped_labels == [7]


def test_all_empty_layers_are_refused() -> None:
    series = make_ct_series(rows=8, columns=8, slices=2)
    with pytest.raises(EmptySegmentationError, match="every layer is empty"):
        LayeredWriter(masks_template(1)).write(
            {1: series.labelmap_image(np.zeros((2, 8, 8), np.uint8))}, series.datasets
        )


def test_arrange_layers_merges_unless_segments_overlap() -> None:
    first = np.zeros((1, 2, 2), np.uint8)
    first[0, 0, 0] = 1
    second = np.zeros_like(first)
    second[0, 1, 1] = 1
    arrays, placement = arrange_layers([first, second], [{1: "a"}, {1: "b"}], ["b", "a"])
    assert len(arrays) == 1 and placement == {"b": (0, 1), "a": (0, 2)}
    assert arrays[0].tolist() == [[[2, 0], [0, 1]]]
    second[0, 0, 0] = 1
    arrays, placement = arrange_layers([first, second], [{1: "a"}, {1: "b"}], ["b", "a"])
    assert len(arrays) == 2 and placement == {"a": (0, 2), "b": (1, 1)}
    assert arrays[0].tolist() == [[[2, 0], [0, 0]]] and arrays[1].tolist() == [[[1, 0], [0, 1]]]
