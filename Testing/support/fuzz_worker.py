"""Run one parser of ours over many hostile input files, in a separate, memory-limited process.

Usage: python fuzz_worker.py KIND CASES_DIR RESULT.json
KIND is metainfo, terminology, segnrrd, nrrd or seg. Writes, per case file, the outcome: "ok", or the name of the
exception raised and whether it is one of SegExport's named errors. The parent test sets the memory limit and
the timeout, so an unbounded allocation or a hang shows up as this process dying or being killed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "SegExport"))

from SegExportLib.errors import SegExportError


def parse(kind: str, path: Path) -> None:
    if kind == "metainfo":
        from SegExportLib.template import from_dcmqi_metainfo

        from_dcmqi_metainfo(path)
    elif kind == "terminology":
        from SegExportLib.terminology import parse_terminology_entry

        parse_terminology_entry(path.read_bytes().decode("utf-8", errors="replace"))
    elif kind == "segnrrd":
        from SegExportLib.segnrrd import read_seg_nrrd

        read_seg_nrrd(path)
    elif kind == "nrrd":
        from SegExportLib.volume import read_nrrd

        volume = read_nrrd(path)
        if volume is not None:
            int(volume.array.sum())
    elif kind == "seg":
        from SegExportLib import SegmentReader
        from SegExportLib.overview import inspect_seg

        result = SegmentReader().read(path)
        for number in sorted(result.available_segments):
            result.segment_data(number)
        inspect_seg(path)
    else:
        raise SystemExit(f"unknown kind {kind}")


def main(kind: str, folder: Path, output: Path) -> None:
    outcomes = []
    for path in sorted(folder.iterdir()):
        started = time.perf_counter()
        try:
            parse(kind, path)
            outcome, named = "ok", True
        except SegExportError as exc:
            outcome, named = type(exc).__name__, True
        except Exception as exc:  # what the test is looking for: anything else is a defect
            outcome, named = f"{type(exc).__name__}: {str(exc)[:200]}", False
        outcomes.append(
            {"case": path.name, "outcome": outcome, "named": named, "seconds": time.perf_counter() - started}
        )
    output.write_text(json.dumps(outcomes, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
