"""Where SegExport's time goes on one case: each phase of an export timed by wrapping the core function doing it.

Usage: python bench/profile_phases.py LABELS[,LABELS2] METAINFO.json CT_DIR
Prints a Markdown table (phase, seconds, share). Used by bench/run.py for bench/RESULTS.md.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import functools  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

from SegExportLib import encode, export, functional_groups, template, volume, writer  # noqa: E402
from SegExportLib.source import SourceSeries  # noqa: E402

IMPORTED = time.perf_counter()

# SegExport's own environment (bench/setup.sh): what its users install, as each peer runs in its users' one.
SEGEXPORT_PYTHON = Path(__file__).resolve().parent.parent / ".venv-bench" / "segexport" / "bin" / "python"

seconds: dict[str, float] = defaultdict(float)


def timed(phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[phase] += time.perf_counter() - started

    return wrapper


PHASES = [
    ("read labelmap (NRRD, numpy)", volume, "read_image"),
    ("read source headers (first in full, the others scanned)", export, "read_source_headers"),
    ("source geometry and checks", SourceSeries, "from_datasets"),
    ("match labelmap slices to source images", writer, "match_slices"),
    ("find labels, their slices and rows", writer, "summarize_labels"),
    ("bit packing (while writing)", encode.BinaryFramePacker, "put_label_bands"),
    ("per-frame functional groups", functional_groups.PerFrameGroupsEncoder, "encode"),
    ("dataset assembly", writer._SegWriter, "_build_dataset"),
    ("file write (atomic, fsync; packing not counted)", export, "write_file"),
]
WRITERS = [("MultiClassWriter", writer.MultiClassWriter), ("LayeredWriter", writer.LayeredWriter)]


def install() -> None:
    for phase, owner, name in PHASES:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        if isinstance(original, classmethod):
            setattr(owner, name, classmethod(timed(phase, original.__func__)))
        else:
            setattr(owner, name, timed(phase, original))
    for _, cls in WRITERS:
        cls.encode = timed("writer total", cls.encode)


def run(labels: list[str], metainfo: str, ct_dir: str) -> str:
    install()
    images = [volume.read_image(path) for path in labels]
    loaded = template.from_dcmqi_metainfo(metainfo)
    with tempfile.TemporaryDirectory(dir=Path(ct_dir).parent) as folder:
        export.export_seg(
            images[0] if len(images) == 1 else images,
            loaded,
            sorted(Path(ct_dir).glob("*.dcm")),
            Path(folder) / "seg.dcm",
        )
    total = time.perf_counter() - STARTED
    # BINARY frames are packed chunk by chunk inside write_file: count that time once, as packing.
    seconds["file write (atomic, fsync; packing not counted)"] -= seconds["bit packing (while writing)"]
    inner = [phase for phase, _, _ in PHASES if phase not in ("read labelmap (NRRD, numpy)",)]
    writer_inner = sum(seconds[p] for p in inner[1:-1] if p != "bit packing (while writing)")
    rows = [("Python imports (pydicom, numpy, SegExportLib)", IMPORTED - STARTED)]
    rows += [(phase, seconds[phase]) for phase, _, _ in PHASES if seconds[phase] > 0]
    rows.append(("writer: other (frame planning)", seconds["writer total"] - writer_inner))
    rows.append(("not attributed (template loading, summary)", total - sum(s for _, s in rows)))
    lines = ["| phase | s | share |", "|---|---|---|"]
    lines += [f"| {phase} | {value:.3f} | {value / total:.0%} |" for phase, value in rows]
    lines.append(f"| **total in process** | {total:.3f} | |")
    return "\n".join(lines)


def profile_table(ct: Path, labels: list[Path], metainfo: Path) -> str:
    """The table for one case, measured in a fresh process (so imports count as they do for a user)."""
    result = subprocess.run(
        [str(SEGEXPORT_PYTHON), __file__, ",".join(map(str, labels)), str(metainfo), str(ct)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


if __name__ == "__main__":
    print(run(sys.argv[1].split(","), sys.argv[2], sys.argv[3]))
