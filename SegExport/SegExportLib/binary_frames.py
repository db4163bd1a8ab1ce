"""The pixel data of a BINARY SEG, described by the labelmap bands it comes from and packed when it is needed.

A BINARY SEG of a large labelmap has hundreds of megabytes of 1-bit frames
(154 MB for 4,630 frames of 512 x 512) that are only ever written out once.
:class:`BinaryFrames` keeps what each frame is (one label's voxels in one slice,
within rows known to hold it) and packs the frames chunk by chunk while the file
is written, reusing one chunk-sized buffer: the whole pixel data never exists in
memory. :meth:`BinaryFrames.array` packs everything at once when a complete array
is wanted (``writer.write`` returns a complete dataset).

>>> volume = np.array([[[0, 2, 2, 0], [1, 1, 0, 0]]])
>>> bands = LabelBands(volume, frames=np.array([0, 1]), slices=np.array([0, 0]), labels=np.array([1, 2]),
...                    first_rows=np.array([1, 0]), stop_rows=np.array([2, 1]))
>>> frames = BinaryFrames(frame_count=2, rows=2, columns=4, bands=[bands])
>>> frames.array().tolist(), b"".join(frames.chunks()) == frames.array().tobytes()
([48, 6], True)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .encode import BinaryFramePacker

CHUNK_BYTES = 4 << 20
"""About how many bytes of packed frames :meth:`BinaryFrames.chunks` makes at a time."""


@dataclass(frozen=True)
class LabelBands:
    """Frames that are each one label's voxels in one slice of a labelmap, within a band of rows.

    Frame ``frames[i]`` is ``volume[slices[i]] == labels[i]`` in the rows ``first_rows[i] <= r < stop_rows[i]``
    and zero elsewhere. ``frames`` is ascending.
    """

    volume: np.ndarray
    frames: np.ndarray
    slices: np.ndarray
    labels: np.ndarray
    first_rows: np.ndarray
    stop_rows: np.ndarray


class BinaryFrames:
    """``frame_count`` packed 1-bit frames of ``rows`` x ``columns`` (cut from the volumes at ``row_start``,
    ``column_start``), from label bands; frames no band covers are empty.

    The volumes are read when the frames are packed, so they must not change until then.
    """

    def __init__(
        self,
        frame_count: int,
        rows: int,
        columns: int,
        bands: list[LabelBands],
        row_start: int = 0,
        column_start: int = 0,
    ) -> None:
        self.frame_count = frame_count
        self.rows = rows
        self.columns = columns
        self.bands = bands
        self.row_start = row_start
        self.column_start = column_start
        self.bits_per_frame = rows * columns
        packed_bytes = -(-frame_count * self.bits_per_frame // 8)
        self.byte_count = packed_bytes + packed_bytes % 2
        """The PixelData length: the packed bits, padded to an even number of bytes."""
        self._array: np.ndarray | None = None

    def array(self) -> np.ndarray:
        """All the packed frames (uint8, ``byte_count`` long), packed on the first call."""
        if self._array is None:
            packer = BinaryFramePacker(self.frame_count, self.rows, self.columns)
            self._pack(packer, 0, self.frame_count)
            self._array = packer.pixel_buffer()
        return self._array

    def chunks(self, chunk_bytes: int | None = None) -> Iterator[np.ndarray]:
        """The packed pixel data, ``byte_count`` bytes in all, as consecutive uint8 arrays of about
        ``chunk_bytes`` (default ``CHUNK_BYTES``; each chunk holds a whole number of frames, at least 8).

        Every chunk is the same buffer, refilled: use each before asking for the next.
        """
        if self._array is not None:
            yield self._array
            return
        # Chunks start at multiples of 8 frames, so at byte boundaries whatever the frame size.
        chunk_bits = (chunk_bytes or CHUNK_BYTES) * 8
        frames_per_chunk = max(8, chunk_bits // max(self.bits_per_frame, 1) // 8 * 8)
        buffer = None
        written = 0
        for first in range(0, self.frame_count, frames_per_chunk):
            stop = min(first + frames_per_chunk, self.frame_count)
            packer = BinaryFramePacker(stop - first, self.rows, self.columns, buffer)
            buffer = packer.storage
            self._pack(packer, first, stop)
            chunk = packer.packed_bits()
            written += len(chunk)
            yield chunk
        if written < self.byte_count:  # the pad byte making the length even
            yield np.zeros(self.byte_count - written, dtype=np.uint8)

    def _pack(self, packer: BinaryFramePacker, first: int, stop: int) -> None:
        """Pack frames ``first`` to ``stop - 1`` into ``packer``, whose frame 0 is frame ``first``."""
        for bands in self.bands:
            lo, hi = np.searchsorted(bands.frames, (first, stop))
            if lo == hi:
                continue
            packer.put_label_bands(
                bands.frames[lo:hi] - first,
                bands.volume,
                bands.slices[lo:hi],
                bands.labels[lo:hi],
                bands.first_rows[lo:hi],
                bands.stop_rows[lo:hi],
                self.row_start,
                self.column_start,
            )
