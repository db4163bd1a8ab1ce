"""The numpy deflate encoder: every block inflates (zlib) to the bytes given, its codes are valid deflate codes,
and on SEG-like frames it compresses about as well as zlib."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from SegExportLib import sparse_deflate
from SegExportLib.sparse_deflate import (
    MAX_MATCH,
    canonical_codes,
    deflate_sparse,
    huffman_code_lengths,
)


@pytest.fixture
def any_density(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encode data however dense, so that small test frames go through every step of the encoder."""
    monkeypatch.setattr(sparse_deflate, "MIXED_FRACTION_LIMIT", 1.0)


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out = inflater.decompress(data) + inflater.flush()
    assert inflater.eof, "the stream has no final block"
    assert not inflater.unused_data, "bytes after the final block"
    return out


def _round_trip(data: bytes, row_bytes: int | None, frame_bytes: int | None, sparse: bool = True) -> bytes | None:
    """The block of ``data``, checked to inflate to it; None allowed only when ``sparse`` is False."""
    block = deflate_sparse(data, row_bytes, frame_bytes, final=True)
    if block is None:
        assert not sparse, "sparse data left to zlib"
        return None
    assert _inflate(block) == data
    return block


def _masks(rng: np.random.Generator, frames: int, rows: int, columns: int, shapes: int = 3) -> np.ndarray:
    """Frames holding a few ellipses that drift from frame to frame, like organs on CT slices."""
    y, x = np.mgrid[:rows, :columns]
    out = np.zeros((frames, rows, columns), bool)
    for _ in range(shapes):
        cy, cx = rng.uniform(0.2, 0.8) * rows, rng.uniform(0.2, 0.8) * columns
        ry, rx = rng.uniform(0.03, 0.1) * rows, rng.uniform(0.03, 0.1) * columns
        first, last = sorted(rng.integers(0, frames, 2))
        for k in range(first, last + 1):
            grow = 1 - abs((k - (first + last) / 2) / max(last - first, 1))
            out[k] |= ((y - cy) / (ry * grow + 1)) ** 2 + ((x - cx) / (rx * grow + 1)) ** 2 <= 1
    return out


def _packed(masks: np.ndarray) -> bytes:
    """BINARY pixel data: frames one after the other, 8 pixels a byte, first pixel in the lowest bit."""
    return np.packbits(masks.reshape(-1), bitorder="little").tobytes()


@pytest.mark.parametrize("rows, columns", [(64, 64), (128, 96), (37, 53), (16, 8), (200, 3)])
def test_binary_frames_inflate_to_themselves(rows: int, columns: int, any_density: None) -> None:
    rng = np.random.default_rng(rows * 1000 + columns)
    masks = _masks(rng, 40, rows, columns)
    data = _packed(masks)
    row_bits, frame_bits = columns, rows * columns
    row_bytes = row_bits // 8 if row_bits % 8 == 0 else row_bits
    frame_bytes = frame_bits // 8 if frame_bits % 8 == 0 else None
    _round_trip(data, row_bytes, frame_bytes)
    _round_trip(data, row_bytes, None)
    _round_trip(data, None, None)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_label_frames_inflate_to_themselves(dtype: type, any_density: None) -> None:
    rng = np.random.default_rng(7)
    masks = _masks(rng, 30, 96, 80, shapes=5)
    labels = (masks * rng.integers(1, 300 if dtype == np.uint16 else 255, size=(30, 1, 1))).astype(dtype)
    data = labels.tobytes()
    row_bytes = 80 * np.dtype(dtype).itemsize
    _round_trip(data, row_bytes, row_bytes * 96 if row_bytes * 96 <= 32768 else None)


