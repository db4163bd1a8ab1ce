"""A minimal PNG writer (8-bit RGB, no dependencies beyond zlib), for overview images.

>>> data = png_bytes(np.zeros((2, 3, 3), dtype=np.uint8))
>>> data[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .fileio import write_bytes_atomically


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode a (height, width, 3) uint8 array as PNG."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected a (height, width, 3) uint8 array, got {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[:2]
    rows = np.zeros((height, 1 + width * 3), dtype=np.uint8)  # filter byte 0 (none) before every row
    rows[:, 1:] = rgb.reshape(height, width * 3)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + _chunk(b"IEND", b"")
    )


def read_png_rgb(data: bytes) -> np.ndarray:
    """Decode a PNG written by :func:`png_bytes` (8-bit RGB, filter 0) back to a (height, width, 3) array."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    position, width, height, compressed = 8, 0, 0, b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            compressed += body
        position += 12 + length
    rows = np.frombuffer(zlib.decompress(compressed), dtype=np.uint8).reshape(height, 1 + width * 3)
    if rows[:, 0].any():
        raise ValueError("only PNGs without row filters can be read here")
    return rows[:, 1:].reshape(height, width, 3).copy()


def write_png(rgb: np.ndarray, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write ``rgb`` as a PNG file, atomically."""
    return write_bytes_atomically(png_bytes(rgb), path, overwrite=overwrite)
