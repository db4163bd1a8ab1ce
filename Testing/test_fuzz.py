"""Fuzzing every parser we own with random and mutated inputs (real files from ../shared/testdata and slicerio).

Each parser runs in its own process with a memory limit and a timeout: it may accept an input or refuse it with
one of SegExport's named errors, but never raise anything else, hang, or exhaust memory. The seed is fixed
(SEGEXPORT_FUZZ_SEED overrides it, SEGEXPORT_FUZZ_SCALE multiplies the number of cases) and reported, with the
counts, in the hostile-input table (Testing/README.md).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
import pytest

from support.hostile import record

SEED = int(os.environ.get("SEGEXPORT_FUZZ_SEED", "20261125"))
SCALE = float(os.environ.get("SEGEXPORT_FUZZ_SCALE", "1"))
MEMORY_LIMIT = 3 << 30
TIMEOUT_S = 600
WORKER = Path(__file__).parent / "support" / "fuzz_worker.py"

HOSTILE_VALUES = [
    None, 0, -1, 1, 2**31, 2**64, 1e308, -1e308, float("nan"), "", " ", "x" * 5000, "\u0000", "\ud7ff\u2028",
    [], {}, [[]], [None], {"": None}, True, "1.2.3", "SCT", "^^^", "~~~", "\\", 3.5,
]  # fmt: skip


def cases(count: int) -> int:
    return max(1, int(count * SCALE))


def run_worker(kind: str, folder: Path, tmp_path: Path) -> list[dict]:
    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    output = tmp_path / f"{kind}-outcomes.json"
    environment = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1",
    }
    try:
        result = subprocess.run(
            [sys.executable, str(WORKER), kind, str(folder), str(output)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            preexec_fn=limit_memory,
            env=environment,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the {kind} parser did not finish {len(list(folder.iterdir()))} inputs in {TIMEOUT_S} s (a hang?)")
    assert result.returncode == 0, f"the {kind} worker died (memory limit?):\n{result.stderr[-3000:]}"
    return json.loads(output.read_text())


def check(kind: str, category: str, outcomes: list[dict], note: str) -> None:
    unnamed = [o for o in outcomes if not o["named"]]
    counts = Counter("accepted" if o["outcome"] == "ok" else o["outcome"] for o in outcomes)
    record(category, len(outcomes), counts, f"{note}; seed {SEED}", passed=not unnamed)
    slowest = max(o["seconds"] for o in outcomes)
    assert not unnamed, f"{len(unnamed)} inputs raised something else than a named error, e.g. {unnamed[:3]}"
    assert slowest < 60, f"one {kind} input took {slowest:.0f} s"


def mutate_json(value: object, rng: np.random.Generator) -> object:
    """Replace, delete or duplicate one random node of a JSON document."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = list(value)[rng.integers(len(value))]
        copy = dict(value)
        action = rng.random()
        if action < 0.25:
            del copy[key]
        elif action < 0.5:
            copy[key] = HOSTILE_VALUES[rng.integers(len(HOSTILE_VALUES))]
        else:
            copy[key] = mutate_json(value[key], rng)
        return copy
    if isinstance(value, list) and value and rng.random() < 0.8:
        index = int(rng.integers(len(value)))
        copy = list(value)
        action = rng.random()
        if action < 0.2:
            del copy[index]
        elif action < 0.35:
            copy.append(copy[index])
        else:
            copy[index] = mutate_json(value[index], rng)
        return copy
    return HOSTILE_VALUES[rng.integers(len(HOSTILE_VALUES))]


def mutate_bytes(data: bytes, rng: np.random.Generator, edits: int = 4) -> bytes:
    buffer = bytearray(data)
    for _ in range(edits):
        action = rng.random()
        position = int(rng.integers(len(buffer))) if buffer else 0
        if action < 0.4 and buffer:
            buffer[position] = int(rng.integers(256))
        elif action < 0.6:
            buffer[position:position] = bytes(rng.integers(0, 256, size=int(rng.integers(1, 16)), dtype=np.uint8))
        elif action < 0.8 and buffer:
            del buffer[position : position + int(rng.integers(1, 64))]
        else:
            buffer = buffer[: max(position, 1)]
    return bytes(buffer)


