"""Bit packing and label analysis: the pixel-level heart of a BINARY SEG."""

from __future__ import annotations

import numpy as np
import pytest

from SegExportLib.encode import BinaryFramePacker, nonzero_bounding_box, summarize_labels, unpack_binary_frame


def reference_packing(frames: np.ndarray) -> bytes:
    """The standard's layout written the slow, obvious way: all bits in a row, LSB first."""
    bits = frames.reshape(-1).astype(np.uint8)
    padded = np.concatenate([bits, np.zeros(-len(bits) % 8, dtype=np.uint8)])
    data = bytes(int(sum(int(b) << i for i, b in enumerate(padded[j : j + 8]))) for j in range(0, len(padded), 8))
    return data + (b"\0" if len(data) % 2 else b"")


@pytest.mark.parametrize(("rows", "columns"), [(1, 3), (23, 38), (24, 38), (5, 5), (8, 8), (7, 9), (16, 16)])
def test_packing_matches_the_standard_layout_for_any_frame_size(rows: int, columns: int) -> None:
    rng = np.random.default_rng(rows * 100 + columns)
    frames = rng.random((11, rows, columns)) < 0.4
    packer = BinaryFramePacker(len(frames), rows, columns)
    # Frames are put out of order: packing must not depend on the order of calls.
    for index in rng.permutation(len(frames)):
        packer.put(int(index), frames[index])
    data = packer.pixel_data()
    assert data == reference_packing(frames)
    assert len(data) % 2 == 0
    for index in range(len(frames)):
        np.testing.assert_array_equal(unpack_binary_frame(data, index, rows, columns), frames[index])


def test_packer_refuses_a_frame_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        BinaryFramePacker(1, 4, 4).put(0, np.zeros((4, 5), dtype=bool))


def test_unpacking_a_truncated_buffer_says_so() -> None:
    with pytest.raises(ValueError, match="frame 2 needs"):
        unpack_binary_frame(b"\xff" * 3, 1, 4, 4)


def test_summary_finds_labels_and_their_slices() -> None:
    labels = np.zeros((4, 6, 6), dtype=np.uint16)
    labels[0, 1, 1] = 3
    labels[2, 2:4, 2:4] = 7
    labels[3, 0, 5] = 3
    summary = summarize_labels(labels)
    assert summary.values.tolist() == [3, 7]
    assert summary.slices_of(3).tolist() == [0, 3]
    assert summary.slices_of(7).tolist() == [2]


def test_summary_of_large_label_values_uses_the_sparse_path() -> None:
    labels = np.zeros((3, 4, 4), dtype=np.uint32)
    labels[1, 0, 0] = 70000
    labels[2, 1, 1] = 5
    summary = summarize_labels(labels)
    assert summary.values.tolist() == [5, 70000]
    assert summary.slices_of(70000).tolist() == [1]
    assert summary.slices_of(5).tolist() == [2]


@pytest.mark.parametrize(
    ("dtype", "high", "fill"),
    [
        (np.uint8, 5, 0.6),  # dense, few labels: the (label, row) table path
        (np.uint16, 1000, 0.02),  # sparse, many labels: the sorting path
        (np.uint32, 100000, 0.3),  # label values too large for a table
    ],
)
def test_summary_rows_match_a_brute_force_search(dtype: type, high: int, fill: float) -> None:
    rng = np.random.default_rng(high)
    labels = (rng.integers(1, high + 1, size=(5, 17, 13)) * (rng.random((5, 17, 13)) < fill)).astype(dtype)
    labels[2] = 0  # an empty slice
    summary = summarize_labels(labels)
    assert summary.values.tolist() == sorted(set(labels.ravel().tolist()) - {0})
    for value in summary.values.tolist():
        slices = [k for k in range(5) if (labels[k] == value).any()]
        assert summary.slices_of(value).tolist() == slices
        for k in slices:
            rows = np.flatnonzero((labels[k] == value).any(axis=1))
            column = int(np.searchsorted(summary.values, value))
            assert (summary.first_rows[k, column], summary.stop_rows[k, column]) == (rows[0], rows[-1] + 1)


