"""Decode a SEG with highdicom and save per-segment, per-source-instance masks (run as a script).

Usage: python highdicom_oracle.py SEG OUT.npz SOURCE...
Runs in a separate interpreter (highdicom needs pydicom 3), so it imports nothing of SegExport.
"""

from __future__ import annotations

import sys

import highdicom as hd
import numpy as np
import pydicom


def main(seg_path: str, out_path: str, source_paths: list[str]) -> None:
    seg = hd.seg.segread(seg_path)
    given = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in source_paths}
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
    np.savez_compressed(out_path, **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
