"""DICOM RLE Lossless (PS3.5 Annex G), encoded with numpy: no codec package needed.

Each frame becomes a 64-byte header and one PackBits-style segment per byte plane (most significant
byte first for 16-bit pixels); runs never cross a row, as the standard requires. Segmentation frames
are long runs of a few values, so finding the runs is vectorised and only the runs are looped over.

>>> import numpy as np
>>> frame = np.zeros((2, 300), np.uint8)
>>> frame[1, 10:20] = 3
>>> len(encode_frame(frame)) < 100
True
"""

from __future__ import annotations

import struct

import numpy as np

_MAX_RUN = 128


def _encode_plane(plane: np.ndarray) -> bytes:
    """PackBits-encode one byte plane (rows, columns), row by row; padded to an even length."""
    rows, columns = plane.shape
    flat = plane.ravel()
    starts = np.flatnonzero(np.concatenate(([True], flat[1:] != flat[:-1])))
    starts = np.union1d(starts, np.arange(rows) * columns)  # runs never cross a row
    lengths = np.diff(np.append(starts, flat.size))
    values = flat[starts]
    row_start = (starts % columns) == 0
    out = bytearray()
    literal = bytearray()

    def flush_literal() -> None:
        for begin in range(0, len(literal), _MAX_RUN):
            chunk = literal[begin : begin + _MAX_RUN]
            out.append(len(chunk) - 1)
            out.extend(chunk)
        literal.clear()

    for value, length, new_row in zip(values.tolist(), lengths.tolist(), row_start.tolist()):
        if new_row:
            flush_literal()
        if length == 1:
            literal.append(value)
            continue
        flush_literal()
        while length > 0:
            count = min(length, _MAX_RUN)
            if count == 1:
                literal.append(value)
            else:
                out.append(257 - count)
                out.append(value)
            length -= count
    flush_literal()
    if len(out) % 2:
        out.append(0)
    return bytes(out)


def encode_frame(frame: np.ndarray) -> bytes:
    """One frame (rows, columns) of uint8 or uint16 pixels as an RLE Lossless fragment."""
    if frame.dtype == np.uint8:
        planes = [frame]
    elif frame.dtype == np.uint16:
        planes = [(frame >> 8).astype(np.uint8), (frame & 0xFF).astype(np.uint8)]
    else:
        raise ValueError(f"RLE encodes uint8 or uint16 frames, not {frame.dtype}")
    segments = [_encode_plane(plane) for plane in planes]
    offsets, position = [], 64
    for segment in segments:
        offsets.append(position)
        position += len(segment)
    header = struct.pack("<16I", len(segments), *offsets, *([0] * (15 - len(segments))))
    return header + b"".join(segments)
