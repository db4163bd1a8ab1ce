"""LABELMAP frames made chunk by chunk while written are the frames made all at once."""

from __future__ import annotations

import numpy as np
import pytest

from SegExportLib.labelmap_frames import LabelmapFrames


def _expected(labels: np.ndarray, slices: np.ndarray, box: tuple[int, int, int, int], mapping: dict) -> np.ndarray:
    """The frames from their definition, value by value."""
    window = labels[slices, box[0] : box[1], box[2] : box[3]]
    out = np.zeros(window.shape, dtype=np.int64)
    for value, number in mapping.items():
        out[window == value] = number
    return out


@pytest.mark.parametrize(
    ("case", "segment_count", "top_value"),
    [
        ("uint8 frames, label table", 5, 40),
        ("uint16 frames (over 255 segments)", 300, 1000),
        ("label values too large for a table", 4, 5_000_000_000),
    ],
)
@pytest.mark.parametrize("chunk_bytes", [1, 100, None])
def test_chunks_concatenate_to_the_frames_made_at_once(
    case: str, segment_count: int, top_value: int, chunk_bytes: int | None
) -> None:
    rng = np.random.default_rng(segment_count)
    values = np.unique(rng.integers(1, top_value + 1, size=segment_count * 3))[: segment_count + 2]
    labels = np.where(rng.random((7, 9, 11)) < 0.7, rng.choice(values, size=(7, 9, 11)), 0).astype(np.int64)
    numbers = np.arange(1, len(values) + 1)
    numbers[[0, -1]] = 0  # two labels left out of the SEG
    mapping = dict(zip(values.tolist(), numbers.tolist()))
    slices, box = np.array([5, 0, 3, 6]), (1, 8, 2, 9)
    frames = LabelmapFrames(labels, slices, box, values, numbers)
    assert frames.dtype == (np.uint16 if numbers.max() > 255 else np.uint8)
    expected = _expected(labels, slices, box, mapping)
    for _ in range(2):  # chunks of one call share a buffer; a second call must give the same frames
        # Each chunk copied before the next is made (they share one buffer).
        chunks = [chunk.astype(chunk.dtype.newbyteorder("<")) for chunk in frames.chunks(chunk_bytes)]
        if chunk_bytes == 1:
            assert [len(chunk) for chunk in chunks] == [1, 1, 1, 1]
        joined = b"".join(chunk.tobytes() for chunk in chunks)
        assert len(joined) == frames.byte_count
        assert joined == expected.astype(frames.dtype).tobytes()
    np.testing.assert_array_equal(frames.array(), expected)
    assert [chunk.tobytes() for chunk in frames.chunks(1)] == [frames.array().tobytes()]  # once made, kept


def test_no_frames() -> None:
    frames = LabelmapFrames(
        np.zeros((2, 3, 3), np.uint8), np.array([], dtype=np.int64), (0, 3, 0, 3), np.array([1]), np.array([1])
    )
    assert frames.byte_count == 0 and list(frames.chunks()) == [] and frames.array().shape == (0, 3, 3)
