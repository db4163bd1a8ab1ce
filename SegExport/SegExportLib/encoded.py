"""A SEG as the writers produce it: the dataset, and its pixel data kept apart.

Pixel data is most of a SEG (154 MB for 4,630 frames of 512 x 512). BINARY and
LABELMAP frames are kept as a description of where they come from in the labelmap
and made chunk by chunk while :func:`SegExportLib.fileio.write_file` writes them
after the rest of the dataset; FRACTIONAL frames are the writer's own array, written
without a copy. :meth:`EncodedSeg.to_dataset` gives the usual complete
:class:`pydicom.Dataset` (what ``writer.write`` returns) when one is wanted.

>>> encoded = MultiClassWriter(tpl).encode(labels, ct_datasets)   # doctest: +SKIP
>>> write_file(encoded, "seg.dcm")                                # doctest: +SKIP
>>> dataset = encoded.to_dataset()                                # doctest: +SKIP
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Union

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import RLELossless

from .binary_frames import BinaryFrames
from .labelmap_frames import LabelmapFrames
from .rle import encode_frames

PIXEL_DATA_TAG = 0x7FE00010


FrameSource = Union[BinaryFrames, LabelmapFrames]
"""Frames made from the labelmap when needed: whole (``array()``) or in chunks (``chunks()``)."""


@dataclass
class EncodedSeg:
    """A SEG dataset without its PixelData element, and that pixel data.

    ``frames`` is the pixel data of a BINARY SEG (:class:`~SegExportLib.binary_frames.BinaryFrames`, or the
    packed 1-bit buffer as a one-dimensional uint8 array), of a LABELMAP SEG
    (:class:`~SegExportLib.labelmap_frames.LabelmapFrames`, or the frames as an array) or of a FRACTIONAL one
    (the (frames, rows, columns) uint8 array); ``bits_allocated`` says how many bits a pixel has.
    """

    dataset: Dataset
    frames: np.ndarray | FrameSource
    bits_allocated: int

    @property
    def pixels(self) -> np.ndarray:
        """The pixel data as an array (frames still to be made are made, once, when first asked for)."""
        return self.frames if isinstance(self.frames, np.ndarray) else self.frames.array()

    @property
    def encapsulated(self) -> bool:
        """True when the transfer syntax compresses frames one by one (RLE Lossless)."""
        return self.dataset.file_meta.TransferSyntaxUID == RLELossless

    @property
    def vr(self) -> str:
        return pixel_vr(self.bits_allocated)

    def native_pixel_bytes(self) -> memoryview:
        """The uncompressed PixelData value as a view of ``pixels`` (little endian; no copy on little-endian
        machines)."""
        return memoryview(_little_endian(self.pixels)).cast("B")

    def native_pixel_length(self) -> int:
        """The length of :meth:`native_pixel_bytes`, without making any frame."""
        return self.frames.nbytes if isinstance(self.frames, np.ndarray) else self.frames.byte_count

    def native_pixel_chunks(self) -> Iterator[memoryview]:
        """:meth:`native_pixel_bytes` in consecutive pieces; frames not made yet are made piece by piece into one
        buffer: use each piece before asking for the next."""
        if isinstance(self.frames, np.ndarray):
            yield self.native_pixel_bytes()
            return
        for chunk in self.frames.chunks():
            yield memoryview(_little_endian(chunk)).cast("B")

    def pixel_element_header(self, length: int) -> bytes:
        """Tag, VR and length of an Explicit VR Little Endian PixelData element with ``length`` value bytes."""
        return pixel_element_header(self.vr, length)

    def to_dataset(self) -> Dataset:
        """The complete dataset, PixelData included (a copy of the pixels as ``bytes``, RLE encoded if the
        transfer syntax says so). The dataset is returned, not copied."""
        if self.encapsulated:
            if isinstance(self.frames, np.ndarray):
                chunks: Iterable[np.ndarray] = [self.frames]
            else:  # each frame is compressed as soon as it is made
                chunks = self.frames.chunks()
            encoded_frames = [fragment for chunk in chunks for fragment in encode_frames(chunk)]
            self.dataset.add_new(PIXEL_DATA_TAG, "OB", encapsulate(encoded_frames))
            self.dataset["PixelData"].is_undefined_length = True
        else:
            # The VR must be explicit: pydicom resolves 'OB or OW' only when it re-encodes the dataset.
            self.dataset.add_new(PIXEL_DATA_TAG, self.vr, self.native_pixel_bytes().tobytes())
        return self.dataset


def pixel_vr(bits_allocated: int) -> str:
    """The VR of native PixelData with ``bits_allocated`` bits a pixel: OW for 16, OB for 1 and 8."""
    return "OW" if bits_allocated == 16 else "OB"


def pixel_element_header(vr: str, length: int) -> bytes:
    """Tag, VR (OB or OW) and length of an Explicit VR Little Endian PixelData element of ``length`` bytes."""
    return struct.pack("<HH2sHI", PIXEL_DATA_TAG >> 16, PIXEL_DATA_TAG & 0xFFFF, vr.encode(), 0, length)


def _little_endian(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` as a C-contiguous little-endian array (itself when it is one already)."""
    if pixels.dtype.itemsize > 1:
        pixels = pixels.astype(pixels.dtype.newbyteorder("<"), copy=False)
    return np.ascontiguousarray(pixels)
