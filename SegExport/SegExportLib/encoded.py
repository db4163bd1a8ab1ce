"""A SEG as the writers produce it: the dataset, and its pixel data kept apart.

Pixel data is most of a SEG (154 MB for 4,630 frames of 512 x 512). A BINARY SEG's
frames are kept as the labelmap bands they come from and packed chunk by chunk
while :func:`SegExportLib.fileio.write_file` writes them after the rest of the
dataset; LABELMAP and FRACTIONAL frames are the writer's own array, written without
a copy. :meth:`EncodedSeg.to_dataset` gives the usual complete
:class:`pydicom.Dataset` (what ``writer.write`` returns) when one is wanted.

>>> encoded = MultiClassWriter(tpl).encode(labels, ct_datasets)   # doctest: +SKIP
>>> write_file(encoded, "seg.dcm")                                # doctest: +SKIP
>>> dataset = encoded.to_dataset()                                # doctest: +SKIP
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import RLELossless

from .binary_frames import BinaryFrames
from .rle import encode_frame

PIXEL_DATA_TAG = 0x7FE00010


@dataclass
class EncodedSeg:
    """A SEG dataset without its PixelData element, and that pixel data.

    ``frames`` is the pixel data of a BINARY SEG as :class:`~SegExportLib.binary_frames.BinaryFrames` (packed
    when written) or as a packed 1-bit buffer (uint8, one dimension), or the (frames, rows, columns)
    uint8/uint16 frames of a LABELMAP or FRACTIONAL one; ``bits_allocated`` says which.
    """

    dataset: Dataset
    frames: np.ndarray | BinaryFrames
    bits_allocated: int

    @property
    def pixels(self) -> np.ndarray:
        """The pixel data as an array (BINARY frames are packed, once, when first asked for)."""
        return self.frames.array() if isinstance(self.frames, BinaryFrames) else self.frames

    @property
    def encapsulated(self) -> bool:
        """True when the transfer syntax compresses frames one by one (RLE Lossless)."""
        return self.dataset.file_meta.TransferSyntaxUID == RLELossless

    @property
    def vr(self) -> str:
        return "OW" if self.bits_allocated == 16 else "OB"

    def native_pixel_bytes(self) -> memoryview:
        """The uncompressed PixelData value as a view of ``pixels`` (little endian; no copy on little-endian
        machines)."""
        pixels = self.pixels
        if pixels.dtype.itemsize > 1:
            pixels = pixels.astype(pixels.dtype.newbyteorder("<"), copy=False)
        return memoryview(np.ascontiguousarray(pixels)).cast("B")

    def native_pixel_length(self) -> int:
        """The length of :meth:`native_pixel_bytes`, without packing anything."""
        return self.frames.byte_count if isinstance(self.frames, BinaryFrames) else self.frames.nbytes

    def native_pixel_chunks(self, reuse_buffer: bool = True) -> Iterator[memoryview]:
        """:meth:`native_pixel_bytes` in consecutive pieces; BINARY frames not packed yet are packed piece by piece
        (with ``reuse_buffer``, into one buffer: use each piece before asking for the next)."""
        if isinstance(self.frames, BinaryFrames):
            for chunk in self.frames.chunks(reuse_buffer=reuse_buffer):
                yield memoryview(chunk).cast("B")
        else:
            yield self.native_pixel_bytes()

    def pixel_element_header(self, length: int) -> bytes:
        """Tag, VR and length of an Explicit VR Little Endian PixelData element with ``length`` value bytes."""
        return struct.pack("<HH2sHI", PIXEL_DATA_TAG >> 16, PIXEL_DATA_TAG & 0xFFFF, self.vr.encode(), 0, length)

    def to_dataset(self) -> Dataset:
        """The complete dataset, PixelData included (a copy of the pixels as ``bytes``, RLE encoded if the
        transfer syntax says so). The dataset is returned, not copied."""
        if self.encapsulated:
            self.dataset.add_new(PIXEL_DATA_TAG, "OB", encapsulate([encode_frame(frame) for frame in self.pixels]))
            self.dataset["PixelData"].is_undefined_length = True
        else:
            # The VR must be explicit: pydicom resolves 'OB or OW' only when it re-encodes the dataset.
            self.dataset.add_new(PIXEL_DATA_TAG, self.vr, self.native_pixel_bytes().tobytes())
        return self.dataset