def test_runs_of_every_length_around_the_longest_copy(any_density: None) -> None:
    """Zero runs, repeated rows and repeated frames of 258 x k + r bytes: the last copy is never shorter than 3."""
    for run in [3, 4, 15, 16, 17, 257, 258, 259, 260, 261, 516, 517, 518, 519, 1000, 4096, 70001]:
        data = bytes([1, 2, 3]) + bytes(run) + bytes([4]) + bytes([5, 6, 7, 8] * (run // 4 + 1))
        for row_bytes, frame_bytes in [(None, None), (1, None), (4, 16), (16, 256), (64, 32768)]:
            _round_trip(data, row_bytes, frame_bytes)


def test_small_and_empty_data(any_density: None) -> None:
    for data in [b"", b"\0", b"\1", b"\0\0", b"ab", b"\0\0\0", bytes(range(1, 40))]:
        _round_trip(data, 8, 64)
        _round_trip(data, None, None)


def test_nothing_is_copied_from_before_the_data(any_density: None) -> None:
    """Each block stands alone: it inflates on its own, whatever comes before it in a stream."""
    rng = np.random.default_rng(3)
    data = _packed(_masks(rng, 20, 64, 64))
    half = len(data) // 2
    second = deflate_sparse(data[half:], 8, 512, final=True)
    assert second is not None and _inflate(second) == data[half:]
    first = deflate_sparse(data[:half], 8, 512, final=False)
    assert first is not None
    assert _inflate(first + second) == data


def test_blocks_concatenate_with_zlib_blocks(any_density: None) -> None:
    """A non-final block ends on a byte boundary (an empty stored block), so blocks from separate calls and zlib's
    sync-flushed output make one stream."""
    rng = np.random.default_rng(5)
    pieces = [_packed(_masks(rng, 10, 32, 64)) for _ in range(3)]
    text = b"header text " * 500
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
    for index, piece in enumerate(pieces):
        block = deflate_sparse(piece, 8, 256, final=index == len(pieces) - 1)
        assert block is not None
        if index < len(pieces) - 1:
            assert block.endswith(b"\0\0\xff\xff")
        stream += block
    assert _inflate(stream) == text + b"".join(pieces)


def test_dense_data_is_left_to_zlib() -> None:
    rng = np.random.default_rng(11)
    assert deflate_sparse(rng.integers(0, 256, 100_000, dtype=np.uint8).tobytes(), 64, 4096, final=True) is None
    # A row repeated all through is not "mixed": it is copied from the row above.
    repeated = np.tile(rng.integers(1, 256, 64, dtype=np.uint8), 2000).tobytes()
    block = _round_trip(repeated, 64, None)
    assert len(block) < 2000


def test_skewed_literals_need_codes_limited_to_15_bits() -> None:
    """Literal counts growing like Fibonacci numbers make a Huffman tree 20 deep; deflate allows 15."""
    counts = [1, 1]
    while len(counts) < 20:
        counts.append(counts[-1] + counts[-2])
    values = np.repeat(np.arange(1, 21, dtype=np.uint8), counts)
    np.random.default_rng(2).shuffle(values)
    data = np.zeros((len(values) * 4, 64), np.uint8)  # one literal in every fourth row
    data[::4, 5] = values
    depth_without_limit = huffman_code_lengths(np.array([*counts, 10**6]), limit=64).max()
    assert depth_without_limit > 15
    _round_trip(data.tobytes(), 64, None)


def test_code_lengths_are_complete_and_limited() -> None:
    rng = np.random.default_rng(1)
    fibonacci = [1, 1]
    while len(fibonacci) < 40:
        fibonacci.append(fibonacci[-1] + fibonacci[-2])
    cases = [np.array(fibonacci), rng.integers(0, 1000, 286), np.array([0, 0, 3]), np.zeros(30, int)]
    cases += [rng.integers(0, 3, 19) * rng.integers(0, 10**6, 19)]
    for frequencies in cases:
        for limit in (7, 15) if len(frequencies) <= 128 else (15,):
            lengths = huffman_code_lengths(frequencies, limit)
            used = lengths[lengths > 0]
            assert used.max() <= limit
            assert len(used) >= 2
            assert sum(2.0 ** -used.astype(float)) == 1.0  # complete: every decoder accepts it
            assert np.all(lengths[np.asarray(frequencies) > 0] > 0)


def test_code_lengths_are_those_of_huffman_when_short_enough() -> None:
    """Without limiting, the total cost equals a textbook Huffman code's."""
    import heapq

    rng = np.random.default_rng(4)
    for _ in range(20):
        frequencies = rng.integers(1, 500, int(rng.integers(2, 60)))
        heap = [int(f) for f in frequencies]
        heapq.heapify(heap)
        cost = 0
        while len(heap) > 1:
            merged = heapq.heappop(heap) + heapq.heappop(heap)
            cost += merged
            heapq.heappush(heap, merged)
        assert int((huffman_code_lengths(frequencies, 15) * frequencies).sum()) == cost


def test_canonical_codes_follow_rfc_1951() -> None:
    """The example of RFC 1951 3.2.2: lengths (3, 3, 3, 3, 3, 2, 4, 4) give 010 011 100 101 110 00 1110 1111."""
    codes = canonical_codes(np.array([3, 3, 3, 3, 3, 2, 4, 4]))
    expected = ["010", "011", "100", "101", "110", "00", "1110", "1111"]
    assert [int(code) for code in codes] == [int(bits[::-1], 2) for bits in expected]


def test_seg_frames_compress_about_as_well_as_zlib() -> None:
    """CT-sized frames of a few organs each (as BINARY SEG frames are: one segment per frame)."""
    rng = np.random.default_rng(8)
    data = _packed(_masks(rng, 120, 512, 512, shapes=1))
    block = _round_trip(data, 64, 32768)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    reference = len(compressor.compress(data) + compressor.flush())
    assert len(block) < 1.5 * reference
    assert len(block) < len(data) / 20


def test_copies_of_258_bytes_are_grouped_without_changing_the_stream() -> None:
    """A long zero run is hundreds of 258-byte copies written as groups of bits; a 5 MB run inflates exactly."""
    data = b"\x07" + bytes(5_000_000) + b"\x09" + bytes(MAX_MATCH * 3 + 1)
    block = _round_trip(data, 64, None)
    assert len(block) < 5_000_000 / MAX_MATCH


def test_rows_seen_a_few_rows_before_are_copied_from_there(any_density: None) -> None:
    """A shape's rows come back further down (an ellipse's lower half mirrors its upper half): each row is a copy
    of the nearest earlier row holding the same bytes (within deflate's 32 KiB), so 100 distinct rows repeated
    cost little more than once."""
    rng = np.random.default_rng(9)
    patterns = rng.integers(1, 256, size=(100, 64), dtype=np.uint8)
    patterns[:, :40] = 0
    order = np.concatenate((np.arange(100), np.arange(99, -1, -1), np.arange(100)))
    data = np.zeros((len(order) * 2, 64), np.uint8)
    data[::2] = patterns[order]  # a zero row between them: never a copy of the row above
    once = _round_trip(np.ascontiguousarray(data[:200]).tobytes(), 64, None)
    thrice = _round_trip(data.tobytes(), 64, None)
    assert once is not None and thrice is not None
    assert len(thrice) < 1.3 * len(once)


def test_rows_with_equal_keys_are_compared_before_being_copied(
    monkeypatch: pytest.MonkeyPatch, any_density: None
) -> None:
    """Every row given the same key (as if all collided): only rows really equal become copies."""
    monkeypatch.setattr(sparse_deflate, "_row_keys", lambda rows: np.zeros(len(rows), np.uint64))
    rng = np.random.default_rng(10)
    data = np.zeros((3000, 64), np.uint8)
    data[::3, 50:] = rng.integers(0, 4, size=(1000, 14), dtype=np.uint8)
    _round_trip(data.tobytes(), 64, 32768)
