"""RLE Lossless fragments decode, with a decoder written from PS3.5 Annex G, to the frames encoded."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from SegExportLib.rle import encode_frame, encode_frames


def _decode_segment(segment: bytes, size: int) -> bytes:
    """PackBits (PS3.5 G.3.2): n in 0..127 copies n + 1 bytes, n in 129..255 repeats the next byte 257 - n times,
    128 does nothing."""
    out = bytearray()
    position = 0
    while len(out) < size:
        header = segment[position]
        position += 1
        if header < 128:
            out += segment[position : position + header + 1]
            position += header + 1
        elif header > 128:
            out += segment[position : position + 1] * (257 - header)
            position += 1
    assert len(out) == size, "a run crossed the end of the plane"
    return bytes(out)


def _decode_fragment(fragment: bytes, rows: int, columns: int, dtype: type) -> np.ndarray:
    header = struct.unpack("<16I", fragment[:64])
    count = header[0]
    assert count == np.dtype(dtype).itemsize and header[1] == 64 and not any(header[1 + count :])
    bounds = [*header[1 : 1 + count], len(fragment)]
    planes = []
    for start, stop in zip(bounds, bounds[1:]):
        assert (stop - start) % 2 == 0, "segments have even lengths"
        planes.append(np.frombuffer(_decode_segment(fragment[start:stop], rows * columns), np.uint8))
    value = np.zeros(rows * columns, dtype=np.uint32)
    for plane in planes:  # most significant byte first
        value = (value << 8) | plane
    return value.reshape(rows, columns).astype(dtype)


def _rows_decode_separately(fragment: bytes, rows: int, columns: int) -> bool:
    """No run or literal group spans two rows (PS3.5 G.3.1)."""
    segment = fragment[64:]
    position, produced = 0, 0
    while produced < rows * columns:
        header = segment[position]
        length = header + 1 if header < 128 else 257 - header
        if produced // columns != (produced + length - 1) // columns:
            return False
        position += 1 + (length if header < 128 else 1)
        produced += length
    return True


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize(
    "pattern", ["random bytes", "long runs", "runs of 129 and single bytes", "few values", "one column", "zeros"]
)
def test_fragments_decode_to_the_frames(dtype: type, pattern: str) -> None:
    rng = np.random.default_rng(len(pattern))
    shape = (11, 3, 1) if pattern == "one column" else (11, 4, 700)
    if pattern == "random bytes":
        frames = rng.integers(0, 1 << (8 * np.dtype(dtype).itemsize), size=shape)
    elif pattern == "long runs":
        frames = np.repeat(rng.integers(0, 300, size=(11, 4, 4)), 175, axis=2)
    elif pattern == "runs of 129 and single bytes":
        pieces = [np.full(129, 7), [1, 2, 3], np.full(130, 9), rng.integers(0, 5, 200), np.full(128, 4), [8], [3]]
        frames = np.tile(np.concatenate(pieces)[:700], (11, 4, 1))
    elif pattern == "few values":
        frames = rng.integers(0, 3, size=shape)
    elif pattern == "one column":
        frames = rng.integers(0, 2, size=shape)
    else:
        frames = np.zeros(shape)
    frames = frames.astype(dtype)
    fragments = encode_frames(frames)
    assert len(fragments) == len(frames)
    for frame, fragment in zip(frames, fragments):
        np.testing.assert_array_equal(_decode_fragment(fragment, *frame.shape, dtype), frame)
        assert fragment == encode_frame(frame)
        if dtype == np.uint8:
            assert _rows_decode_separately(fragment, *frame.shape)


def test_runs_are_cut_greedily() -> None:
    """Repeats of 2 to 128 bytes, single bytes grouped: 300 zeros are 128 + 128 + 44, then 5 literals."""
    frame = np.concatenate([np.zeros(300), [1, 2, 3, 4, 5]]).astype(np.uint8)[np.newaxis]
    assert encode_frame(frame)[64:] == b"\x81\x00\x81\x00\xd5\x00\x04\x01\x02\x03\x04\x05"


def test_no_frames_and_wrong_types() -> None:
    assert encode_frames(np.zeros((0, 2, 2), np.uint8)) == []
    with pytest.raises(ValueError, match="uint8 or uint16"):
        encode_frame(np.zeros((2, 2), np.int32))
