"""Whole-process benchmark of SegExport against its peers on the same generated data, in one run.

Usage (after ``bash bench/setup.sh``):
    .venv-bench/peers/bin/python bench/run.py [--sizes S,L] [--data organs,totalseg] [--runs 3]

Data (generated once into bench/work/): a synthetic 512 x 512 CT series of S = 120 or L = 400 slices, and two
labelmaps on it: "organs" (10 large ellipsoids) and "totalseg" (100 small ones). Every tool runs as its own
process that reads the series headers and the labelmap and writes the SEG; GNU time gives the wall time and
peak RSS. Prints a Markdown table with medians and SegExport's ratios, and writes it to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(PROJECT / "SegExport"))
sys.path.insert(0, str(BENCH))

from sizes import small_organs  # noqa: E402

from SegExportLib.synthetic import make_ct_series  # noqa: E402
from SegExportLib.template import SegmentDescription, Template  # noqa: E402

SLICES = {"S": 120, "L": 400}
PEERS_PYTHON = PROJECT / ".venv-bench" / "peers" / "bin" / "python"
PYDICOMSEG_PYTHON = PROJECT / ".venv-bench" / "pydicomseg" / "bin" / "python"


def large_organs(shape: tuple[int, int, int], seed: int = 1) -> np.ndarray:
    """10 large ellipsoids side by side (later ones cut into earlier ones, so none overlap)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.uint8)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    for label in range(1, 11):
        center = (
            rng.uniform(0.3, 0.7) * shape[0],
            rng.uniform(0.25, 0.75) * shape[1],
            rng.uniform(0.25, 0.75) * shape[2],
        )
        radii = (
            rng.uniform(0.15, 0.3) * shape[0],
            rng.uniform(0.05, 0.12) * shape[1],
            rng.uniform(0.05, 0.12) * shape[2],
        )
        labels[
            ((z - center[0]) / radii[0]) ** 2 + ((y - center[1]) / radii[1]) ** 2 + ((x - center[2]) / radii[2]) ** 2
            <= 1
        ] = label
    return labels


def prepare(size: str, data: str) -> tuple[Path, Path, Path]:
    """(ct folder, labels.nrrd, metainfo.json) for a case, generated on first use."""
    folder = BENCH / "work" / size
    ct = folder / "ct"
    series = make_ct_series(
        rows=512, columns=512, slices=SLICES[size], spacing=(0.8, 0.8, 1.5), pixel_data=True, seed=5
    )
    if not (ct / f"CT{SLICES[size]:04d}.dcm").exists():
        series.write(ct)
    else:  # reuse the files: the grid is what matters, and it is deterministic
        series = make_ct_series(rows=512, columns=512, slices=SLICES[size], spacing=(0.8, 0.8, 1.5), pixel_data=False)
    labels_path, metainfo_path = folder / f"{data}.nrrd", folder / f"{data}.json"
    if not labels_path.exists():
        shape = (SLICES[size], 512, 512)
        labels = large_organs(shape) if data == "organs" else small_organs(shape, 100)
        image = series.labelmap_image(labels)
        image.SetOrigin(series.grid.origin.tolist())
        sitk.WriteImage(image, str(labels_path))
        count = int(labels.max())
        Template(
            [SegmentDescription(n, label=f"Segment {n}", algorithm_type="MANUAL") for n in range(1, count + 1)],
            clinical_trial_coordinating_center_name="bench",
        ).save(metainfo_path, overwrite=True)
    return ct, labels_path, metainfo_path


def commands(ct: Path, labels: Path, metainfo: Path, out: Path) -> dict[str, list[str]]:
    tools = BENCH / "tools"
    common = [str(labels), str(metainfo), str(ct), str(out)]
    return {
        "SegExport": [str(PEERS_PYTHON), str(tools / "write_segexport.py"), *common],
        "SegExport deflate": [
            str(PEERS_PYTHON),
            str(tools / "write_segexport.py"),
            *common,
            "--compression",
            "deflate",
        ],
        "SegExport LABELMAP": [str(PEERS_PYTHON), str(tools / "write_segexport.py"), *common, "--labelmap"],
        "highdicom BINARY": [str(PEERS_PYTHON), str(tools / "write_highdicom.py"), *common],
        "highdicom LABELMAP": [str(PEERS_PYTHON), str(tools / "write_highdicom.py"), *common, "--labelmap"],
        "dcmqi": [
            str(PEERS_PYTHON.parent / "itkimage2segimage"),
            "--inputImageList",
            str(labels),
            "--inputMetadata",
            str(metainfo),
            "--inputDICOMDirectory",
            str(ct),
            "--outputDICOM",
            str(out),
        ],
        "pydicom-seg": [str(PYDICOMSEG_PYTHON), str(tools / "write_pydicomseg.py"), *common],
    }


def measure(command: list[str], out: Path) -> tuple[float, float, float, int]:
    """(wall s, peak RSS MB, file MB, frames) of one whole-process run."""
    out.unlink(missing_ok=True)
    result = subprocess.run(
        ["/usr/bin/time", "-f", "TIME %e %M", *command],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    line = [line for line in result.stderr.splitlines() if line.startswith("TIME ")]
    if result.returncode != 0 or not line or not out.exists():
        raise RuntimeError(f"{command[1]} failed ({result.returncode}):\n{result.stderr[-1500:]}")
    _, wall, rss_kb = line[-1].split()
    frames = int(pydicom.dcmread(out, stop_before_pixels=True).get("NumberOfFrames", 0))
    return float(wall), int(rss_kb) / 1024, out.stat().st_size / 1e6, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="S,L")
    parser.add_argument("--data", default="organs,totalseg")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default="")
    arguments = parser.parse_args()
    rows = []
    for size in arguments.sizes.split(","):
        for data in arguments.data.split(","):
            ct, labels, metainfo = prepare(size, data)
            out = BENCH / "work" / "out.dcm"
            results = {}
            for tool, command in commands(ct, labels, metainfo, out).items():
                if arguments.tools and tool not in arguments.tools.split(","):
                    continue
                runs = [measure(command, out) for _ in range(arguments.runs)]
                results[tool] = tuple(statistics.median(r[i] for r in runs) for i in range(4))
                print(f"{size} {data:9} {tool:20} {results[tool]}", file=sys.stderr)
            base = results.get("SegExport")
            for tool, (wall, rss, size_mb, frames) in results.items():
                ratio = f"{wall / base[0]:.1f}x" if base and tool != "SegExport" else ""
                rows.append(f"| {size} {data} | {tool} | {wall:.2f} | {rss:.0f} | {size_mb:.2f} | {frames} | {ratio} |")
    header = [
        f"# Benchmark results ({datetime.date.today()})",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}; "
        f"median of {arguments.runs} whole-process runs; `python bench/run.py` after `bash bench/setup.sh`.",
        "",
        "| data | tool | wall s | peak RSS MB | file MB | frames | peer time / SegExport time |",
        "|---|---|---|---|---|---|---|",
    ]
    text = "\n".join(header + rows) + "\n"
    (BENCH / "RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
