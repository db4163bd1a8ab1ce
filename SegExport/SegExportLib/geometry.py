"""Image grids and how a segmentation grid lines up with its source series.

A :class:`Grid` is the geometry of a SimpleITK image in LPS: size (i, j, k),
spacing, origin and direction (columns are the i, j, k axes). :func:`match_slices`
pairs every slice of a segmentation grid with the source plane at the same place,
and refuses with :class:`~SegExportLib.errors.GeometryMismatchError` (saying what
differs: size, spacing, direction, origin) when the grids disagree.

>>> grid = Grid.from_image(label_image)                  # doctest: +SKIP
>>> planes = match_slices(grid, series)                  # doctest: +SKIP
>>> planes[0].sop_instance_uid                           # doctest: +SKIP
'1.2.3...'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import GeometryMismatchError
from .source import SourcePlane, SourceSeries

if TYPE_CHECKING:
    import SimpleITK as sitk

logger = logging.getLogger(__name__)

DIRECTION_TOLERANCE = 1e-4
"""Largest difference between unit axis vectors treated as equal (about 0.006 degrees)."""
SPACING_TOLERANCE = 1e-4
"""Largest relative difference between spacings treated as equal."""
INPLANE_POSITION_TOLERANCE = 0.01
"""Largest in-plane position difference treated as equal, as a fraction of the pixel spacing."""
SLICE_POSITION_TOLERANCE = 0.05
"""Largest distance along the normal between a slice and its source plane, as a fraction of the slice gap."""


@dataclass(frozen=True)
class Grid:
    """Geometry of a 3D image in patient coordinates (LPS, mm)."""

    size: tuple[int, int, int]
    spacing: np.ndarray
    origin: np.ndarray
    direction: np.ndarray
    """3x3 matrix whose columns are the unit i, j and k axes."""

    @classmethod
    def from_image(cls, image: sitk.Image) -> Grid:
        """The grid of a 3D SimpleITK image."""
        return cls(
            size=tuple(int(v) for v in image.GetSize()),  # type: ignore[arg-type]
            spacing=np.array(image.GetSpacing(), dtype=float),
            origin=np.array(image.GetOrigin(), dtype=float),
            direction=np.array(image.GetDirection(), dtype=float).reshape(3, 3),
        )

    def apply_to(self, image: sitk.Image) -> sitk.Image:
        """Give ``image`` this grid's spacing, origin and direction; return it."""
        image.SetSpacing([float(v) for v in self.spacing])
        image.SetOrigin([float(v) for v in self.origin])
        image.SetDirection([float(v) for v in self.direction.ravel()])
        return image

    def slice_position(self, k: int) -> np.ndarray:
        """Position of voxel (0, 0, k)."""
        return self.origin + k * self.spacing[2] * self.direction[:, 2]

    def index_to_point(self, index: np.ndarray) -> np.ndarray:
        """Physical position of the (i, j, k) index (fractional indices allowed)."""
        return self.origin + self.direction @ (np.asarray(index, dtype=float) * self.spacing)


def _describe(vector: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in vector) + ")"


def inplane_differences(grid: Grid, series: SourceSeries) -> list[str]:
    """Every way the in-plane geometry of ``grid`` differs from the source images (empty if none)."""
    problems = []
    if grid.size[:2] != (series.columns, series.rows):
        problems.append(
            f"size: the segmentation has {grid.size[0]} x {grid.size[1]} voxels per slice, the source images "
            f"{series.columns} x {series.rows} (columns x rows)"
        )
    expected_spacing = np.array([series.column_spacing, series.row_spacing])
    if not np.allclose(grid.spacing[:2], expected_spacing, rtol=SPACING_TOLERANCE, atol=1e-9):
        problems.append(
            f"spacing: the segmentation has {grid.spacing[0]:.6g} x {grid.spacing[1]:.6g} mm in-plane, the source "
            f"images {expected_spacing[0]:.6g} x {expected_spacing[1]:.6g} mm (PixelSpacing {series.pixel_spacing})"
        )
    if (
        np.linalg.norm(grid.direction[:, 0] - series.row_direction) > DIRECTION_TOLERANCE
        or np.linalg.norm(grid.direction[:, 1] - series.column_direction) > DIRECTION_TOLERANCE
    ):
        problems.append(
            f"direction: the segmentation's i and j axes are {_describe(grid.direction[:, 0])} and "
            f"{_describe(grid.direction[:, 1])}, the source rows and columns run along "
            f"{_describe(series.row_direction)} and {_describe(series.column_direction)} (LPS)"
        )
    elif abs(abs(grid.direction[:, 2] @ series.normal) - 1) > DIRECTION_TOLERANCE:
        problems.append(
            f"direction: the segmentation's k axis {_describe(grid.direction[:, 2])} is not perpendicular to the "
            f"image planes (normal {_describe(series.normal)}): a sheared or "
            "gantry-tilted grid cannot be stored in a SEG"
        )
    return problems


