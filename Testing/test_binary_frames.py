"""BINARY frames packed chunk by chunk while written are the frames packed all at once."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pydicom
import pytest

from SegExportLib import MultiClassWriter, write_file
from SegExportLib.binary_frames import BinaryFrames, LabelBands
from SegExportLib.encode import BinaryFramePacker, unpack_binary_frame
from SegExportLib.synthetic import make_ct_series, make_labelmap
from SegExportLib.template import SegmentDescription, Template


def _two_layers(rows: int, columns: int) -> tuple[list[LabelBands], int]:
    """Bands from two random labelmaps whose frames interleave (layer 0 even frames, layer 1 odd ones)."""
    rng = np.random.default_rng(rows * columns)
    bands = []
    count = 0
    for layer in range(2):
        volume = rng.integers(0, 4, size=(6, rows + 3, columns + 5)).astype(np.uint8)
        slices = np.repeat(np.arange(6), 3)
        labels = np.tile(np.arange(1, 4), 6)
        first = rng.integers(0, rows, size=len(slices))
        stop = np.minimum(first + rng.integers(0, rows, size=len(slices)), rows + 3)
        frames = np.arange(len(slices)) * 2 + layer
        bands.append(LabelBands(volume, frames, slices, labels, first, stop))
        count = max(count, int(frames[-1]) + 1)
    return bands, count


@pytest.mark.parametrize(("rows", "columns"), [(7, 9), (16, 16), (5, 8), (3, 3)])
@pytest.mark.parametrize("chunk_bytes", [1, 40, 10_000])
def test_chunks_concatenate_to_the_frames_packed_at_once(rows: int, columns: int, chunk_bytes: int) -> None:
    bands, count = _two_layers(rows, columns)
    frames = BinaryFrames(count, rows, columns, bands, row_start=2, column_start=3)
    chunks = [chunk.tobytes() for chunk in frames.chunks(chunk_bytes)]
    assert len(b"".join(chunks)) == frames.byte_count and frames.byte_count % 2 == 0
    if chunk_bytes == 1:
        assert len(chunks) >= count // 8  # 8 frames a chunk
    whole = BinaryFramePacker(count, rows, columns)
    for layer in bands:
        whole.put_label_bands(
            layer.frames, layer.volume, layer.slices, layer.labels, layer.first_rows, layer.stop_rows, 2, 3
        )
    assert b"".join(chunks) == whole.pixel_data() == frames.array().tobytes()
    # Frame by frame, from the definition: the label's voxels in its band of rows, zero elsewhere.
    packed = frames.array().tobytes()
    for layer in bands:
        for frame, k, label, first, stop in zip(
            layer.frames, layer.slices, layer.labels, layer.first_rows, layer.stop_rows
        ):
            expected = layer.volume[k, 2 : 2 + rows, 3 : 3 + columns] == label
            expected[: max(first - 2, 0)] = False
            expected[max(stop - 2, 0) :] = False
            np.testing.assert_array_equal(unpack_binary_frame(packed, int(frame), rows, columns), expected)


def test_a_packed_array_is_what_chunks_give_afterwards() -> None:
    bands, count = _two_layers(7, 9)
    frames = BinaryFrames(count, 7, 9, bands)
    whole = frames.array()
    assert [chunk.tobytes() for chunk in frames.chunks(1)] == [whole.tobytes()]


def test_frames_without_bands_are_empty() -> None:
    frames = BinaryFrames(11, 4, 4, [])
    assert frames.byte_count == 22
    assert b"".join(chunk.tobytes() for chunk in frames.chunks(1)) == bytes(22)


def test_a_dropped_simpleitk_labelmap_is_still_read_when_the_frames_are_written(tmp_path: Path) -> None:
    """The frames are packed at write time from the labelmap's memory: the image must outlive the caller's
    reference to it (SimpleITK's array view alone does not keep it)."""
    series = make_ct_series(rows=32, columns=24, slices=6, pixel_data=False)
    labels = make_labelmap(series, segment_count=3, seed=11)
    tpl = Template([SegmentDescription(n, label=f"Organ {n}", algorithm_type="MANUAL") for n in (1, 2, 3)])
    encoded = MultiClassWriter(tpl).encode(series.labelmap_image(labels.copy()), series.datasets)
    gc.collect()
    clutter = [np.full(labels.shape, 200, dtype=labels.dtype) for _ in range(50)]  # reuse of freed memory
    write_file(encoded, tmp_path / "seg.dcm")
    del clutter
    written = pydicom.dcmread(tmp_path / "seg.dcm")
    expected = MultiClassWriter(tpl).write(series.labelmap_image(labels), series.datasets)
    assert written.PixelData == expected.PixelData
    assert int(written.NumberOfFrames) == int(expected.NumberOfFrames) > 3
