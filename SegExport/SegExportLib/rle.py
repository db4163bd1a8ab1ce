"""DICOM RLE Lossless (PS3.5 Annex G), encoded with numpy: no codec package needed.

Each frame becomes a 64-byte header and one PackBits-style segment per byte plane (most significant
byte first for 16-bit pixels); runs never cross a row, as the standard requires. The runs of all the
frames given at once are found, cut and laid out in array operations, with no Python work per run.

>>> import numpy as np
>>> frame = np.zeros((2, 300), np.uint8)
>>> frame[1, 10:20] = 3
>>> len(encode_frame(frame)) < 100
True
>>> encode_frames(np.array([[[5, 5, 5, 1, 2]]], np.uint8))[0][64:]   # 3 x 5, then the literals 1, 2
b'\\xfe\\x05\\x01\\x01\\x02\\x00'
"""

from __future__ import annotations

import struct

import numpy as np

from .ranks import ranks_within

_MAX_RUN = 128
_FRAMES_AT_ONCE = 8
"""Frames encoded together: enough to spread numpy's call overhead, few enough to stay in cache (8 measured
faster than 1 or 64)."""


def encode_frame(frame: np.ndarray) -> bytes:
    """One frame (rows, columns) of uint8 or uint16 pixels as an RLE Lossless fragment."""
    return encode_frames(frame[np.newaxis])[0]


def encode_frames(frames: np.ndarray) -> list[bytes]:
    """Frames (frames, rows, columns) of uint8 or uint16 pixels as RLE Lossless fragments, one per frame."""
    if len(frames) > _FRAMES_AT_ONCE:
        return [
            fragment
            for first in range(0, len(frames), _FRAMES_AT_ONCE)
            for fragment in encode_frames(frames[first : first + _FRAMES_AT_ONCE])
        ]
    if frames.dtype == np.uint8:
        planes = frames[:, np.newaxis]
    elif frames.dtype == np.uint16:
        planes = np.stack([(frames >> 8).astype(np.uint8), (frames & 0xFF).astype(np.uint8)], axis=1)
    else:
        raise ValueError(f"RLE encodes uint8 or uint16 frames, not {frames.dtype}")
    frame_count, planes_per_frame = planes.shape[:2]
    if frame_count == 0:
        return []
    segments, starts = _packbits_segments(planes.reshape(frame_count * planes_per_frame, *planes.shape[2:]))
    fragments = []
    for frame in range(frame_count):
        first = frame * planes_per_frame
        offsets = [64 + int(starts[first + p] - starts[first]) for p in range(planes_per_frame)]
        header = struct.pack("<16I", planes_per_frame, *offsets, *([0] * (15 - planes_per_frame)))
        fragments.append(header + segments[starts[first] : starts[first + planes_per_frame]].tobytes())
    return fragments


def _packbits_segments(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PackBits-encode byte planes (planes, rows, columns) row by row, each padded to an even length.

    Returns the encoded planes one after the other and where each starts (one more entry: the total length).
    Runs of 2 to 128 equal bytes become (257 - length, value); single bytes (a run of 129 leaves one) are
    gathered, within their row, into literal groups of up to 128: (count - 1, bytes...).
    """
    plane_count, rows, columns = planes.shape
    flat = np.ascontiguousarray(planes).reshape(-1)
    opens_run = np.empty(flat.size, dtype=bool)
    opens_run[0] = True
    np.not_equal(flat[1:], flat[:-1], out=opens_run[1:])
    opens_run[::columns] = True  # runs never cross a row
    run_starts = np.flatnonzero(opens_run)
    run_lengths = np.diff(np.append(run_starts, flat.size))
    # Cut runs into pieces of at most _MAX_RUN.
    pieces_per_run = -(-run_lengths // _MAX_RUN)
    run_of_piece = np.repeat(np.arange(len(run_starts)), pieces_per_run)
    piece_in_run = ranks_within(pieces_per_run)
    starts = run_starts[run_of_piece] + piece_in_run * _MAX_RUN
    lengths = np.minimum(run_lengths[run_of_piece] - piece_in_run * _MAX_RUN, _MAX_RUN)
    values = flat[starts]
    literal = lengths == 1
    # Literal groups: consecutive single bytes of one row, at most _MAX_RUN to a group.
    row_start = starts % columns == 0
    opens_block = literal & (row_start | ~np.concatenate(([False], literal[:-1])))
    literal_index = np.cumsum(literal) - 1  # among all literal pieces
    block_first = np.maximum.accumulate(np.where(opens_block, literal_index, 0))
    opens_group = literal & ((literal_index - block_first) % _MAX_RUN == 0)
    group_sizes = np.bincount(np.cumsum(opens_group)[literal] - 1)
    # Bytes each piece adds: 2 for a repeat, its byte (and the group's count byte) for a literal.
    sizes = np.where(literal, 1 + opens_group, 2)
    plane_of_piece = starts // (rows * columns)
    ends = np.cumsum(sizes)
    first_piece = np.searchsorted(plane_of_piece, np.arange(plane_count))
    plane_sizes = np.add.reduceat(sizes, first_piece)
    padded = plane_sizes + plane_sizes % 2
    plane_starts = np.concatenate(([0], np.cumsum(padded)))
    offsets = plane_starts[plane_of_piece] + (ends - sizes) - (ends - sizes)[first_piece][plane_of_piece]
    out = np.zeros(plane_starts[-1], dtype=np.uint8)
    repeat = ~literal
    out[offsets[repeat]] = (257 - lengths[repeat]).astype(np.uint8)
    out[offsets[repeat] + 1] = values[repeat]
    out[offsets[opens_group]] = (group_sizes - 1).astype(np.uint8)
    out[offsets[literal] + opens_group[literal]] = values[literal]
    return out, plane_starts
