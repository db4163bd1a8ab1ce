"""The main job on sample data that needs no download: Slicer's own sample segmentation, exported as a DICOM SEG.

The CT volume and the Slicer ``.seg.nrrd`` that ship inside the slicerio package are used as a user would:
the CT (a NRRD file, not DICOM) is written as a new DICOM CT series, the segmentation is exported as a SEG
referring to it, the SEG is read back and compared voxel by voxel with the ``.seg.nrrd``, validated with
dciodvfy (when dicom3tools is installed) and drawn as a PNG overview. Every step runs the ``segexport``
command, so the output shows the commands to use on your own data.

Usage: python examples/seg_nrrd_demo.py [OUTPUT_FOLDER]
"""

from __future__ import annotations

import datetime
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import slicerio

from SegExportLib import SegmentReader


def run(command: list[str]) -> None:
    print("$ " + " ".join(shlex.quote(part) for part in command), flush=True)
    subprocess.run(command, check=True)


def main(output_root: Path) -> int:
    data = Path(slicerio.__file__).parent / "data"
    folder = output_root / datetime.datetime.now().strftime("run-%Y%m%d-%H%M%S-%f")
    folder.mkdir(parents=True)
    segexport = [sys.executable, "-m", "SegExportLib"]
    seg_path, png_path, ct_folder = folder / "segmentation.dcm", folder / "overview.png", folder / "ct"
    run(
        [
            *segexport, "export", str(data / "Segmentation.seg.nrrd"),
            "--volume", str(data / "CTChest4.nrrd"), "--volume-output", str(ct_folder),
            "--patient-name", "Sample^Chest", "--patient-id", "SLICERIO-CT", "--study-description", "SegExport demo",
            "--series-description", "Chest segments", "--compression", "deflate", "-o", str(seg_path),
        ]
    )  # fmt: skip
    original = slicerio.read_segmentation(str(data / "Segmentation.seg.nrrd"))
    result = SegmentReader().read(seg_path, sorted(ct_folder.glob("*.dcm")))
    identical = all(
        np.array_equal(result.segment_data(number), (original["voxels"] == segment["labelValue"]).transpose(2, 1, 0))
        for number, segment in enumerate(original["segments"], start=1)
    )
    print(f"read back: {'every segment identical to the .seg.nrrd' if identical else 'DIFFERENT from the .seg.nrrd!'}")
    verdict_ok = True
    if shutil.which("dciodvfy") and shutil.which("dcmconv"):
        # Debian's dciodvfy cannot read Deflate: check an uncompressed copy made by dcmtk.
        plain = folder / "segmentation-uncompressed.dcm"
        subprocess.run(["dcmconv", "+te", str(seg_path), str(plain)], check=True)
        check = subprocess.run(["dciodvfy", str(plain)], stdin=subprocess.DEVNULL, capture_output=True, text=True)
        errors = [line for line in (check.stdout + check.stderr).splitlines() if line.startswith("Error")]
        verdict_ok = not errors
        print(f"dciodvfy: {len(errors)} errors" + "".join(f"\n  {line}" for line in errors))
        plain.unlink()
    else:
        print("dciodvfy: not installed (Debian packages dicom3tools and dcmtk); conformance not checked")
    run([*segexport, "inspect", str(seg_path), "--series", str(ct_folder), "--png", str(png_path)])
    print(f"\nall outputs are in {folder}")
    return 0 if identical and verdict_ok else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-output")))
