"""The frames of a LABELMAP SEG, made from the labelmap when they are needed.

A LABELMAP SEG frame is one slice of the labelmap (cut to the frame box) with each
label value replaced by its segment number. :class:`LabelmapFrames` makes them a
few megabytes at a time into one reused buffer while the file is written, so the
frames never sit in memory whole beside the labelmap; :meth:`LabelmapFrames.array`
makes them all at once when a complete array is wanted.

>>> labels = np.array([[[0, 7], [3, 0]], [[0, 0], [0, 0]], [[3, 3], [0, 7]]])
>>> frames = LabelmapFrames(labels, np.array([0, 2]), (0, 2, 0, 2), np.array([3, 7]), np.array([1, 2]))
>>> frames.array().tolist()
[[[0, 2], [1, 0]], [[1, 1], [0, 2]]]
>>> b"".join(chunk.tobytes() for chunk in frames.chunks(chunk_bytes=4)) == frames.array().tobytes()
True
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from . import binary_frames


class LabelmapFrames:
    """Frames ``labels[k, row_start:row_stop, column_start:column_stop]`` for each ``k`` of ``slices``, in that
    order, with ``values[i]`` written as ``numbers[i]`` and every other value as 0.

    ``values`` are ascending; the frames are uint8 when every number fits, else little-endian uint16. The
    labelmap is read when the frames are made, so it must not change until then.
    """

    def __init__(
        self,
        labels: np.ndarray,
        slices: np.ndarray,
        box: tuple[int, int, int, int],
        values: np.ndarray,
        numbers: np.ndarray,
    ) -> None:
        self.labels = labels
        self.slices = np.asarray(slices, dtype=np.int64)
        self.box = box
        self.values = np.asarray(values)
        self.dtype = np.dtype("<u2") if numbers.size and int(numbers.max()) > 255 else np.dtype(np.uint8)
        self.numbers = np.asarray(numbers).astype(self.dtype)
        self.shape = (len(self.slices), box[1] - box[0], box[3] - box[2])
        self.byte_count = int(np.prod(self.shape)) * self.dtype.itemsize
        """The PixelData length before padding (odd for an odd number of uint8 pixels)."""
        self._lookup: np.ndarray | None = None
        if self.values.size and int(self.values[-1]) < 1 << 16:  # small label values: a direct table is fastest
            self._lookup = np.zeros(int(self.values[-1]) + 1, dtype=self.dtype)
            self._lookup[self.values] = self.numbers
        self._array: np.ndarray | None = None

    def array(self) -> np.ndarray:
        """All the frames, (frames, rows, columns), made on the first call."""
        if self._array is None:
            self._array = np.empty(self.shape, dtype=self.dtype)
            self._fill(self._array, self.slices)
        return self._array

    def chunks(self, chunk_bytes: int | None = None) -> Iterator[np.ndarray]:
        """The frames as consecutive (n, rows, columns) arrays of about ``chunk_bytes`` (default
        ``binary_frames.CHUNK_BYTES``; at least one frame each).

        Every chunk is a view of the same buffer, refilled: use each before asking for the next.
        """
        if self._array is not None:
            yield self._array
            return
        frame_bytes = max(self.shape[1] * self.shape[2] * self.dtype.itemsize, 1)
        per_chunk = max(1, (chunk_bytes or binary_frames.CHUNK_BYTES) // frame_bytes)
        buffer = None
        for first in range(0, len(self.slices), per_chunk):
            part = self.slices[first : first + per_chunk]
            if buffer is None:
                buffer = np.empty((min(per_chunk, len(self.slices)), *self.shape[1:]), dtype=self.dtype)
            chunk = buffer[: len(part)]
            self._fill(chunk, part)
            yield chunk

    def _fill(self, out: np.ndarray, slices: np.ndarray) -> None:
        row_start, row_stop, column_start, column_stop = self.box
        for index, k in enumerate(slices.tolist()):
            window = self.labels[k, row_start:row_stop, column_start:column_stop]
            if self._lookup is not None:
                np.take(self._lookup, window, out=out[index], mode="clip")  # every value is in the table
            else:  # label values too large for a table: binary search among the values present
                position = np.minimum(np.searchsorted(self.values, window), len(self.values) - 1)
                out[index] = np.where(self.values[position] == window, self.numbers[position], 0)
