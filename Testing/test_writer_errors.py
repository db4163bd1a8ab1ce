"""Bad input gets a named error that says what is wrong and how to fix it; the writer returns nothing."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from SegExportLib import (
    EmptySegmentationError,
    GeometryMismatchError,
    MissingSegmentError,
    MultiClassWriter,
    SegExportError,
    SegmentationImageError,
    SourceSeriesError,
    TemplateError,
    template,
)
from SegExportLib.synthetic import make_ct_series, make_labelmap
from SegExportLib.template import SegmentDescription, Template


@pytest.fixture
def series():  # type: ignore[no-untyped-def]
    return make_ct_series(rows=16, columns=12, slices=5, pixel_data=False)


def simple_template(*labels: int) -> Template:
    return Template([SegmentDescription(label, label=f"S{label}", algorithm_type="MANUAL") for label in labels])


def labelmap(series, values: dict[tuple[int, int, int], int], dtype=np.uint8) -> sitk.Image:  # type: ignore[no-untyped-def]
    labels = np.zeros((series.grid.size[2], series.grid.size[1], series.grid.size[0]), dtype=dtype)
    for index, value in values.items():
        labels[index] = value
    return series.labelmap_image(labels)


def test_a_label_missing_from_the_template_is_refused_by_value(series) -> None:  # type: ignore[no-untyped-def]
    image = labelmap(series, {(1, 2, 2): 1, (2, 3, 3): 4})
    with pytest.raises(MissingSegmentError, match=r"labels \[4\].*describes only labelIDs \[1\].*skip_missing_segment"):
        MultiClassWriter(simple_template(1)).write(image, series.datasets)


def test_skip_missing_segment_leaves_the_label_out(series) -> None:  # type: ignore[no-untyped-def]
    image = labelmap(series, {(1, 2, 2): 1, (2, 3, 3): 4})
    writer = MultiClassWriter(simple_template(1), skip_missing_segment=True)
    dataset = writer.write(image, series.datasets)
    assert [int(s.SegmentNumber) for s in dataset.SegmentSequence] == [1]
    assert writer.last_report.skipped_labels == [4]


def test_template_segments_without_voxels_are_reported_not_written(series) -> None:  # type: ignore[no-untyped-def]
    writer = MultiClassWriter(simple_template(1, 2, 3))
    dataset = writer.write(labelmap(series, {(1, 2, 2): 3}), series.datasets)
    assert [s.SegmentLabel for s in dataset.SegmentSequence] == ["S3"]
    assert writer.last_report.absent_segments == [1, 2]
    assert writer.last_report.segment_numbers == {3: 1}


@pytest.mark.parametrize("pixel_type", [sitk.sitkFloat32, sitk.sitkFloat64])
def test_a_float_labelmap_is_refused(series, pixel_type: int) -> None:  # type: ignore[no-untyped-def]
    image = sitk.Cast(labelmap(series, {(1, 1, 1): 1}), pixel_type)
    with pytest.raises(SegmentationImageError, match="integer labels: cast it"):
        MultiClassWriter(simple_template(1)).write(image, series.datasets)


def test_a_negative_label_is_refused(series) -> None:  # type: ignore[no-untyped-def]
    image = labelmap(series, {(1, 1, 1): 1, (2, 2, 2): -3}, dtype=np.int16)
    with pytest.raises(SegmentationImageError, match="negative labels"):
        MultiClassWriter(simple_template(1)).write(image, series.datasets)


def test_a_vector_image_is_refused(series) -> None:  # type: ignore[no-untyped-def]
    image = sitk.Compose([labelmap(series, {}), labelmap(series, {})])
    with pytest.raises(SegmentationImageError, match="2 components per voxel"):
        MultiClassWriter(simple_template(1)).write(image, series.datasets)


def test_a_2d_image_is_refused(series) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SegmentationImageError, match="2D"):
        MultiClassWriter(simple_template(1)).write(sitk.Image(12, 16, sitk.sitkUInt8), series.datasets)


def test_something_else_than_an_image_is_refused(series) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SegmentationImageError, match=r"SimpleITK\.Image"):
        MultiClassWriter(simple_template(1)).write(np.zeros((5, 16, 12), np.uint8), series.datasets)  # type: ignore[arg-type]


def test_an_all_zero_segmentation_is_refused(series) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EmptySegmentationError, match="every voxel is 0"):
        MultiClassWriter(simple_template(1)).write(labelmap(series, {}), series.datasets)


def test_only_undescribed_labels_with_skip_is_refused(series) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EmptySegmentationError, match="none of the labels"):
        MultiClassWriter(simple_template(1), skip_missing_segment=True).write(
            labelmap(series, {(1, 1, 1): 2}), series.datasets
        )


def test_sources_from_several_series_are_refused(series) -> None:  # type: ignore[no-untyped-def]
    other = make_ct_series(rows=16, columns=12, slices=5, pixel_data=False, seed=9)
    with pytest.raises(SourceSeriesError, match="2 series"):
        MultiClassWriter(simple_template(1)).write(
            labelmap(series, {(1, 1, 1): 1}), series.datasets + other.datasets[:1]
        )


def test_sources_from_several_frames_of_reference_are_refused(series) -> None:  # type: ignore[no-untyped-def]
    series.datasets[0].FrameOfReferenceUID = "1.2.3.4.5"
    with pytest.raises(SourceSeriesError, match="2 frames of reference"):
        MultiClassWriter(simple_template(1)).write(labelmap(series, {(1, 1, 1): 1}), series.datasets)


def test_a_slice_without_matching_source_instance_is_refused(series) -> None:  # type: ignore[no-untyped-def]
    missing = sorted(series.datasets, key=lambda d: int(d.InstanceNumber))[2]
    sources = [d for d in series.datasets if d is not missing]
    with pytest.raises(GeometryMismatchError, match="1 of 5 segmentation slices have no source image"):
        MultiClassWriter(simple_template(1)).write(labelmap(series, {(1, 1, 1): 1}), sources)


def test_a_shifted_labelmap_is_refused_with_the_offset(series) -> None:  # type: ignore[no-untyped-def]
    image = labelmap(series, {(1, 1, 1): 1})
    image.SetOrigin([v + 0.4 for v in image.GetOrigin()])
    with pytest.raises(GeometryMismatchError, match=r"origin|no source image"):
        MultiClassWriter(simple_template(1)).write(image, series.datasets)


def test_a_labelmap_on_a_finer_grid_is_refused_naming_size_and_spacing(series) -> None:  # type: ignore[no-untyped-def]
    image = sitk.Image(24, 32, 5, sitk.sitkUInt8)
    image.SetOrigin(series.grid.origin.tolist())
    image.SetSpacing((series.grid.spacing / [2, 2, 1]).tolist())
    image.SetDirection(series.grid.direction.ravel().tolist())
    with pytest.raises(GeometryMismatchError) as caught:
        MultiClassWriter(simple_template(1)).write(image, series.datasets)
    assert "size: the segmentation has 24 x 32 voxels per slice" in str(caught.value)
    assert "spacing:" in str(caught.value)


def test_malformed_metainfo_lists_every_problem_with_its_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "meta.json"
    path.write_text(
        '{"SeriesNumber": "three", "segmentAttributes": [[{"labelID": 1, "SegmentAlgorithmType": "AUTO"}]]}'
    )
    with pytest.raises(TemplateError) as caught:
        template.from_dcmqi_metainfo(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in (
        "$.SeriesNumber",
        "$.segmentAttributes[0][0].SegmentAlgorithmType",
        "$.segmentAttributes[0][0].SegmentedPropertyCategoryCodeSequence: required",
        "$.segmentAttributes[0][0].SegmentedPropertyTypeCodeSequence: required",
    ):
        assert fragment in message
    assert len(caught.value.problems) == 4


def test_duplicate_labels_across_input_files_need_the_layered_writer(series) -> None:  # type: ignore[no-untyped-def]
    image = labelmap(series, {(1, 1, 1): 1})
    tpl = template.from_dcmqi_metainfo(
        {
            "segmentAttributes": [
                [{"labelID": 1, "SegmentAlgorithmType": "MANUAL", **_codes()}],
                [{"labelID": 1, "SegmentAlgorithmType": "MANUAL", **_codes()}],
            ]
        }
    )
    with pytest.raises(TemplateError, match="labelID 1 is described more than once"):
        MultiClassWriter(tpl).write(image, series.datasets)


def test_algorithm_name_is_required_for_automatic_segments(series) -> None:  # type: ignore[no-untyped-def]
    tpl = Template([SegmentDescription(1, label="Auto", algorithm_type="AUTOMATIC")])
    with pytest.raises(TemplateError, match="SegmentAlgorithmName is required"):
        MultiClassWriter(tpl).write(labelmap(series, {(1, 1, 1): 1}), series.datasets)


def test_a_template_of_another_kind_is_refused() -> None:
    with pytest.raises(TemplateError, match="from_dcmqi_metainfo"):
        MultiClassWriter({"segmentAttributes": []})  # type: ignore[arg-type]


def test_a_bad_uid_root_is_refused() -> None:
    with pytest.raises(SegExportError, match="must be dot-separated numbers"):
        MultiClassWriter(simple_template(1), uid_root="1.2.abc.")


def test_every_error_is_a_value_error_for_pydicom_seg_code(series) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        MultiClassWriter(simple_template(1)).write(labelmap(series, {}), series.datasets)


def test_large_label_values_are_written(series) -> None:  # type: ignore[no-untyped-def]
    labels = make_labelmap(series, segment_count=2, seed=4).astype(np.uint32) * 50000
    writer = MultiClassWriter(simple_template(50000, 100000))
    dataset = writer.write(series.labelmap_image(labels), series.datasets)
    assert writer.last_report.segment_numbers == {50000: 1, 100000: 2}
    assert [s.SegmentLabel for s in dataset.SegmentSequence] == ["S50000", "S100000"]


def _codes() -> dict[str, dict[str, str]]:
    code = {"CodeValue": "85756007", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Tissue"}
    return {"SegmentedPropertyCategoryCodeSequence": code, "SegmentedPropertyTypeCodeSequence": code}
