"""Property-based tests: for random geometries, labelmaps and segment sets, the SEG is valid and decodes exactly.

Hypothesis draws the series (orientation, spacing, origin, size, slice order, reversed or uneven slice axis, odd
frame sizes), the labelmap (segment count, labels, density, gaps in the label values) and the writer options
(skip empty slices, cropping, BINARY or LABELMAP, compression). Every SEG must pass dciodvfy (LABELMAP, which the
Debian build does not know, excepted) and our reader must give back exactly the voxels written. The number of
cases and the seed are reported in the hostile-input table; SEGEXPORT_PROPERTY_SEED and
SEGEXPORT_PROPERTY_EXAMPLES change them.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from SegExportLib import LayeredWriter, MultiClassWriter, SegmentReader, write_file
from SegExportLib.errors import EmptySegmentationError
from SegExportLib.synthetic import ORIENTATIONS, make_ct_series
from SegExportLib.template import SegmentDescription, Template
from support.hostile import record
from support.oracles import run_dciodvfy_any

SEED = int(os.environ.get("SEGEXPORT_PROPERTY_SEED", "4242"))
EXAMPLES = int(os.environ.get("SEGEXPORT_PROPERTY_EXAMPLES", "150"))
OUTCOMES: Counter = Counter()


def rotation(angles: tuple[float, float, float]) -> np.ndarray:
    a, b, c = np.radians(angles)
    x = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    y = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    z = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return z @ y @ x


orientations = st.one_of(
    st.sampled_from(sorted(ORIENTATIONS)),
    st.tuples(*[st.floats(-180, 180, allow_nan=False)] * 3).map(rotation),
)


@st.composite
def cases(draw: st.DrawFn) -> dict:
    slices = draw(st.integers(1, 7))
    uneven = slices > 2 and draw(st.booleans())
    spacing = (draw(st.floats(0.3, 3.0)), draw(st.floats(0.3, 3.0)), draw(st.floats(0.5, 5.0)))
    offsets = None
    if uneven:
        gaps = draw(st.lists(st.floats(0.5, 6.0), min_size=slices - 1, max_size=slices - 1))
        offsets = np.concatenate([[0.0], np.cumsum(gaps)]).tolist()
    return {
        "rows": draw(st.integers(2, 23)),
        "columns": draw(st.integers(2, 23)),
        "slices": slices,
        "spacing": spacing,
        "orientation": draw(orientations),
        "origin": tuple(draw(st.floats(-500, 500)) for _ in range(3)),
        "slice_offsets": offsets,
        "reverse_slices": draw(st.booleans()),
        "file_order": draw(st.sampled_from(["ascending", "descending", "shuffled"])),
        "segments": draw(st.integers(1, 5)),
        "label_gap": draw(st.sampled_from([1, 1, 3, 300])),
        "density": draw(st.floats(0.02, 0.9)),
        "labels_seed": draw(st.integers(0, 2**31)),
        "skip_empty_slices": draw(st.booleans()),
        "inplane_cropping": draw(st.booleans()),
        "kind": draw(st.sampled_from(["BINARY", "BINARY", "LABELMAP", "overlapping"])),
        "compression": draw(st.sampled_from([None, None, "deflate"])),
    }


@seed(SEED)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(case=cases())
def test_every_random_seg_is_valid_and_decodes_exactly(case: dict, dciodvfy: str) -> None:
    series = make_ct_series(
        rows=case["rows"], columns=case["columns"], slices=case["slices"], spacing=case["spacing"],
        orientation=case["orientation"], origin=case["origin"], slice_offsets=case["slice_offsets"],
        reverse_slices=case["reverse_slices"], file_order=case["file_order"], pixel_data=False,
    )  # fmt: skip
    shape = (len(series.slice_offsets), case["rows"], case["columns"])
    rng = np.random.default_rng(case["labels_seed"])
    values = [1 + n * case["label_gap"] for n in range(case["segments"])]
    labels = np.where(rng.random(shape) < case["density"], rng.choice(values, size=shape), 0).astype(np.uint16)
    present = sorted(set(np.unique(labels).tolist()) - {0})
    template = Template([SegmentDescription(v, label=f"Segment {v}", algorithm_type="MANUAL") for v in values])
    options = {
        "skip_empty_slices": case["skip_empty_slices"],
        "inplane_cropping": case["inplane_cropping"],
        "compression": case["compression"],
    }
    try:
        if case["kind"] == "overlapping":
            masks = {v: (labels == v) | (rng.random(shape) < 0.1) for v in values}
            images = {v: series.labelmap_image(mask.astype(np.uint8)) for v, mask in masks.items()}
            written = [masks[v] for v in values if masks[v].any()]  # empty segments are left out, not numbered
            expected = dict(enumerate(written, start=1))
            dataset = LayeredWriter(template, **options).write(images, series.datasets)
        else:
            writer = MultiClassWriter(template, segmentation_type=case["kind"], **options)
            dataset = writer.write(series.labelmap_image(labels), series.datasets)
            expected = {number: labels == v for number, v in enumerate(present, start=1)}
    except EmptySegmentationError:
        assert not present or (case["kind"] == "overlapping" and not any(m.any() for m in masks.values()))
        OUTCOMES["empty: refused with EmptySegmentationError"] += 1
        return
    with tempfile.TemporaryDirectory() as folder:
        path = write_file(dataset, Path(folder) / "seg.dcm")
        if case["kind"] != "LABELMAP":
            verdict = run_dciodvfy_any(path, folder)
            assert verdict.errors == [], verdict.errors
        result = SegmentReader().read(path, series.datasets)
        for number, mask in expected.items():
            # The reader returns the series' grid, slices ascending along the normal; a reversed labelmap
            # axis runs the other way.
            np.testing.assert_array_equal(result.segment_data(number), mask[::-1] if case["reverse_slices"] else mask)
        assert pydicom.dcmread(path, stop_before_pixels=True).SegmentationType == (
            "LABELMAP" if case["kind"] == "LABELMAP" else "BINARY"
        )
    OUTCOMES[f"{case['kind'].lower()}: valid, decoded exactly"] += 1


@pytest.fixture(scope="module", autouse=True)
def report_property_cases() -> None:
    yield
    if OUTCOMES:
        record(
            "random geometries, labelmaps and segment sets (hypothesis)",
            sum(OUTCOMES.values()),
            OUTCOMES,
            f"hypothesis seed {SEED}, up to {EXAMPLES} examples; dciodvfy + our reader on each",
        )
