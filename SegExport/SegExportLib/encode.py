"""Turning labelmap voxels into SEG frames: which labels are where, and bit packing.

BINARY SEG pixel data is one bit per pixel, packed continuously across frame
boundaries (PS3.5 section 8.1.1): frame *n* starts at bit ``n * rows * columns``,
which is not a byte boundary when ``rows * columns`` is not a multiple of 8.

>>> packer = BinaryFramePacker(frame_count=2, rows=1, columns=3)
>>> packer.put(0, np.array([[True, False, True]]))
>>> packer.put(1, np.array([[True, True, False]]))
>>> packer.pixel_data()
b'\\x1d\\x00'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ranks import ranks_within

# A slice's (label, row) pairs are counted in a table when it is at most this many times larger than the number
# of runs of labels in the slice; otherwise they are sorted (a table costs its size, sorting costs its input).
_TABLE_TO_VOXELS = 8
# BinaryFramePacker.put_label_bands compares and packs at most about this many voxels at a time.
_BATCH_VOXELS = 1 << 22
# A slice's rows holding labels are gathered (copied) when they are fewer than 1/this of the rows they span.
_SPARSE_ROWS = 2


@dataclass(frozen=True)
class LabelSummary:
    """Which label values occur in which slices of a labelmap, and in which rows.

    >>> summary = summarize_labels(np.array([[[0, 2], [0, 0]], [[0, 0], [5, 0]]]))
    >>> summary.values.tolist(), summary.slices_of(5).tolist()
    ([2, 5], [1])
    >>> summary.first_rows[1].tolist(), summary.stop_rows[1].tolist()   # label 5 (column 1) is in row 1 of slice 1
    ([0, 1], [0, 2])
    """

    values: np.ndarray
    """The distinct non-zero label values, ascending."""
    presence: np.ndarray
    """Boolean array (slices, len(values)): ``presence[k, i]`` if ``values[i]`` occurs in slice k."""
    first_rows: np.ndarray | None = None
    """Array (slices, len(values)): the first row of slice k holding ``values[i]`` (when known)."""
    stop_rows: np.ndarray | None = None
    """Array (slices, len(values)): one past the last row of slice k holding ``values[i]`` (when known)."""

    def slices_of(self, value: int) -> np.ndarray:
        """Indices of the slices that contain ``value``."""
        column = int(np.searchsorted(self.values, value))
        return np.flatnonzero(self.presence[:, column])


def summarize_labels(labels: np.ndarray) -> LabelSummary:
    """Find the label values of a (slices, rows, columns) integer array, and the slices and rows holding each.

    One pass over the array finds each slice's box of rows and columns holding labels; in a box only the first
    voxel of each run of equal labels along a row is looked at. Memory stays at one slice's worth beyond the
    input and the result, and the time grows with the segmented area, not with labels times slices.
    """
    _keep_temporaries_off_mmap()
    slice_count = labels.shape[0]
    row_occupied, word_occupied, columns_per_word = _occupancy(labels)
    pair_values, pair_rows, pair_slices = [], [], []
    for k in np.flatnonzero(row_occupied.any(axis=1)).tolist():
        rows = np.flatnonzero(row_occupied[k])
        words = np.flatnonzero(word_occupied[k])
        columns = slice(words[0] * columns_per_word, (words[-1] + 1) * columns_per_word)
        if len(rows) * _SPARSE_ROWS < rows[-1] + 1 - rows[0]:  # scattered small segments: gather their rows
            values, box_rows = _label_row_pairs(labels[k, rows, columns])
            box_rows = rows[box_rows]
        else:
            values, box_rows = _label_row_pairs(labels[k, rows[0] : rows[-1] + 1, columns])
            box_rows += rows[0]
        pair_values.append(values)
        pair_rows.append(box_rows)
        pair_slices.append(np.full(len(values), k, dtype=np.int64))
    if not pair_values:
        nothing = np.zeros((slice_count, 0), dtype=np.int32)
        return LabelSummary(_NONE, nothing.astype(bool), nothing, nothing.copy())
    # The pairs are sorted by (slice, label, row): each (slice, label) run's first and last pair give its rows.
    values, rows, slices = np.concatenate(pair_values), np.concatenate(pair_rows), np.concatenate(pair_slices)
    opens_run = np.ones(len(values), dtype=bool)
    opens_run[1:] = (values[1:] != values[:-1]) | (slices[1:] != slices[:-1])
    starts = np.flatnonzero(opens_run)
    ends = np.append(starts[1:] - 1, len(values) - 1)
    present = np.unique(values[starts])
    columns = np.searchsorted(present, values[starts])
    band_slices = slices[starts]
    presence = np.zeros((slice_count, len(present)), dtype=bool)
    first_rows = np.zeros((slice_count, len(present)), dtype=np.int32)
    stop_rows = np.zeros((slice_count, len(present)), dtype=np.int32)
    presence[band_slices, columns] = True
    first_rows[band_slices, columns] = rows[starts]
    stop_rows[band_slices, columns] = rows[ends] + 1
    if present[-1] <= np.iinfo(np.int64).max:
        present = present.astype(np.int64)
    return LabelSummary(present, presence, first_rows, stop_rows)


_NONE = np.zeros(0, dtype=np.int64)
_KEY_LIMIT = 1 << 62
_allocator_warmed = False


def _keep_temporaries_off_mmap() -> None:
    """Allocate and free one 4 MiB block, once per process.

    Encoding makes thousands of temporary arrays of a few hundred KiB. glibc's malloc serves blocks over its mmap
    threshold (128 KiB at process start) with a fresh mmap each time, so every temporary page-faults anew; freeing
    a larger mmap-served block raises that threshold to its size (glibc's dynamic threshold), after which such
    temporaries reuse heap memory. Most processes get there by themselves (importing SimpleITK does); this makes
    the label summary and packing twice as fast in one that has not. Elsewhere it costs one allocation.
    """
    global _allocator_warmed
    if not _allocator_warmed:
        np.empty(1 << 22, dtype=np.uint8)
        _allocator_warmed = True


def _occupancy(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Which rows of each slice hold labels (slices, rows), which groups of columns do (slices, groups), and how
    many columns a group has.

    Rows are read as 64-bit words where the layout allows (8 columns of uint8 at a time), which makes this one
    pass over the array at memory speed.
    """
    row_bytes = labels.shape[2] * labels.itemsize
    if labels.flags.c_contiguous and row_bytes % 8 == 0 and labels.itemsize <= 8:
        words, columns_per_word = labels.view(np.uint64), 8 // labels.itemsize
    else:
        words, columns_per_word = labels, 1
    return np.bitwise_or.reduce(words, axis=2) != 0, np.bitwise_or.reduce(words, axis=1) != 0, columns_per_word


def _label_row_pairs(box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (label, row) pairs of the non-zero voxels of a 2D array, sorted by label then row.

    Returns the labels (in ``box``'s type) and the rows. Only voxels that start a run of equal values along their
    row can add a pair, so those are the only ones gathered.
    """
    height, width = box.shape
    opens_run = np.empty(box.shape, dtype=bool)
    opens_run[:, 0] = True
    np.not_equal(box[:, 1:], box[:, :-1], out=opens_run[:, 1:])
    positions = np.flatnonzero(opens_run)
    rows = positions // width
    values = box[rows, positions - rows * width]
    labelled = values != 0
    values, rows = values[labelled], rows[labelled]
    if values.size == 0:
        return values, rows
    top = int(values.max())
    if top >= _KEY_LIMIT // height:  # labels too large for one int64 key per pair
        order = np.lexsort((rows, values))
        values, rows = values[order], rows[order]
        distinct = np.ones(len(values), dtype=bool)
        distinct[1:] = (values[1:] != values[:-1]) | (rows[1:] != rows[:-1])
        return values[distinct], rows[distinct]
    # One key per (label, row), label-major, so that sorted keys list each label's rows in ascending order.
    keys = values.astype(np.int64) * height + rows
    table_size = (top + 1) * height
    if table_size <= _TABLE_TO_VOXELS * len(keys):
        keys = np.flatnonzero(np.bincount(keys, minlength=table_size))
    else:
        keys = np.unique(keys)
    pair_values, pair_rows = np.divmod(keys, height)
    return pair_values.astype(box.dtype), pair_rows


def nonzero_bounding_box(labels: np.ndarray) -> tuple[int, int, int, int] | None:
    """In-plane box ``(row_start, row_stop, column_start, column_stop)`` of the non-zero voxels, or ``None``.

    One pass over the array (as 64-bit words where the layout allows), then the two edge words of columns.
    """
    row_occupied, word_occupied, columns_per_word = _occupancy(labels)
    rows = np.flatnonzero(row_occupied.any(axis=0))
    if rows.size == 0:
        return None
    words = np.flatnonzero(word_occupied.any(axis=0))
    band = labels[:, rows[0] : rows[-1] + 1]
    first = int(words[0]) * columns_per_word
    last = (int(words[-1]) + 1) * columns_per_word
    first += int(np.argmax((band[:, :, first : first + columns_per_word] != 0).any(axis=(0, 1))))
    last -= int(np.argmax((band[:, :, last - columns_per_word : last] != 0).any(axis=(0, 1))[::-1]))
    return int(rows[0]), int(rows[-1]) + 1, first, last


class BinaryFramePacker:
    """Packs boolean frames into one BINARY SEG pixel data buffer, frame by frame, in place."""

    def __init__(self, frame_count: int, rows: int, columns: int, storage: np.ndarray | None = None) -> None:
        """``storage``, if given, is a uint8 buffer to pack into (zeroed here; a larger one is used in part)
        instead of a new one."""
        self.frame_count = frame_count
        self.rows = rows
        self.columns = columns
        self.bits_per_frame = rows * columns
        self._packed_bytes = -(-frame_count * self.bits_per_frame // 8)
        # PixelData (OB) needs an even length; the padding byte stays zero. Two more bytes of slack let
        # put_label_bands write a shifted row's last byte without a bounds check; they are never output.
        self.byte_count = self._packed_bytes + (self._packed_bytes % 2)
        if storage is None or len(storage) < self.byte_count + 2:
            storage = np.zeros(self.byte_count + 2, dtype=np.uint8)
        else:
            storage[: self.byte_count + 2] = 0
        self.storage = storage
        """The buffer packed into (it may be longer than the pixel data)."""
        self._buffer = storage[: self.byte_count + 2]

    def put(self, index: int, mask: np.ndarray) -> None:
        """Store frame ``index`` from a (rows, columns) boolean mask.

        The buffer starts zeroed and each frame is stored once, so only the rows from the first to the last
        one holding a set pixel are packed: a small segment costs a few rows, not a whole frame.
        """
        if mask.shape != (self.rows, self.columns):
            raise ValueError(f"frame mask has shape {mask.shape}, expected {(self.rows, self.columns)}")
        used_rows = np.flatnonzero(mask.any(axis=1))
        if used_rows.size == 0:
            return
        first_row, last_row = int(used_rows[0]), int(used_rows[-1]) + 1
        self.put_rows(index, first_row, mask[first_row:last_row])

    def put_rows(self, index: int, first_row: int, rows: np.ndarray) -> None:
        """Store rows ``first_row, first_row + 1, ...`` of frame ``index`` from a (n, columns) boolean mask.

        The other rows of the frame stay zero.
        """
        if rows.ndim != 2 or rows.shape[1] != self.columns or not 0 <= first_row <= self.rows - rows.shape[0]:
            raise ValueError(
                f"rows of shape {rows.shape} from row {first_row} do not fit a {self.rows} x {self.columns} frame"
            )
        if rows.size == 0:
            return
        start_bit = index * self.bits_per_frame + first_row * self.columns
        bit_count = rows.size
        if start_bit % 8 == 0 and bit_count % 8 == 0:
            start = start_bit // 8
            self._buffer[start : start + bit_count // 8] = np.packbits(rows, axis=None, bitorder="little")
            return
        # The packed rows start or end inside a byte: pack with the leading bit offset and OR the result in,
        # so the bits of the neighbouring rows or frames sharing the edge bytes survive.
        offset = start_bit % 8
        bits = np.zeros(offset + bit_count, dtype=bool)
        bits[offset:] = rows.ravel()
        packed = np.packbits(bits, bitorder="little")
        start = start_bit // 8
        self._buffer[start : start + len(packed)] |= packed

    def put_label_bands(
        self,
        frame_indices: np.ndarray,
        volume: np.ndarray,
        slices: np.ndarray,
        labels: np.ndarray,
        first_rows: np.ndarray,
        stop_rows: np.ndarray,
        row_start: int = 0,
        column_start: int = 0,
    ) -> None:
        """Store many frames at once, each the pixels of one label in one slice of a labelmap.

        Frame ``frame_indices[i]`` gets ``volume[slices[i], r, column_start:column_start + columns] == labels[i]``
        for the volume rows ``first_rows[i] <= r < stop_rows[i]`` (its band), as frame row ``r - row_start``; its
        other rows stay zero. Each frame must be stored once. The work is done on batches of rows with a bounded
        number of voxels, with no Python work per frame, so thousands of small frames cost what their bands cost.

        >>> volume = np.array([[[0, 2, 2, 0], [1, 1, 0, 0]]])
        >>> packer = BinaryFramePacker(frame_count=2, rows=2, columns=4)
        >>> packer.put_label_bands(np.array([0, 1]), volume, np.array([0, 0]), np.array([1, 2]),
        ...                        np.array([1, 0]), np.array([2, 1]))
        >>> np.unpackbits(np.frombuffer(packer.pixel_data(), np.uint8), bitorder="little").tolist()
        [0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
        """
        first = np.maximum(np.asarray(first_rows, dtype=np.int64), row_start)
        stop = np.minimum(np.asarray(stop_rows, dtype=np.int64), row_start + self.rows)
        heights = np.maximum(stop - first, 0)
        frames = np.asarray(frame_indices, dtype=np.int64)
        if frames.size and (frames.min() < 0 or frames.max() >= self.frame_count):
            raise ValueError(f"frame indices must lie in 0..{self.frame_count - 1}")
        if column_start < 0 or column_start + self.columns > volume.shape[2]:
            raise ValueError(f"columns {column_start}..{column_start + self.columns} are not all in the volume")
        if self.columns < 8:  # rows two apart could share a byte; such narrow frames are rare and small
            for index in np.flatnonzero(heights).tolist():
                window = volume[slices[index], first[index] : stop[index], column_start : column_start + self.columns]
                self.put_rows(int(frames[index]), int(first[index]) - row_start, window == labels[index])
            return
        # One entry per band row: its source slice and row, its label, and its row number in the whole
        # frame stack (frame * rows + row), which fixes where its bits go.
        band_rows = np.repeat(np.arange(len(heights)), heights)
        row_in_band = ranks_within(heights)
        source_rows = first[band_rows] + row_in_band
        stack_rows = frames[band_rows] * self.rows + (source_rows - row_start)
        source_slices = np.asarray(slices, dtype=np.int64)[band_rows]
        row_labels = np.asarray(labels)[band_rows]
        batch = max(1, _BATCH_VOXELS // self.columns)
        for lo in range(0, band_rows.size, batch):
            hi = lo + batch
            window = volume[source_slices[lo:hi], source_rows[lo:hi], column_start : column_start + self.columns]
            masks = window == row_labels[lo:hi, None].astype(window.dtype, copy=False)
            self._store_rows(stack_rows[lo:hi], np.packbits(masks, axis=1, bitorder="little"))

    def _store_rows(self, stack_rows: np.ndarray, packed: np.ndarray) -> None:
        """Put packed rows (one per ``stack_rows`` entry, bit 0 first) at bit ``stack_row * columns``."""
        if self.columns % 8 == 0:  # every row starts on a byte: plain assignment
            width = self.columns // 8
            self._buffer[: self.frame_count * self.rows * width].reshape(-1, width)[stack_rows] = packed
            return
        start_bits = stack_rows * self.columns
        offsets = (start_bits % 8).astype(np.uint16)
        shifted = packed.astype(np.uint16) << offsets[:, None]
        spread = np.zeros((packed.shape[0], packed.shape[1] + 1), dtype=np.uint8)
        spread[:, :-1] = shifted.astype(np.uint8)
        spread[:, 1:] |= (shifted >> 8).astype(np.uint8)
        targets = (start_bits // 8)[:, None] + np.arange(spread.shape[1])
        # A row's bytes (with the spare last one) can reach the first byte of the rows one and two further on,
        # never of rows three apart (columns >= 8). So rows are OR-ed in three groups by row number modulo 3:
        # within a group no byte index repeats, which a fancy-indexed |= needs.
        for group in range(3):
            chosen = stack_rows % 3 == group
            self._buffer[targets[chosen]] |= spread[chosen]

    def pixel_data(self) -> bytes:
        """The packed pixel data, ready for the PixelData element."""
        return self._buffer[: self.byte_count].tobytes()

    def pixel_buffer(self) -> np.ndarray:
        """The packed pixel data as a uint8 array view (no copy): what :meth:`pixel_data` returns, as an array."""
        return self._buffer[: self.byte_count]

    def packed_bits(self) -> np.ndarray:
        """The packed frames without the padding byte: ``ceil(frames * rows * columns / 8)`` bytes (a view)."""
        return self._buffer[: self._packed_bytes]


def unpack_binary_frame(pixel_data: bytes | np.ndarray, index: int, rows: int, columns: int) -> np.ndarray:
    """Return frame ``index`` of BINARY pixel data as a (rows, columns) uint8 array of 0 and 1."""
    bits_per_frame = rows * columns
    start_bit = index * bits_per_frame
    start, offset = divmod(start_bit, 8)
    stop = -(-(start_bit + bits_per_frame) // 8)
    if stop > len(pixel_data):
        raise ValueError(f"pixel data has {len(pixel_data)} bytes; frame {index + 1} needs {stop}")
    raw = np.frombuffer(pixel_data, dtype=np.uint8, count=stop - start, offset=start)
    bits = np.unpackbits(raw, bitorder="little")[offset : offset + bits_per_frame]
    return bits.reshape(rows, columns)