def _brute_force_bands(labels: np.ndarray) -> dict[tuple[int, int], tuple[int, int]]:
    """{(slice, label): (first row, stop row)} found voxel by voxel."""
    bands: dict[tuple[int, int], tuple[int, int]] = {}
    for k, row, column in zip(*np.nonzero(labels)):
        key = (int(k), int(labels[k, row, column]))
        first, stop = bands.get(key, (row, row + 1))
        bands[key] = (min(first, int(row)), max(stop, int(row) + 1))
    return bands


def _summary_bands(labels: np.ndarray) -> dict[tuple[int, int], tuple[int, int]]:
    summary = summarize_labels(labels)
    slices, columns = np.nonzero(summary.presence)
    return {
        (int(k), int(summary.values[c])): (int(summary.first_rows[k, c]), int(summary.stop_rows[k, c]))
        for k, c in zip(slices, columns)
    }


@pytest.mark.parametrize(
    "layout",
    [
        "uint8 columns a multiple of 8",  # rows read as 64-bit words
        "int8 odd columns",  # no word view
        "uint16 column-major",  # not C-contiguous
        "uint64 huge labels",  # too large for one int64 key per (label, row)
        "int32 scattered rows",  # rows holding labels are gathered, not boxed
    ],
)
def test_summary_bands_match_a_brute_force_search_for_every_layout(layout: str) -> None:
    rng = np.random.default_rng(len(layout))
    shape = (4, 40, 13) if "odd" in layout else (4, 40, 24)
    dtype = np.dtype(layout.split()[0])
    labels = (rng.integers(1, 6, size=shape) * (rng.random(shape) < 0.2)).astype(dtype)
    if "huge" in layout:
        labels[labels == 5] = np.iinfo(np.uint64).max - 3
        labels[labels == 4] = 1 << 61
    if "scattered" in layout:
        labels[:] = 0
        labels[1, [0, 17, 39], [3, 20, 7]] = [2, 9, 2]
        labels[3, 5, 5] = 70000
    if "column-major" in layout:
        labels = np.asfortranarray(labels)
    labels[2] = 0
    bands = _brute_force_bands(labels)
    assert bands  # the case holds labels
    assert _summary_bands(labels) == bands
    assert summarize_labels(labels).values.tolist() == sorted({value for _, value in bands})


def test_packing_given_rows_equals_packing_the_whole_frame() -> None:
    rng = np.random.default_rng(3)
    frames = np.zeros((3, 7, 9), dtype=bool)  # 63 bits per frame: rows straddle byte boundaries
    frames[:, 2:5] = rng.random((3, 3, 9)) < 0.5
    whole, by_rows = BinaryFramePacker(3, 7, 9), BinaryFramePacker(3, 7, 9)
    for index in range(3):
        whole.put(index, frames[index])
        by_rows.put_rows(index, 2, frames[index, 2:5])
    assert by_rows.pixel_data() == whole.pixel_data()
    with pytest.raises(ValueError, match="do not fit"):
        by_rows.put_rows(0, 6, frames[0, 2:5])


def test_summary_of_an_empty_labelmap_is_empty() -> None:
    assert len(summarize_labels(np.zeros((2, 3, 3), dtype=np.uint8)).values) == 0


def test_bounding_box_spans_all_non_zero_voxels() -> None:
    labels = np.zeros((3, 10, 12), dtype=np.uint8)
    labels[0, 2, 3] = 1
    labels[2, 7, 9] = 4
    assert nonzero_bounding_box(labels) == (2, 8, 3, 10)
    assert nonzero_bounding_box(np.zeros((1, 2, 2), dtype=np.uint8)) is None


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.uint64])
@pytest.mark.parametrize("columns", [24, 13, 1])
def test_bounding_box_matches_a_search_of_every_voxel(dtype: type, columns: int) -> None:
    rng = np.random.default_rng(columns)
    for trial in range(20):
        labels = np.zeros((3, 11, columns), dtype=dtype)
        count = int(rng.integers(1, 4))
        labels[rng.integers(0, 3, count), rng.integers(0, 11, count), rng.integers(0, columns, count)] = 7
        if trial % 2:
            labels = np.asfortranarray(labels)  # not C-contiguous: no word view
        _, r, c = np.nonzero(labels)
        assert nonzero_bounding_box(labels) == (r.min(), r.max() + 1, c.min(), c.max() + 1)