def _inplane_offset(point: np.ndarray, plane: SourcePlane, series: SourceSeries) -> np.ndarray:
    delta = point - plane.position
    return np.array([delta @ series.row_direction, delta @ series.column_direction])


def match_slices(grid: Grid, series: SourceSeries) -> list[SourcePlane]:
    """Return the source plane of every slice k of ``grid``.

    Slices are matched by position along the slice normal, within
    :data:`SLICE_POSITION_TOLERANCE` of the gap between planes. A series whose
    planes are unevenly spaced cannot be a regular grid; a segmentation with one
    slice per source plane and a first slice on the first plane (in the grid's k
    direction) is then matched plane by plane, as image readers stack such series.
    """
    problems = inplane_differences(grid, series)
    if problems:
        raise GeometryMismatchError(_mismatch_message(problems))

    offsets = series.plane_offsets()
    normal = series.normal
    gaps = np.diff(offsets)
    typical_gap = float(np.min(gaps)) if len(gaps) else float(grid.spacing[2])
    z_tolerance = SLICE_POSITION_TOLERANCE * min(typical_gap, float(grid.spacing[2]))
    xy_tolerance = INPLANE_POSITION_TOLERANCE * min(series.row_spacing, series.column_spacing)

    slice_offsets = np.array([grid.slice_position(k) @ normal for k in range(grid.size[2])])
    nearest = _nearest_indices(offsets, slice_offsets)
    distance = np.abs(offsets[nearest] - slice_offsets)
    if np.all(distance <= z_tolerance):
        matched = [series.planes[i] for i in nearest]
    else:
        matched = _match_uneven(grid, series, slice_offsets, z_tolerance)
        if matched is None:
            raise GeometryMismatchError(
                _slice_mismatch_message(grid, series, slice_offsets, nearest, distance, z_tolerance)
            )
    for k, plane in enumerate(matched):
        offset = _inplane_offset(grid.slice_position(k), plane, series)
        if np.any(np.abs(offset) > xy_tolerance):
            raise GeometryMismatchError(
                _mismatch_message(
                    [
                        f"origin: slice {k} of the segmentation starts at {_describe(grid.slice_position(k))}, "
                        f"{offset[0]:.4g} mm along the rows and {offset[1]:.4g} mm "
                        "along the columns away from the first pixel "
                        f"{_describe(plane.position)} of {plane.origin_name}"
                    ]
                )
            )
    return matched


def _nearest_indices(sorted_offsets: np.ndarray, queries: np.ndarray) -> np.ndarray:
    right = np.clip(np.searchsorted(sorted_offsets, queries), 0, len(sorted_offsets) - 1)
    left = np.clip(right - 1, 0, len(sorted_offsets) - 1)
    pick_left = np.abs(sorted_offsets[left] - queries) < np.abs(sorted_offsets[right] - queries)
    return np.where(pick_left, left, right)


