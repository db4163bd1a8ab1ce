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

# A slice's (label, row) pairs are counted in a table when it is at most this many times larger than the part
# of the slice holding labels; otherwise they are sorted (a table costs its size, sorting costs its input).
_TABLE_TO_VOXELS = 8
# BinaryFramePacker.put_label_bands compares and packs at most about this many voxels at a time.
_BATCH_VOXELS = 1 << 22


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

    One slice at a time, over the rows and columns holding labels: memory stays at one slice's worth beyond
    the input and the result, and the time grows with the segmented area, not with labels times slices.
    """
    _keep_temporaries_off_mmap()
    slice_count = labels.shape[0]
    per_slice = [_labels_and_rows(labels[k]) for k in range(slice_count)]
    present = np.unique(np.concatenate([values for values, _, _ in per_slice]))
    presence = np.zeros((slice_count, len(present)), dtype=bool)
    first_rows = np.zeros((slice_count, len(present)), dtype=np.int32)
    stop_rows = np.zeros((slice_count, len(present)), dtype=np.int32)
    for k, (values, first, stop) in enumerate(per_slice):
        columns = np.searchsorted(present, values)
        presence[k, columns] = True
        first_rows[k, columns] = first
        stop_rows[k, columns] = stop
    return LabelSummary(present.astype(np.int64), presence, first_rows, stop_rows)


_NONE = np.zeros(0, dtype=np.int64)
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


def _labels_and_rows(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-zero values of a 2D label array with, for each, its first row and one past its last row."""
    used_rows = np.flatnonzero(plane.any(axis=1))
    if used_rows.size == 0:
        return _NONE, _NONE, _NONE
    # Only the rows and columns holding labels: scattered small segments cover a small part of their box.
    occupied = plane[used_rows]
    occupied = occupied[:, occupied.any(axis=0)]
    height = len(used_rows)
    # One key per (value, row), value-major, so that sorted keys list each value's rows in ascending order.
    keys = occupied.astype(np.int64) * height + np.arange(height)[:, None]
    table_size = (int(occupied.max()) + 1) * height
    if table_size <= _TABLE_TO_VOXELS * occupied.size:
        pairs = np.flatnonzero(np.bincount(keys.ravel(), minlength=table_size))
    else:
        pairs = np.unique(keys)
    pairs = pairs[pairs >= height]  # value 0 is background
    values, rows = np.divmod(pairs, height)
    starts = np.flatnonzero(np.diff(values, prepend=-1))
    ends = np.append(starts[1:] - 1, len(values) - 1)
    return values[starts], used_rows[rows[starts]], used_rows[rows[ends]] + 1


def nonzero_bounding_box(labels: np.ndarray, slices: np.ndarray | None = None) -> tuple[int, int, int, int] | None:
    """In-plane box ``(row_start, row_stop, column_start, column_stop)`` of the non-zero voxels, or ``None``."""
    rows_used = np.zeros(labels.shape[1], dtype=bool)
    columns_used = np.zeros(labels.shape[2], dtype=bool)
    for k in range(labels.shape[0]) if slices is None else slices:
        occupied = labels[k] != 0
        rows_used |= occupied.any(axis=1)
        columns_used |= occupied.any(axis=0)
    if not rows_used.any():
        return None
    row_indices, column_indices = np.flatnonzero(rows_used), np.flatnonzero(columns_used)
    return int(row_indices[0]), int(row_indices[-1]) + 1, int(column_indices[0]), int(column_indices[-1]) + 1


class BinaryFramePacker:
    """Packs boolean frames into one BINARY SEG pixel data buffer, frame by frame, in place."""

    def __init__(self, frame_count: int, rows: int, columns: int) -> None:
        self.frame_count = frame_count
        self.rows = rows
        self.columns = columns
        self.bits_per_frame = rows * columns
        total_bytes = -(-frame_count * self.bits_per_frame // 8)
        # PixelData (OB) needs an even length; the padding byte stays zero. Two more bytes of slack let
        # put_label_bands write a shifted row's last byte without a bounds check; they are never output.
        self.byte_count = total_bytes + (total_bytes % 2)
        self._buffer = np.zeros(self.byte_count + 2, dtype=np.uint8)

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
        row_in_band = np.arange(band_rows.size) - np.repeat(np.cumsum(heights) - heights, heights)
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