def test_metainfo_parser(testdata: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(SEED)
    originals = sorted((testdata / "dcmqi-ct3slice" / "json").glob("*.json"))
    folder = tmp_path / "metainfo"
    folder.mkdir()
    for index in range(cases(400)):
        source = originals[index % len(originals)]
        if index % 4 == 3:
            data = mutate_bytes(source.read_bytes(), rng)
        else:
            document = json.loads(source.read_text())
            for _ in range(int(rng.integers(1, 4))):
                document = mutate_json(document, rng)
            data = json.dumps(document, allow_nan=True).encode()
        (folder / f"{index:04d}.json").write_bytes(data)
    outcomes = run_worker("metainfo", folder, tmp_path)
    check("metainfo", "dcmqi metainfo JSON", outcomes, f"mutations of the {len(originals)} dcmqi test templates")


def test_terminology_parser(slicerio_data: Path, tmp_path: Path) -> None:
    import slicerio

    rng = np.random.default_rng(SEED + 1)
    entries = []
    for name in ("Segmentation.seg.nrrd", "SegmentationOverlapping.seg.nrrd"):
        header = (slicerio_data / name).read_bytes()[:20000].decode("latin-1")
        entries += [
            line.split("TerminologyEntry:", 1)[1].split("|")[0]
            for line in header.splitlines()
            if "TerminologyEntry:" in line
        ]
    assert entries and slicerio
    folder = tmp_path / "terminology"
    folder.mkdir()
    alphabet = list("~^|:,;=\\ \u00e9\u4e2d\x00abcSCT0123456789")
    for index in range(cases(1500)):
        text = entries[index % len(entries)]
        if index % 5 == 4:
            text = "".join(rng.choice(alphabet, size=int(rng.integers(0, 80))))
        else:
            for _ in range(int(rng.integers(1, 6))):
                position = int(rng.integers(len(text) + 1))
                if rng.random() < 0.5:
                    text = text[:position] + str(rng.choice(alphabet)) + text[position:]
                else:
                    text = text[:position] + text[position + int(rng.integers(1, 10)) :]
        (folder / f"{index:04d}.txt").write_bytes(text.encode("utf-8", errors="surrogatepass"))
    outcomes = run_worker("terminology", folder, tmp_path)
    check(
        "terminology",
        "Slicer TerminologyEntry strings",
        outcomes,
        "mutations of slicerio's sample entries, random text",
    )


def mutate_nrrd(data: bytes, index: int, rng: np.random.Generator) -> bytes:
    """Mutate an NRRD file: header fields (deleted, given hostile values, sizes made huge or negative) three
    times in four, its bytes otherwise."""
    end = data.index(b"\n\n") + 2
    lines = data[:end].decode("latin-1").split("\n")
    if index % 4 == 3:
        return mutate_bytes(data, rng, edits=2)
    for _ in range(int(rng.integers(1, 4))):
        target = int(rng.integers(1, len(lines) - 2))
        key = lines[target].split(":", 1)[0]
        value = str(HOSTILE_VALUES[rng.integers(len(HOSTILE_VALUES))])
        choice = rng.random()
        if choice < 0.3:
            del lines[target]
        elif choice < 0.5 and key in ("sizes", "dimension", "space directions", "space origin"):
            lines[target] = f"{key}: " + " ".join(str(int(v)) for v in rng.integers(-5, 10**7, size=3))
        else:
            separator = ":=" if ":=" in lines[target] else ": "
            lines[target] = f"{key}{separator}{value}"
    return "\n".join(lines).encode("latin-1", errors="replace") + data[end:]


def test_seg_nrrd_reader(slicerio_data: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(SEED + 2)
    originals = [
        (slicerio_data / n).read_bytes() for n in ("Segmentation.seg.nrrd", "SegmentationOverlapping.seg.nrrd")
    ]
    folder = tmp_path / "segnrrd"
    folder.mkdir()
    for index in range(cases(160)):
        (folder / f"{index:04d}.seg.nrrd").write_bytes(mutate_nrrd(originals[index % 2], index, rng))
    outcomes = run_worker("segnrrd", folder, tmp_path)
    check("segnrrd", "Slicer .seg.nrrd files", outcomes, "header fields and bytes of slicerio's two samples mutated")


def test_nrrd_labelmap_reader(testdata: Path, slicerio_data: Path, tmp_path: Path) -> None:
    """read_nrrd, which reads labelmaps without SimpleITK: raw and gzip NRRDs of the third-party data."""
    rng = np.random.default_rng(SEED + 4)
    originals = [path.read_bytes() for path in sorted(testdata.rglob("*.nrrd"))]
    originals.append((slicerio_data / "Segmentation.seg.nrrd").read_bytes())  # gzip encoded
    folder = tmp_path / "nrrd"
    folder.mkdir()
    for index in range(cases(160)):
        (folder / f"{index:04d}.nrrd").write_bytes(mutate_nrrd(originals[index % len(originals)], index, rng))
    outcomes = run_worker("nrrd", folder, tmp_path)
    check("nrrd", "NRRD labelmaps", outcomes, "header fields and bytes of the NRRD files of ../shared/testdata mutated")


SEG_FIELDS = [
    "NumberOfFrames", "Rows", "Columns", "BitsAllocated", "BitsStored", "SegmentationType", "SOPClassUID",
    "MaximumFractionalValue", "SegmentationFractionalType", "SamplesPerPixel", "PixelPaddingValue",
]  # fmt: skip
FRAME_FIELDS = [
    ("PlanePositionSequence", "ImagePositionPatient"),
    ("SegmentIdentificationSequence", "ReferencedSegmentNumber"),
    ("FrameContentSequence", "DimensionIndexValues"),
]


def mutate_seg(dataset: pydicom.Dataset, rng: np.random.Generator) -> None:
    choice = rng.random()
    if choice < 0.35:
        keyword = SEG_FIELDS[rng.integers(len(SEG_FIELDS))]
        value = [None, 0, 1, 7, 65535, 2**20, "BINARY", "LABELMAP", "FRACTIONAL", "", "1.2.3"][rng.integers(11)]
        try:
            setattr(dataset, keyword, value)
        except (TypeError, ValueError, OverflowError):
            dataset.pop(keyword, None)
    elif choice < 0.7 and "PerFrameFunctionalGroupsSequence" in dataset:
        frames = dataset.PerFrameFunctionalGroupsSequence
        frame = frames[int(rng.integers(len(frames)))]
        sequence, keyword = FRAME_FIELDS[rng.integers(len(FRAME_FIELDS))]
        if sequence in frame and len(frame[sequence].value):
            item = frame[sequence][0]
            options = [None, [1e12, 0, 0], [0.5, 0.5, 0.5], 0, 99, [1, 2, 3, 4], "nan"]
            try:
                setattr(item, keyword, options[rng.integers(len(options))])
            except (TypeError, ValueError, OverflowError):
                item.pop(keyword, None)
        elif rng.random() < 0.5:
            del frames[int(rng.integers(len(frames)))]
    else:
        for keyword in ("SegmentSequence", "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence",
                        "DimensionIndexSequence", "PixelData"):  # fmt: skip
            if rng.random() < 0.3:
                dataset.pop(keyword, None)


def test_seg_reader_on_foreign_files(testdata: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(SEED + 3)
    originals = sorted(
        [p for p in testdata.rglob("*") if p.suffix in (".dcm", ".seg") and "ct" not in p.parent.name
         and "image" not in p.parent.name and "multiframe" not in p.parent.name]
    )  # fmt: skip
    assert len(originals) >= 8, originals
    folder = tmp_path / "seg"
    folder.mkdir()
    for index in range(cases(360)):
        source = originals[index % len(originals)]
        target = folder / f"{index:04d}.dcm"
        if index % 3 == 2:
            target.write_bytes(mutate_bytes(source.read_bytes(), rng, edits=int(rng.integers(1, 6))))
            continue
        dataset = pydicom.dcmread(source)
        for _ in range(int(rng.integers(1, 4))):
            mutate_seg(dataset, rng)
        try:
            dataset.save_as(target)
        except Exception:  # some mutations cannot even be written: write the original bytes, mutated
            target.write_bytes(mutate_bytes(source.read_bytes(), rng))
    outcomes = run_worker("seg", folder, tmp_path)
    check(
        "seg", "foreign SEG files", outcomes, f"attributes and bytes of the {len(originals)} third-party SEGs mutated"
    )
