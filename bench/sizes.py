"""File size and time of each SEG type and compression on a TotalSegmentator-like case, generated here.

Usage: python bench/sizes.py [--slices 400] [--segments 100]
A synthetic 512 x 512 CT series (headers only) and a labelmap of small ellipsoids; every variant is written
to a temporary folder and removed. Prints a Markdown table. (The peer comparison is bench/'s main job.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "SegExport"))

from SegExportLib import MultiClassWriter, write_file
from SegExportLib.synthetic import make_ct_series
from SegExportLib.template import SegmentDescription, Template

VARIANTS = [("BINARY", None), ("BINARY", "deflate"), ("LABELMAP", None), ("LABELMAP", "rle"), ("LABELMAP", "deflate")]


def small_organs(shape: tuple[int, int, int], count: int, seed: int = 0) -> np.ndarray:
    """``count`` ellipsoids (a few cm) spread through the volume, labelled 1..count."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, dtype=np.uint8 if count < 256 else np.uint16)
    slices, rows, columns = shape
    for label in range(1, count + 1):
        radius = np.array([rng.integers(8, 40), rng.integers(8, 30), rng.integers(8, 30)])
        center = np.array([rng.integers(20, slices - 20), rng.integers(60, rows - 60), rng.integers(60, columns - 60)])
        low, high = np.maximum(center - radius, 0), np.minimum(center + radius, shape)
        z, y, x = np.ogrid[low[0] : high[0], low[1] : high[1], low[2] : high[2]]
        inside = ((z - center[0]) / radius[0]) ** 2 + ((y - center[1]) / radius[1]) ** 2 + (
            (x - center[2]) / radius[2]
        ) ** 2 <= 1
        labels[low[0] : high[0], low[1] : high[1], low[2] : high[2]][inside] = label
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=400)
    parser.add_argument("--segments", type=int, default=100)
    arguments = parser.parse_args()
    series = make_ct_series(rows=512, columns=512, slices=arguments.slices, spacing=(0.8, 0.8, 1.5), pixel_data=False)
    image = series.labelmap_image(small_organs((arguments.slices, 512, 512), arguments.segments))
    template = Template(
        [SegmentDescription(n, label=f"Organ {n}", algorithm_type="MANUAL") for n in range(1, arguments.segments + 1)]
    )
    print(f"{arguments.slices} slices of 512 x 512, {arguments.segments} segments\n")
    print("| type | compression | frames | encode s | save s | MB |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for segmentation_type, compression in VARIANTS:
            started = time.perf_counter()
            writer = MultiClassWriter(template, segmentation_type=segmentation_type, compression=compression)
            dataset = writer.write(image, series.datasets)
            encoded = time.perf_counter()
            path = write_file(dataset, Path(folder) / f"{segmentation_type}-{compression}.dcm")
            saved = time.perf_counter()
            print(
                f"| {segmentation_type} | {compression or 'none'} | {dataset.NumberOfFrames} | {encoded - started:.2f} "
                f"| {saved - encoded:.2f} | {path.stat().st_size / 1e6:.2f} |"
            )
            path.unlink()


if __name__ == "__main__":
    main()
