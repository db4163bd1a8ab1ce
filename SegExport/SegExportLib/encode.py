"""Turning labelmap voxels into SEG frames: which labels are where, and bit packing.

BINARY SEG pixel data is one bit per pixel, packed continuously across frame
boundaries (PS3.5 section 8.1.1): frame *n* starts at bit ``n * rows * columns``,
which is not a byte boundary when ``rows * columns`` is not a multiple of 8.

>>> packer = BinaryFramePacker(frame_count=2, rows=1, columns=3)
>>> packer.put(0, np.array([[True, False, True]]))
>>> packer.put(1, np.array([[True, True, False]]))
>>> packer.pixel_data()
b'-\\x00'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Beyond this label value a per-slice bincount table would be too large; fall back to np.unique.
_MAX_BINCOUNT_LABEL = 1 << 16


@dataclass(frozen=True)
class LabelSummary:
    """Which label values occur in which slices of a labelmap."""

    values: np.ndarray
    """The distinct non-zero label values, ascending."""
    presence: np.ndarray
    """Boolean array (slices, len(values)): ``presence[k, i]`` if ``values[i]`` occurs in slice k."""

    def slices_of(self, value: int) -> np.ndarray:
        """Indices of the slices that contain ``value``."""
        column = int(np.searchsorted(self.values, value))
        return np.flatnonzero(self.presence[:, column])


def summarize_labels(labels: np.ndarray) -> LabelSummary:
    """Find the label values of a (slices, rows, columns) integer array and the slices holding each.

    One pass, one slice at a time, so memory stays at one slice's worth beyond the input.
    """
    slice_count = labels.shape[0]
    max_label = int(labels.max()) if labels.size else 0
    if max_label == 0:
        return LabelSummary(np.zeros(0, dtype=np.int64), np.zeros((slice_count, 0), dtype=bool))
    if max_label < _MAX_BINCOUNT_LABEL:
        counts = np.zeros((slice_count, max_label + 1), dtype=bool)
        for k in range(slice_count):
            counts[k] = np.bincount(labels[k].ravel(), minlength=max_label + 1) > 0
        present = np.flatnonzero(counts[:, 1:].any(axis=0)) + 1
        return LabelSummary(present.astype(np.int64), counts[:, present])
    per_slice = [np.unique(labels[k]) for k in range(slice_count)]
    present = np.setdiff1d(np.unique(np.concatenate(per_slice)), [0])
    presence = np.zeros((slice_count, len(present)), dtype=bool)
    for k, values in enumerate(per_slice):
        presence[k, np.searchsorted(present, np.setdiff1d(values, [0]))] = True
    return LabelSummary(present.astype(np.int64), presence)


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
        # PixelData (OB) needs an even length; the padding byte stays zero.
        self._buffer = np.zeros(total_bytes + (total_bytes % 2), dtype=np.uint8)

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
        start_bit = index * self.bits_per_frame + first_row * self.columns
        bit_count = (last_row - first_row) * self.columns
        rows = mask[first_row:last_row]
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

    def pixel_data(self) -> bytes:
        """The packed pixel data, ready for the PixelData element."""
        return self._buffer.tobytes()


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
