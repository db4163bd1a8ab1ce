"""Source series checks and slice matching: wrong geometry is refused with a message naming what differs."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset

from SegExportLib.errors import GeometryMismatchError, SourceSeriesError
from SegExportLib.geometry import Grid, match_slices
from SegExportLib.source import SourceSeries

AXIAL = np.eye(3)


def plane_dataset(
    index: int,
    position: list[float],
    orientation: list[float] | None = None,
    series: str = "1.2.3.1",
    frame_of_reference: str = "1.2.3.9",
    rows: int = 4,
    columns: int = 5,
    spacing: tuple[float, float] = (0.5, 0.7),
) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = f"1.2.3.1.{index}"
    ds.StudyInstanceUID = "1.2.3"
    ds.SeriesInstanceUID = series
    ds.FrameOfReferenceUID = frame_of_reference
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.ImageOrientationPatient = orientation or [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = list(spacing)
    ds.Rows, ds.Columns = rows, columns
    return ds


def stack(z_positions: list[float], **kwargs: object) -> list[Dataset]:
    return [plane_dataset(i, [10.0, 20.0, z], **kwargs) for i, z in enumerate(z_positions)]  # type: ignore[arg-type]


def grid_image(
    size: tuple[int, int, int],
    spacing: tuple[float, float, float],
    origin: tuple[float, float, float],
    direction: np.ndarray = AXIAL,
) -> sitk.Image:
    image = sitk.Image(list(size), sitk.sitkUInt8)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection([float(v) for v in direction.ravel()])
    return image


def test_planes_are_sorted_along_the_normal_whatever_the_input_order() -> None:
    series = SourceSeries.from_datasets(stack([5.0, -1.0, 2.0]))
    assert [p.sop_instance_uid for p in series.planes] == ["1.2.3.1.1", "1.2.3.1.2", "1.2.3.1.0"]
    assert series.uniform_spacing() == pytest.approx(3.0)
    assert (series.row_spacing, series.column_spacing) == (0.5, 0.7)


def test_images_of_several_series_are_refused_naming_them() -> None:
    datasets = [*stack([0.0, 1.0]), plane_dataset(7, [10, 20, 2], series="1.2.3.2")]
    with pytest.raises(SourceSeriesError, match=r"2 series: 1\.2\.3\.1 \(2 images\), 1\.2\.3\.2 \(1 images\)"):
        SourceSeries.from_datasets(datasets)


def test_images_of_several_frames_of_reference_are_refused() -> None:
    datasets = [*stack([0.0]), plane_dataset(7, [10, 20, 2], frame_of_reference="1.2.3.8")]
    with pytest.raises(SourceSeriesError, match="2 frames of reference"):
        SourceSeries.from_datasets(datasets)


def test_an_image_without_position_is_refused_by_name() -> None:
    datasets = stack([0.0, 1.0])
    del datasets[1].ImagePositionPatient
    with pytest.raises(SourceSeriesError, match=r"1\.2\.3\.1\.1.*has no ImagePositionPatient"):
        SourceSeries.from_datasets(datasets)


def test_two_images_at_one_position_are_refused() -> None:
    with pytest.raises(SourceSeriesError, match="same position"):
        SourceSeries.from_datasets(stack([0.0, 1.0, 1.0]))


def test_mixed_orientations_are_refused() -> None:
    datasets = [*stack([0.0]), plane_dataset(5, [10, 20, 1], orientation=[1, 0, 0, 0, 0, -1])]
    with pytest.raises(SourceSeriesError, match="mixed orientations"):
        SourceSeries.from_datasets(datasets)


def test_the_same_instance_twice_is_refused() -> None:
    datasets = stack([0.0, 1.0])
    with pytest.raises(SourceSeriesError, match="given twice"):
        SourceSeries.from_datasets([*datasets, datasets[0]])


def test_no_images_at_all_is_refused() -> None:
    with pytest.raises(SourceSeriesError, match="no source images"):
        SourceSeries.from_datasets([])


def test_matching_grid_maps_every_slice_to_its_plane() -> None:
    series = SourceSeries.from_datasets(stack([2.0, 0.0, 1.0]))
    planes = match_slices(Grid.from_image(grid_image((5, 4, 3), (0.7, 0.5, 1.0), (10, 20, 0))), series)
    assert [p.position[2] for p in planes] == [0.0, 1.0, 2.0]


def test_reversed_slice_axis_maps_slices_in_descending_order() -> None:
    series = SourceSeries.from_datasets(stack([0.0, 1.0, 2.0]))
    flipped = np.diag([1.0, 1.0, -1.0])
    planes = match_slices(Grid.from_image(grid_image((5, 4, 3), (0.7, 0.5, 1.0), (10, 20, 2), flipped)), series)
    assert [p.position[2] for p in planes] == [2.0, 1.0, 0.0]


def test_a_subset_of_slices_is_matched() -> None:
    series = SourceSeries.from_datasets(stack([0.0, 1.0, 2.0, 3.0]))
    planes = match_slices(Grid.from_image(grid_image((5, 4, 2), (0.7, 0.5, 1.0), (10, 20, 1))), series)
    assert [p.position[2] for p in planes] == [1.0, 2.0]


@pytest.mark.parametrize(
    ("size", "spacing", "origin", "direction", "what"),
    [
        ((6, 4, 3), (0.7, 0.5, 1.0), (10, 20, 0), AXIAL, "size: the segmentation has 6 x 4 voxels per slice"),
        ((5, 4, 3), (0.5, 0.7, 1.0), (10, 20, 0), AXIAL, "spacing: the segmentation has 0.5 x 0.7 mm in-plane"),
        ((5, 4, 3), (0.7, 0.5, 1.0), (10.3, 20, 0), AXIAL, "origin: slice 0"),
        ((5, 4, 3), (0.7, 0.5, 1.0), (10, 20, 0), np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1.0]]), "direction:"),
        ((5, 4, 3), (0.7, 0.5, 2.0), (10, 20, 0), AXIAL, "spacing: the segmentation's slices are 2 mm apart"),
        ((5, 4, 5), (0.7, 0.5, 1.0), (10, 20, 0), AXIAL, "size: the segmentation spans 0 to 4 mm"),
        ((5, 4, 3), (0.7, 0.5, 1.0), (10, 20, 0.4), AXIAL, "have no source image at their position"),
    ],
)
def test_grid_differences_are_named(
    size: tuple[int, int, int],
    spacing: tuple[float, float, float],
    origin: tuple[float, float, float],
    direction: np.ndarray,
    what: str,
) -> None:
    series = SourceSeries.from_datasets(stack([0.0, 1.0, 2.0]))
    with pytest.raises(GeometryMismatchError, match="does not match the source images") as caught:
        match_slices(Grid.from_image(grid_image(size, spacing, origin, direction)), series)
    assert what in str(caught.value)
    assert "Resample the segmentation" in str(caught.value)


def test_sheared_slice_axis_is_refused() -> None:
    series = SourceSeries.from_datasets(stack([0.0, 1.0, 2.0]))
    tilt = np.deg2rad(10)
    sheared = np.array([[1, 0, 0], [0, 1, np.sin(tilt)], [0, 0, np.cos(tilt)]])
    with pytest.raises(GeometryMismatchError, match="not perpendicular to the image planes"):
        match_slices(Grid.from_image(grid_image((5, 4, 3), (0.7, 0.5, 1.0), (10, 20, 0), sheared)), series)


def test_unevenly_spaced_series_is_matched_plane_by_plane() -> None:
    series = SourceSeries.from_datasets(stack([0.0, 1.0, 3.5, 4.0]))
    assert series.uniform_spacing() is None
    # An image reader stacks such a series with some nominal spacing; only the count and start matter.
    planes = match_slices(Grid.from_image(grid_image((5, 4, 4), (0.7, 0.5, 1.0), (10, 20, 0))), series)
    assert [p.position[2] for p in planes] == [0.0, 1.0, 3.5, 4.0]


def test_unevenly_spaced_series_with_another_slice_count_is_refused() -> None:
    series = SourceSeries.from_datasets(stack([0.0, 1.0, 3.5, 4.0]))
    with pytest.raises(GeometryMismatchError, match="no source image"):
        match_slices(Grid.from_image(grid_image((5, 4, 3), (0.7, 0.5, 1.0), (10, 20, 0))), series)


def test_enhanced_multiframe_source_gives_one_plane_per_frame(testdata) -> None:  # type: ignore[no-untyped-def]
    import pydicom

    source = pydicom.dcmread(testdata / "dcmqi-tiny" / "23x38x3" / "multiframe" / "mf.dcm", stop_before_pixels=True)
    series = SourceSeries.from_datasets([source])
    assert [p.frame_number for p in series.planes] == sorted(p.frame_number for p in series.planes)
    assert len(series.planes) == int(source.NumberOfFrames) == 3
    assert {p.sop_instance_uid for p in series.planes} == {source.SOPInstanceUID}
    assert (series.rows, series.columns) == (int(source.Rows), int(source.Columns))