def _match_uneven(
    grid: Grid, series: SourceSeries, slice_offsets: np.ndarray, z_tolerance: float
) -> list[SourcePlane] | None:
    if series.uniform_spacing() is not None or grid.size[2] != len(series.planes):
        return None
    ascending = grid.direction[:, 2] @ series.normal > 0
    planes = series.planes if ascending else series.planes[::-1]
    first_offset = planes[0].position @ series.normal
    if abs(first_offset - slice_offsets[0]) > z_tolerance:
        return None
    logger.info(
        "source planes are unevenly spaced; matched the %d segmentation slices to the %d planes in order",
        grid.size[2],
        len(planes),
    )
    return list(planes)


def _mismatch_message(problems: list[str]) -> str:
    listing = "\n".join(f"  - {p}" for p in problems)
    return (
        "the segmentation grid does not match the source images:\n"
        f"{listing}\n"
        "Resample the segmentation onto the source image grid (nearest neighbour), or pass the series it was drawn on."
    )


def _slice_mismatch_message(
    grid: Grid,
    series: SourceSeries,
    slice_offsets: np.ndarray,
    nearest: np.ndarray,
    distance: np.ndarray,
    z_tolerance: float,
) -> str:
    bad = np.flatnonzero(distance > z_tolerance)
    k = int(bad[0])
    plane = series.planes[int(nearest[k])]
    problems = [
        f"origin/spacing: {len(bad)} of {grid.size[2]} segmentation slices have no source image at their position "
        f"(tolerance {z_tolerance:.3g} mm); slice {k} at {_describe(grid.slice_position(k))} is {distance[k]:.4g} mm "
        f"from the nearest source image {plane.origin_name}"
    ]
    uniform = series.uniform_spacing()
    if uniform is not None and not np.isclose(uniform, grid.spacing[2], rtol=SPACING_TOLERANCE):
        problems.append(
            f"spacing: the segmentation's slices are {grid.spacing[2]:.6g} mm apart, the source images {uniform:.6g} mm"
        )
    offsets = series.plane_offsets()
    if slice_offsets.min() < offsets[0] - z_tolerance or slice_offsets.max() > offsets[-1] + z_tolerance:
        problems.append(
            f"size: the segmentation spans {slice_offsets.min():.4g} to {slice_offsets.max():.4g} mm along the slice "
            f"normal, the {len(offsets)} source images {offsets[0]:.4g} to {offsets[-1]:.4g} mm"
        )
    return _mismatch_message(problems)


# RAS (Slicer) <-> LPS (DICOM, ITK): negate the first two rows of the whole 4x4 matrix, direction and
# origin alike; flipping columns, or the origin only, goes wrong on oblique volumes.
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def grid_from_ijk_to_ras(ijk_to_ras: np.ndarray, size: tuple[int, int, int]) -> Grid:
    """The LPS grid of a Slicer volume from its IJKToRAS matrix and its (i, j, k) dimensions."""
    ijk_to_lps = RAS_TO_LPS @ np.asarray(ijk_to_ras, dtype=float)
    spacing = np.linalg.norm(ijk_to_lps[:3, :3], axis=0)
    if np.any(spacing <= 0):
        raise GeometryMismatchError(f"the volume's IJKToRAS matrix has a zero-length axis: {ijk_to_ras.tolist()}")
    return Grid(tuple(int(v) for v in size), spacing, ijk_to_lps[:3, 3].copy(), ijk_to_lps[:3, :3] / spacing)  # type: ignore[arg-type]


def ijk_to_ras_of(grid: Grid) -> np.ndarray:
    """The IJKToRAS matrix Slicer would give a volume on ``grid``."""
    ijk_to_lps = np.eye(4)
    ijk_to_lps[:3, :3] = grid.direction * grid.spacing
    ijk_to_lps[:3, 3] = grid.origin
    return RAS_TO_LPS @ ijk_to_lps


def image_from_slicer_array(array_kji: np.ndarray, ijk_to_ras: np.ndarray) -> sitk.Image:
    """A SimpleITK image (LPS) from a Slicer volume's voxel array (k, j, i order) and its IJKToRAS matrix."""
    size = (array_kji.shape[2], array_kji.shape[1], array_kji.shape[0])
    import SimpleITK as sitk

    return grid_from_ijk_to_ras(ijk_to_ras, size).apply_to(sitk.GetImageFromArray(array_kji))
