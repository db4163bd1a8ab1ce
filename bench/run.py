"""Whole-process benchmark of SegExport against its peers on the same generated data, in one run.

Usage: ``bash bench/bench.sh [--sizes S,L] [--data organs,totalseg,tiny1000,overlap] [--runs 3] [--tools ...]``
(which sets up the peers' environments with bench/setup.sh, then runs this file in ``.venv-bench/peers``).

Data (generated once into bench/work/): a synthetic 512 x 512 CT series of S = 120 or L = 400 slices, and
labelmaps on it: "organs" (10 large ellipsoids), "totalseg" (100 small ones), "tiny1000" (1000 tiny ones: many
segments, few voxels) and "overlap" (two layers whose segments overlap: the organs, and 5 large ellipsoids).
Every tool runs as its own process that reads the series headers and the labelmap and writes the SEG; GNU time
gives the wall time and peak RSS. Prints a Markdown table with medians and SegExport's ratios, and writes it,
with a phase profile of SegExport on each case (bench/profile_phases.py), to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
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

from profile_phases import profile_table  # noqa: E402
from sizes import small_organs  # noqa: E402

from SegExportLib.synthetic import make_ct_series  # noqa: E402
from SegExportLib.template import SegmentDescription, Template  # noqa: E402

SLICES = {"S": 120, "L": 400}
DATA = ("organs", "totalseg", "tiny1000", "overlap")
# A tool whose first run takes longer than this is not run again (its single time is reported).
REPEAT_LIMIT_S = 60.0
# A tool whose first run takes less than this runs at least QUICK_RUNS times: on a shared machine a single slow
# run (page faults served by the host, a busy neighbour) moves the median of three short runs noticeably.
QUICK_S = 5.0
QUICK_RUNS = 7
PEERS_PYTHON = PROJECT / ".venv-bench" / "peers" / "bin" / "python"
SEGEXPORT_PYTHON = PROJECT / ".venv-bench" / "segexport" / "bin" / "python"
PYDICOMSEG_PYTHON = PROJECT / ".venv-bench" / "pydicomseg" / "bin" / "python"


def large_organs(shape: tuple[int, int, int], seed: int = 1, count: int = 10, scale: float = 1.0) -> np.ndarray:
    """``count`` large ellipsoids side by side (later ones cut into earlier ones, so none overlap)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.uint8)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    for label in range(1, count + 1):
        center = (
            rng.uniform(0.3, 0.7) * shape[0],
            rng.uniform(0.25, 0.75) * shape[1],
            rng.uniform(0.25, 0.75) * shape[2],
        )
        radii = (
            rng.uniform(0.15, 0.3) * shape[0],
            rng.uniform(0.05, 0.12) * shape[1] * scale,
            rng.uniform(0.05, 0.12) * shape[2] * scale,
        )
        labels[
            ((z - center[0]) / radii[0]) ** 2 + ((y - center[1]) / radii[1]) ** 2 + ((x - center[2]) / radii[2]) ** 2
            <= 1
        ] = label
    return labels


