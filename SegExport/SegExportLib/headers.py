"""Reading source image headers: all of the first one, only what a SEG needs of the others.

A SEG copies patient and study attributes from one source image and needs, from every
other one, a handful of values: its UIDs, position, orientation, spacing and size.
Parsing every element of hundreds of headers with pydicom is the largest part of
reading a series, so :func:`read_source_headers` reads the first header with pydicom
and scans the others' bytes for just those elements (:func:`read_geometry_header`),
returning them as a small :class:`pydicom.Dataset` of raw elements that pydicom
decodes on access as usual.

The scan covers the single-frame CT, MR and PET images of nearly every series in
explicit or implicit VR little endian; anything else (multi-frame images, deflated or
big endian files, undefined-length sequences before the wanted elements, damaged
files) is read by pydicom, so the result never depends on which path was taken.

>>> headers = read_source_headers(sorted(Path("ct").glob("*.dcm")))   # doctest: +SKIP
>>> headers[1].ImagePositionPatient                                   # doctest: +SKIP
[-250.0, -250.0, -120.0]
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from .errors import SourceSeriesError

WANTED_TAGS = frozenset(
    {
        0x00080016,  # SOPClassUID
        0x00080018,  # SOPInstanceUID
        0x0020000E,  # SeriesInstanceUID
        0x00200032,  # ImagePositionPatient
        0x00200037,  # ImageOrientationPatient
        0x00200052,  # FrameOfReferenceUID
        0x00280010,  # Rows
        0x00280011,  # Columns
        0x00280030,  # PixelSpacing
    }
)
"""What the scan keeps of each header: what :class:`~SegExportLib.source.SourceSeries` reads of every image."""

_NUMBER_OF_FRAMES = 0x00280008
# NumberOfFrames too, to recognise multi-frame images.
_GEOMETRY_SCAN = WANTED_TAGS | {_NUMBER_OF_FRAMES}
_SOP_CLASS_UID = 0x00080016

SINGLE_FRAME_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
        "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
        "1.2.840.10008.5.1.4.1.1.128",  # Positron Emission Tomography Image Storage
    }
)
"""SOP classes whose instances are one image plane each, with their geometry at the top level."""

_EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"
_IMPLICIT_LITTLE = "1.2.840.10008.1.2"
# Transfer syntaxes whose dataset (not pixel data) is explicit VR little endian: the uncompressed one and the
# encapsulated ones (JPEG, JPEG-LS, JPEG 2000, RLE, ...), which all start 1.2.840.10008.1.2.4 or .5.
_ENCAPSULATED_PREFIXES = ("1.2.840.10008.1.2.4.", "1.2.840.10008.1.2.5")
_JPIP_DEFLATE = "1.2.840.10008.1.2.4.95"  # JPIP Referenced Deflate: the dataset itself is deflated
_LONG_LENGTH_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_UNDEFINED_LENGTH = 0xFFFFFFFF
_FIRST_READ_BYTES = 16384
_MORE_READ_BYTES = 4 << 20

_ELEMENT_HEADER = struct.Struct("<HH")
_SHORT_LENGTH = struct.Struct("<H")
_LONG_LENGTH = struct.Struct("<I")


def read_source_headers(paths: Sequence[str | os.PathLike[str] | Dataset]) -> list[Dataset]:
    """The source images' headers without pixel data: the first in full, the others with what a SEG needs of
    them (datasets given are passed through). A file that cannot be read is named."""
    return [read_source_header(path, full=index == 0) for index, path in enumerate(paths)]


def read_source_header(path: str | os.PathLike[str] | Dataset, full: bool = False) -> Dataset:
    """One source header: in full (pydicom, no pixel data), or what a SEG needs of it when the file allows the
    quick scan (else in full); a dataset given is returned as it is. A file that cannot be read is named."""
    if isinstance(path, Dataset):
        return path
    name = os.fspath(path)
    if not full:
        try:
            scanned = read_geometry_header(name)
        except OSError as exc:
            raise SourceSeriesError(f"cannot read source image {name}: {exc}") from exc
        if scanned is not None:
            return scanned
    try:
        return pydicom.dcmread(name, stop_before_pixels=True)
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise SourceSeriesError(f"cannot read source image {name}: {exc}") from exc


def read_geometry_header(path: str) -> Dataset | None:
    """The :data:`WANTED_TAGS` elements of a single-frame image file, or ``None`` when the file is not one the
    scan handles (the caller then reads it with pydicom)."""
    dataset = scan_header(path, _GEOMETRY_SCAN)
    if dataset is None or _NUMBER_OF_FRAMES in dataset or not all(tag in dataset for tag in WANTED_TAGS):
        return None  # pydicom reads it, and names what is missing
    sop_class = bytes(dataset.get_item(_SOP_CLASS_UID).value).rstrip(b"\0 ").decode("ascii", "replace")
    return dataset if sop_class in SINGLE_FRAME_CLASSES else None


def scan_header(path: str, tags: frozenset[int]) -> Dataset | None:
    """Those of ``tags`` that a DICOM file's dataset holds at its top level, read from the file's bytes without
    pydicom's parser, as a :class:`pydicom.Dataset` of raw elements (decoded on access); ``None`` when the file is
    not one the scan handles: no DICM prefix, not little endian, deflated, or an undefined length or the end of
    the data before the last of ``tags``. Values of elements the scan passes over are never read."""
    with open(path, "rb") as stream:
        data = stream.read(_FIRST_READ_BYTES)
        if len(data) < 144 or data[128:132] != b"DICM":
            return None
        meta_end, syntax = _file_meta(data)
        if syntax is None:
            return None
        if syntax == _IMPLICIT_LITTLE:
            implicit = True
        elif syntax == _EXPLICIT_LITTLE or (syntax.startswith(_ENCAPSULATED_PREFIXES) and syntax != _JPIP_DEFLATE):
            implicit = False
        else:
            return None
        found = _scan(data, meta_end, implicit, tags)
        if found is None:  # the wanted elements lie further on: read more of the header
            data += stream.read(_MORE_READ_BYTES)
            found = _scan(data, meta_end, implicit, tags)
    if found is None:
        return None
    dataset = Dataset({BaseTag(tag): element for tag, element in found.items()})
    dataset.filename = path
    return dataset


def _file_meta(data: bytes) -> tuple[int, str | None]:
    """Where the dataset starts after the (explicit VR little endian) file meta group, and its transfer syntax."""
    offset, syntax = 132, None
    while offset + 8 <= len(data):
        group, element = _ELEMENT_HEADER.unpack_from(data, offset)
        if group != 0x0002:
            break
        vr = data[offset + 4 : offset + 6]
        if vr in _LONG_LENGTH_VRS:
            length, start = _LONG_LENGTH.unpack_from(data, offset + 8)[0], offset + 12
        else:
            length, start = _SHORT_LENGTH.unpack_from(data, offset + 6)[0], offset + 8
        if length == _UNDEFINED_LENGTH or start + length > len(data):
            return offset, None
        if element == 0x0010:
            syntax = data[start : start + length].rstrip(b"\0 ").decode("ascii", "replace")
        offset = start + length
    return offset, syntax


def _scan(data: bytes, offset: int, implicit: bool, tags: frozenset[int]) -> dict[int, RawDataElement] | None:
    """The elements of ``tags`` from ``offset`` on, stopping after the last of them; ``None`` if ``data`` ends
    first or an undefined length comes before that."""
    found: dict[int, RawDataElement] = {}
    size = len(data)
    last = max(tags)
    while offset + 8 <= size:
        group, element = _ELEMENT_HEADER.unpack_from(data, offset)
        tag = group << 16 | element
        if tag > last:
            return found
        if implicit:
            vr, length, start = None, _LONG_LENGTH.unpack_from(data, offset + 4)[0], offset + 8
        else:
            raw_vr = data[offset + 4 : offset + 6]
            if raw_vr in _LONG_LENGTH_VRS:
                if offset + 12 > size:
                    return None
                length, start = _LONG_LENGTH.unpack_from(data, offset + 8)[0], offset + 12
            else:
                length, start = _SHORT_LENGTH.unpack_from(data, offset + 6)[0], offset + 8
            if not (raw_vr.isalpha() and raw_vr.isupper()):
                return None
            vr = raw_vr.decode("ascii")
        if length == _UNDEFINED_LENGTH or start + length > size:
            return None
        if tag in tags:
            found[tag] = RawDataElement(BaseTag(tag), vr, length, data[start : start + length], start, implicit, True)
        offset = start + length
    return None
