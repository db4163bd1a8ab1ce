"""Export a segmentation as a DICOM SEG, end to end, on generated sample data.

Builds a synthetic CT series (real DICOM files) and a three-organ labelmap on its grid,
writes the SEG with SegExportLib, reads it back, checks every voxel, and runs
dciodvfy on it when dicom3tools is installed. Usage: python examples/export_demo.py [OUTPUT_FOLDER]
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pydicom

from SegExportLib import MultiClassReader, MultiClassWriter, write_file
from SegExportLib.codes import Code
from SegExportLib.synthetic import make_ct_series, make_labelmap
from SegExportLib.template import SegmentDescription, Template

ANATOMY = Code("123037004", "SCT", "Anatomical Structure")
ORGANS = [
    ("Liver", Code("10200004", "SCT", "Liver"), (221, 130, 101)),
    ("Spleen", Code("78961009", "SCT", "Spleen"), (157, 108, 162)),
    ("Right kidney", Code("64033007", "SCT", "Kidney"), (185, 102, 83)),
]


def main(output_root: Path) -> int:
    folder = output_root / datetime.datetime.now().strftime("run-%Y%m%d-%H%M%S-%f")
    series = make_ct_series(rows=96, columns=80, slices=24, spacing=(0.9, 0.9, 2.5), orientation="oblique")
    ct_files = series.write(folder / "ct")
    labels = make_labelmap(series, segment_count=len(ORGANS), seed=11)

    template = Template(
        [
            SegmentDescription(label, label=name, algorithm_type="MANUAL", category=ANATOMY, type=code, display_rgb=rgb)
            for label, (name, code, rgb) in enumerate(ORGANS, start=1)
        ],
        series_description="Demo organs",
        content_creator_name="Demo^Reader",
    )
    template.save(folder / "metainfo.json")

    started = time.perf_counter()
    sources = [pydicom.dcmread(path, stop_before_pixels=True) for path in ct_files]
    writer = MultiClassWriter(template, skip_empty_slices=True)
    seg_path = write_file(writer.write(series.labelmap_image(labels), sources), folder / "segmentation.dcm")
    elapsed = time.perf_counter() - started

    decoded = MultiClassReader().read(seg_path, ct_files)
    identical = bool(np.array_equal(decoded.data, labels))
    print(f"CT series:     {len(ct_files)} files in {folder / 'ct'}")
    print(f"template:      {folder / 'metainfo.json'}")
    print(
        f"SEG:           {seg_path} ({seg_path.stat().st_size / 1024:.0f} KiB, "
        f"{writer.last_report.frame_count} frames, {len(ORGANS)} segments, {elapsed:.2f} s)"
    )
    print(f"read back:     {'identical to the input labelmap' if identical else 'DIFFERENT from the input!'}")
    verdict_ok = True
    if shutil.which("dciodvfy"):
        result = subprocess.run(["dciodvfy", str(seg_path)], stdin=subprocess.DEVNULL, capture_output=True, text=True)
        errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
        verdict_ok = not errors
        print(f"dciodvfy:      {len(errors)} errors" + "".join(f"\n  {line}" for line in errors))
    else:
        print("dciodvfy:      not installed (Debian package dicom3tools); conformance not checked")
    return 0 if identical and verdict_ok else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output")))
