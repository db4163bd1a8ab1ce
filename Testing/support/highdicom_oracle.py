"""Decode a SEG with highdicom and save per-segment, per-source-instance masks (run as a script).

Usage: python highdicom_oracle.py SEG OUT.npz SOURCE...
Runs in a separate interpreter (highdicom needs pydicom 3), so it imports nothing of SegExport.
Frames the size of the source images are mapped to source instances by highdicom's
``get_pixels_by_source_instance``; cropped frames (smaller than the sources, which that API
does not place) go through highdicom's ``get_volume``, sampled at each source pixel's position.
"""

from __future__ import annotations

import sys

import highdicom as hd
import numpy as np
import pydicom


def _by_instance(seg: hd.seg.Segmentation, sources: list[pydicom.Dataset]) -> dict[str, np.ndarray]:
    given = {str(ds.SOPInstanceUID) for ds in sources}
    referenced = [str(uid) for _, _, uid in seg.get_source_image_uids() if str(uid) in given]
    arrays = {}
    for number in seg.segment_numbers:
        pixels = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=referenced,
            segment_numbers=[number],
            combine_segments=False,
            ignore_spatial_locations=True,
            rescale_fractional=True,
            skip_overlap_checks=True,
        )
        for uid, mask in zip(referenced, pixels[..., 0]):
            arrays[f"{number}|{uid}"] = mask
    return arrays


def _by_volume(seg: hd.seg.Segmentation, sources: list[pydicom.Dataset]) -> dict[str, np.ndarray]:
    arrays = {}
    for number in seg.segment_numbers:
        volume = seg.get_volume(segment_numbers=[number], combine_segments=False, skip_overlap_checks=True)
        data = volume.array[..., 0] if volume.array.ndim == 4 else volume.array
        to_index = np.linalg.inv(volume.affine)
        for ds in sources:
            origin = np.array([float(v) for v in ds.ImagePositionPatient])
            iop = np.array([float(v) for v in ds.ImageOrientationPatient])
            row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
            rows, columns = int(ds.Rows), int(ds.Columns)
            start = to_index[:3, :3] @ origin + to_index[:3, 3]
            per_column = to_index[:3, :3] @ (iop[:3] * column_spacing)
            per_row = to_index[:3, :3] @ (iop[3:] * row_spacing)
            y, x = np.mgrid[:rows, :columns]
            index = start + x[..., None] * per_column + y[..., None] * per_row
            rounded = np.rint(index).astype(int)
            if np.abs(index - rounded).max() > 0.05:
                continue  # this instance does not lie on the volume's voxel grid
            inside = np.all((rounded >= 0) & (rounded < np.array(data.shape)), axis=-1)
            mask = np.zeros((rows, columns), dtype=data.dtype)
            mask[inside] = data[tuple(rounded[inside].T)]
            if mask.any():
                arrays[f"{number}|{ds.SOPInstanceUID}"] = mask
    return arrays


def main(seg_path: str, out_path: str, source_paths: list[str]) -> None:
    seg = hd.seg.segread(seg_path)
    sources = [pydicom.dcmread(p, stop_before_pixels=True) for p in source_paths]
    same_size = all((int(ds.Rows), int(ds.Columns)) == (int(seg.Rows), int(seg.Columns)) for ds in sources)
    arrays = _by_instance(seg, sources) if same_size else _by_volume(seg, sources)
    np.savez_compressed(out_path, **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