def tiny_segments(shape: tuple[int, int, int], count: int, seed: int = 2) -> np.ndarray:
    """``count`` tiny boxes (2 to 6 voxels a side) scattered through the volume, labelled 1..count."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, dtype=np.uint16)
    for label in range(1, count + 1):
        size = rng.integers(2, 7, size=3)
        corner = [int(rng.integers(0, extent - side)) for extent, side in zip(shape, size)]
        labels[tuple(slice(c, c + int(n)) for c, n in zip(corner, size))] = label
    return labels


def layer_descriptions(count: int, first_number: int = 1) -> list[SegmentDescription]:
    return [
        SegmentDescription(label, label=f"Segment {first_number + label - 1}", algorithm_type="MANUAL")
        for label in range(1, count + 1)
    ]


def prepare(size: str, data: str) -> tuple[Path, list[Path], Path]:
    """(ct folder, label files, metainfo.json) for a case, generated on first use."""
    folder = BENCH / "work" / size
    ct = folder / "ct"
    if not (ct / f"CT{SLICES[size]:04d}.dcm").exists():
        make_ct_series(
            rows=512, columns=512, slices=SLICES[size], spacing=(0.8, 0.8, 1.5), pixel_data=True, seed=5
        ).write(ct)
    # The grid is deterministic, so the headers-only series describes the files written above.
    series = make_ct_series(rows=512, columns=512, slices=SLICES[size], spacing=(0.8, 0.8, 1.5), pixel_data=False)
    shape = (SLICES[size], 512, 512)
    layers = 2 if data == "overlap" else 1
    label_paths = (
        [folder / f"{data}-{n}.nrrd" for n in range(1, layers + 1)] if layers > 1 else [folder / f"{data}.nrrd"]
    )
    metainfo_path = folder / f"{data}.json"
    if not all(path.exists() for path in label_paths) or not metainfo_path.exists():
        if data == "organs":
            arrays = [large_organs(shape)]
        elif data == "totalseg":
            arrays = [small_organs(shape, 100)]
        elif data == "tiny1000":
            arrays = [tiny_segments(shape, 1000)]
        else:
            arrays = [large_organs(shape), large_organs(shape, seed=7, count=5, scale=1.5)]
        layers_of_descriptions = []
        for array, path in zip(arrays, label_paths):
            image = series.labelmap_image(array)
            image.SetOrigin(series.grid.origin.tolist())
            sitk.WriteImage(image, str(path))
            first = sum(len(d) for d in layers_of_descriptions) + 1
            layers_of_descriptions.append(layer_descriptions(int(array.max()), first))
        descriptions = [d for layer in layers_of_descriptions for d in layer]
        Template(descriptions, clinical_trial_coordinating_center_name="bench").save(metainfo_path, overwrite=True)
        if layers > 1:  # dcmqi's list of lists: one list per input file, labelIDs per file
            import json

            metainfo = json.loads(metainfo_path.read_text())
            flat = metainfo["segmentAttributes"][0]
            metainfo["segmentAttributes"] = [
                flat[: len(layers_of_descriptions[0])],
                flat[len(layers_of_descriptions[0]) :],
            ]
            metainfo_path.write_text(json.dumps(metainfo, indent=2))
    return ct, label_paths, metainfo_path


def commands(ct: Path, labels: list[Path], metainfo: Path, out: Path) -> dict[str, list[str]]:
    """The command line of every tool for a case; tools that cannot write overlapping segments are left out."""
    tools = BENCH / "tools"
    label_list = ",".join(str(path) for path in labels)
    common = [label_list, str(metainfo), str(ct), str(out)]
    segexport = [str(SEGEXPORT_PYTHON), str(tools / "write_segexport.py"), *common]
    highdicom = [str(PEERS_PYTHON), str(tools / "write_highdicom.py"), *common]
    overlapping = len(labels) > 1
    table = {
        "SegExport": segexport,
        "SegExport deflate": [*segexport, "--compression", "deflate"],
        "SegExport LABELMAP": [*segexport, "--labelmap"],
        "SegExport LABELMAP rle": [*segexport, "--labelmap", "--compression", "rle"],
        "SegExport LABELMAP deflate": [*segexport, "--labelmap", "--compression", "deflate"],
        "highdicom BINARY": highdicom,
        "highdicom LABELMAP": [*highdicom, "--labelmap"],
        "highdicom LABELMAP jpegls": [*highdicom, "--labelmap", "--jpegls"],
        "dcmqi": [
            str(PEERS_PYTHON.parent / "itkimage2segimage"),
            "--inputImageList",
            label_list,
            "--inputMetadata",
            str(metainfo),
            "--inputDICOMDirectory",
            str(ct),
            "--outputDICOM",
            str(out),
        ],
        "pydicom-seg": [str(PYDICOMSEG_PYTHON), str(tools / "write_pydicomseg.py"), *common],
    }
    if overlapping:
        for tool in (
            "SegExport LABELMAP",
            "SegExport LABELMAP rle",
            "SegExport LABELMAP deflate",
            "highdicom LABELMAP",
            "highdicom LABELMAP jpegls",
            "pydicom-seg",
        ):
            del table[tool]
    return table


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


def _runs_wanted(first_wall_s: float, runs: int) -> int:
    """How many runs a tool gets, from its first one: one when slow, more when quick (noise weighs more)."""
    if first_wall_s >= REPEAT_LIMIT_S:
        return 1
    return runs if first_wall_s >= QUICK_S else max(runs, QUICK_RUNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="S,L")
    parser.add_argument("--data", default=",".join(DATA))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default="", help="comma-separated tool names (default: all)")
    arguments = parser.parse_args()
    rows, profiles = [], []
    for size in arguments.sizes.split(","):
        for data in arguments.data.split(","):
            ct, labels, metainfo = prepare(size, data)
            out = BENCH / "work" / "out.dcm"
            selected = {
                tool: command
                for tool, command in commands(ct, labels, metainfo, out).items()
                if not arguments.tools or tool in arguments.tools.split(",")
            }
            runs = {tool: [measure(command, out)] for tool, command in selected.items()}
            wanted = {tool: _runs_wanted(first[0][0], arguments.runs) for tool, first in runs.items()}
            # The further runs go round the tools, so that a slow spell of this shared machine falls on all of
            # them alike instead of on whichever tool it happens to meet.
            while any(len(runs[tool]) < wanted[tool] for tool in selected):
                for tool, command in selected.items():
                    if len(runs[tool]) < wanted[tool]:
                        runs[tool].append(measure(command, out))
            results = {}
            for tool, taken in runs.items():
                results[tool] = (*(statistics.median(r[i] for r in taken) for i in range(4)), len(taken))
                print(f"{size} {data:9} {tool:26} {results[tool]}", file=sys.stderr)
            base = results.get("SegExport")
            for tool, (wall, rss, size_mb, frames, count) in results.items():
                time_ratio = f"{wall / base[0]:.1f}x" if base and tool != "SegExport" else ""
                rss_ratio = f"{rss / base[1]:.1f}x" if base and tool != "SegExport" else ""
                runs_note = "" if count >= arguments.runs else f" ({count} run)"
                rows.append(
                    f"| {size} {data} | {tool}{runs_note} | {wall:.2f} | {rss:.0f} | {size_mb:.2f} | {frames} "
                    f"| {time_ratio} | {rss_ratio} |"
                )
            if not arguments.tools or "SegExport" in arguments.tools.split(","):
                profiles.append((f"{size} {data}", profile_table(ct, labels, metainfo)))
    versions = subprocess.run(
        [str(PEERS_PYTHON), "-c", VERSIONS_SCRIPT], capture_output=True, text=True, check=True
    ).stdout.strip()
    header = [
        f"# Benchmark results ({datetime.date.today()})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {_memory_gb():.0f} GB; {versions}; "
        f"median of {arguments.runs} whole-process runs ({QUICK_RUNS} for a tool taking under {QUICK_S:.0f} s, "
        f"one for a tool taking over {REPEAT_LIMIT_S:.0f} s); "
        "`bash bench/bench.sh`.",
        "",
        "Ratios are the peer's figure over SegExport's (BINARY, uncompressed) on the same case: above 1 means "
        "SegExport is faster or smaller.",
        "",
        "| data | tool | wall s | peak RSS MB | file MB | frames | time / SegExport | RSS / SegExport |",
        "|---|---|---|---|---|---|---|---|",
    ]
    sections = header + rows
    if profiles:
        sections += ["", "## Where SegExport's time goes", "", PROFILE_NOTE, ""]
        for case, table in profiles:
            sections += [f"### {case}", "", table, ""]
    text = "\n".join(sections).rstrip() + "\n"
    (BENCH / "RESULTS.md").write_text(text)
    print(text)


VERSIONS_SCRIPT = (
    "import platform, pydicom, numpy, SimpleITK, highdicom; "
    "print(f'Python {platform.python_version()}, pydicom {pydicom.__version__}, numpy {numpy.__version__}, "
    "SimpleITK {SimpleITK.Version.VersionString()}, highdicom {highdicom.__version__}, dcmqi 1.5.7, "
    "pydicom-seg 0.4.1 (Python 3.9, pydicom 2.4)')"
)

PROFILE_NOTE = (
    "One in-process run of the whole export (`bench/profile_phases.py`), each phase timed by wrapping the core "
    "function that does it; 'other' is the rest of the writer (frame planning). BINARY frames are packed while "
    "the file is written: that time is counted as packing, not as writing."
)


def _memory_gb() -> float:
    with open("/proc/meminfo") as meminfo:
        return int(meminfo.readline().split()[1]) / 1024**2


if __name__ == "__main__":
    main()
