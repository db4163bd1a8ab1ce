"""Putting a segmentation onto its source series' grid, exactly, by nearest neighbour.

Slicer saves a ``.seg.nrrd`` cropped to the segments' extent, and AI tools often work on
their own grid; a SEG frame, though, must cover a source image plane. :func:`resample_to_source`
samples the segmentation at the centre of every source pixel (nearest neighbour: labels are
never mixed). A segmentation on the same lattice as the series (cropped or padded by whole
voxels) comes out voxel for voxel identical; one on another grid is sampled, and the report
says how many labelled voxels had no source pixel to land in.

>>> result = resample_to_source(cropped_labels, series)          # doctest: +SKIP
>>> result.report.describe()                                     # doctest: +SKIP
'resampled from 40 x 30 x 5 voxels of 1 x 1 x 2 mm onto the 64 x 48 x 8 source grid (nearest neighbour)'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import GeometryMismatchError
from .geometry import Grid, match_slices
from .source import SourceSeries
from .volume import LabelVolume, grid_of

if TYPE_CHECKING:
    import SimpleITK as sitk

logger = logging.getLogger(__name__)


@dataclass
class ResampleReport:
    """What :func:`resample_to_source` did."""

    resampled: bool
    input_size: tuple[int, int, int]
    input_spacing: tuple[float, float, float]
    output_size: tuple[int, int, int]
    same_lattice: bool = True
    """The input voxels sit on source voxel centres (a crop or pad of the source grid): nothing was sampled."""
    voxels_outside: int = 0
    """Labelled input voxels that fall outside the source volume (lost)."""

    def describe(self) -> str:
        if not self.resampled:
            return "the segmentation is on the source grid (no resampling)"
        size = " x ".join(str(v) for v in self.input_size)
        spacing = " x ".join(f"{v:g}" for v in self.input_spacing)
        target = " x ".join(str(v) for v in self.output_size)
        how = "same lattice: voxels copied exactly" if self.same_lattice else "nearest neighbour"
        text = f"resampled from {size} voxels of {spacing} mm onto the {target} source grid ({how})"
        if self.voxels_outside:
            text += f"; {self.voxels_outside} labelled voxels lie outside the source volume and were dropped"
        return text


@dataclass
class ResampledSegmentation:
    image: sitk.Image | LabelVolume
    report: ResampleReport


def source_grid(series: SourceSeries) -> Grid:
    """The series as a volume grid: i along rows, j along columns, k along the normal (first plane = k 0).

    Unevenly spaced series get their mean gap as k spacing; their planes are sampled one by one.
    """
    offsets = series.plane_offsets()
    gap = float(np.diff(offsets).mean()) if len(offsets) > 1 else float(series.slice_thickness or 1.0)
    direction = np.column_stack([series.row_direction, series.column_direction, series.normal])
    return Grid(
        (series.columns, series.rows, len(series.planes)),
        np.array([series.column_spacing, series.row_spacing, gap]),
        np.asarray(series.planes[0].position, dtype=float),
        direction,
    )


def resample_to_source(image: sitk.Image | LabelVolume, series: SourceSeries) -> ResampledSegmentation:
    """``image`` on the source grid (unchanged when it already is), with a report of what happened.

    A resampled image is a SimpleITK image (SimpleITK does the resampling); an unchanged one is returned as given.
    """
    grid = grid_of(image)
    report = ResampleReport(False, grid.size, tuple(float(v) for v in grid.spacing), grid.size)  # type: ignore[arg-type]
    try:
        match_slices(grid, series)
        return ResampledSegmentation(image, report)
    except GeometryMismatchError:
        pass
    import SimpleITK as sitk

    if isinstance(image, LabelVolume):
        image = image.to_sitk()
    target = source_grid(series)
    report.resampled = True
    report.output_size = target.size
    report.same_lattice = _same_lattice(grid, target)
    report.voxels_outside = _labelled_voxels_outside(image, grid, target, series.plane_offsets())
    if series.uniform_spacing() is not None:
        reference = target.apply_to(sitk.Image([int(v) for v in target.size], image.GetPixelID()))
        resampled = sitk.Resample(image, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    else:
        resampled = _resample_plane_by_plane(image, series, target)
    logger.info("%s", report.describe())
    return ResampledSegmentation(resampled, report)


def _resample_plane_by_plane(image: sitk.Image, series: SourceSeries, target: Grid) -> sitk.Image:
    """Sample each source plane on its own (uneven slice gaps); the result carries the mean gap."""
    import SimpleITK as sitk

    planes = []
    for plane in series.planes:
        reference = sitk.Image([series.columns, series.rows, 1], image.GetPixelID())
        reference.SetSpacing([float(v) for v in target.spacing])
        reference.SetOrigin([float(v) for v in plane.position])
        reference.SetDirection([float(v) for v in target.direction.ravel()])
        sampled = sitk.Resample(image, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
        planes.append(sitk.GetArrayViewFromImage(sampled)[0].copy())
    return target.apply_to(sitk.GetImageFromArray(np.stack(planes)))


def _same_lattice(grid: Grid, target: Grid, tolerance: float = 1e-3) -> bool:
    """True if every voxel centre of ``grid`` is a voxel centre of ``target``."""
    if not np.allclose(grid.direction, target.direction, atol=1e-4) or not np.allclose(
        grid.spacing, target.spacing, rtol=1e-4
    ):
        return False
    shift = np.linalg.solve(target.direction * target.spacing, grid.origin - target.origin)
    return bool(np.all(np.abs(shift - np.round(shift)) < tolerance))


def _labelled_voxels_outside(image: sitk.Image, grid: Grid, target: Grid, plane_offsets: np.ndarray) -> int:
    """Count the labelled voxels whose centre lies outside the source volume (half a voxel around it).

    ``target`` is the :func:`source_grid`; ``plane_offsets`` the planes' positions along its normal.
    """
    import SimpleITK as sitk

    labels = sitk.GetArrayViewFromImage(image)
    k, j, i = np.nonzero(labels)
    if k.size == 0:
        return 0
    points = grid.origin + (np.column_stack([i, j, k]) * grid.spacing) @ grid.direction.T
    relative = (points - target.origin) @ target.direction  # coordinates along the target axes (mm)
    offsets = plane_offsets - plane_offsets[0]
    half_gap = target.spacing[2] / 2
    inside = (
        (relative[:, 0] >= -target.spacing[0] / 2)
        & (relative[:, 0] < (target.size[0] - 0.5) * target.spacing[0])
        & (relative[:, 1] >= -target.spacing[1] / 2)
        & (relative[:, 1] < (target.size[1] - 0.5) * target.spacing[1])
        & (relative[:, 2] >= offsets[0] - half_gap)
        & (relative[:, 2] < offsets[-1] + half_gap)
    )
    return int(np.count_nonzero(~inside))