@pytest.mark.parametrize(("rows", "columns"), [(23, 38), (24, 38), (7, 9), (16, 16), (512, 512)])
def test_packing_frames_with_few_used_rows(rows: int, columns: int) -> None:
    """Only the used rows are packed; frames that are empty or use a few rows must still land bit-exact."""
    rng = np.random.default_rng(rows + columns)
    frames = np.zeros((9, rows, columns), dtype=bool)
    for index in range(1, 9):  # frame 0 stays empty
        used = rng.choice(rows, size=min(rows, int(rng.integers(1, 4))), replace=False)
        frames[index, used] = rng.random((len(used), columns)) < 0.5
    packer = BinaryFramePacker(len(frames), rows, columns)
    for index in rng.permutation(len(frames)):
        packer.put(int(index), frames[index])
    assert packer.pixel_data() == reference_packing(frames)


@pytest.mark.parametrize(
    ("rows", "columns", "row_start", "column_start"),
    [(12, 16, 0, 0), (12, 13, 0, 0), (7, 9, 2, 3), (5, 5, 0, 1), (9, 8, 1, 0), (3, 11, 4, 2), (16, 24, 0, 8)],
)
def test_batched_bands_equal_packing_frame_by_frame(rows: int, columns: int, row_start: int, column_start: int) -> None:
    """put_label_bands (all frames at once) must give the bits of put (one whole frame at a time): byte-aligned
    rows, rows straddling bytes (columns not a multiple of 8), crops, narrow frames, frames out of order."""
    rng = np.random.default_rng(rows * 1000 + columns * 10 + row_start)
    volume = rng.integers(0, 5, size=(6, rows + row_start + 2, columns + column_start + 3)).astype(np.uint16)
    volume[rng.random(volume.shape) < 0.5] = 0
    slices = np.repeat(np.arange(6), 4)
    labels = np.tile(np.arange(1, 5), 6)
    order = rng.permutation(len(slices))  # frame index -> which (slice, label) it holds
    first = rng.integers(0, rows + row_start, size=len(slices))
    stop = first + rng.integers(0, rows, size=len(slices))  # some bands empty, some past the crop
    frames = np.zeros((len(slices), rows, columns), dtype=bool)
    for index, which in enumerate(order):
        window = volume[slices[which], row_start : row_start + rows, column_start : column_start + columns]
        band = np.zeros(volume.shape[1], dtype=bool)
        band[first[which] : stop[which]] = True
        frames[index] = (window == labels[which]) & band[row_start : row_start + rows, None]
    packer = BinaryFramePacker(len(slices), rows, columns)
    packer.put_label_bands(
        np.argsort(order), volume, slices, labels, first, stop, row_start=row_start, column_start=column_start
    )
    assert packer.pixel_data() == reference_packing(frames)
    assert packer.pixel_buffer().tobytes() == packer.pixel_data()


def test_batched_bands_refuse_frames_and_columns_outside_the_buffer() -> None:
    packer = BinaryFramePacker(2, 4, 8)
    volume = np.ones((1, 4, 8), dtype=np.uint8)
    one = np.array([0])
    with pytest.raises(ValueError, match="frame indices"):
        packer.put_label_bands(np.array([2]), volume, one, np.array([1]), one, np.array([4]))
    with pytest.raises(ValueError, match="columns"):
        packer.put_label_bands(np.array([0]), volume, one, np.array([1]), one, np.array([4]), column_start=1)
