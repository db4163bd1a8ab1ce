"""A SEG as the writers produce it: the dataset, and its pixel data kept apart as an array.

Pixel data is most of a SEG (154 MB for 4,630 frames of 512 x 512). Holding it as the
writer's own array until it is written means it is never copied into a ``bytes``
object: :func:`SegExportLib.fileio.write_file` streams it into the file after the
rest of the dataset. :meth:`EncodedSeg.to_dataset` gives the usual complete
:class:`pydicom.Dataset` (what ``writer.write`` returns) when one is wanted.

>>> encoded = MultiClassWriter(tpl).encode(labels, ct_datasets)   # doctest: +SKIP
>>> write_file(encoded, "seg.dcm")                                # doctest: +SKIP
>>> dataset = encoded.to_dataset()                                # doctest: +SKIP
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import RLELossless

from .rle import encode_frame

PIXEL_DATA_TAG = 0x7FE00010


@dataclass
class EncodedSeg:
    """A SEG dataset without its PixelData element, and that pixel data.

    ``pixels`` is the packed 1-bit buffer (uint8, one dimension) of a BINARY SEG, or the (frames, rows,
    columns) uint8/uint16 frames of a LABELMAP or FRACTIONAL one; ``bits_allocated`` says which.
    """

    dataset: Dataset
    pixels: np.ndarray
    bits_allocated: int

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
