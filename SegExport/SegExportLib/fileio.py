"""Saving SEG datasets safely, on pydicom 2 and 3 alike.

:func:`write_file` writes to a temporary file in the target folder and moves it
into place only when complete, so an interrupted or failed write leaves no
partial file and never changes an existing one; it refuses to replace an
existing file unless ``overwrite=True``.

>>> write_file(dataset, "out/seg.dcm")                    # doctest: +SKIP
PosixPath('out/seg.dcm')

Given an :class:`~SegExportLib.encoded.EncodedSeg` (what the writers' ``encode``
returns) instead of a dataset, the pixel data is streamed from the writer's array
after the rest of the dataset, so the largest part of a SEG is never copied.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import tempfile
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Union

import pydicom
from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian

from .encoded import EncodedSeg
from .errors import OutputExistsError, OutputWriteError

SegData = Union[Dataset, EncodedSeg]

PYDICOM_MAJOR = int(pydicom.__version__.split(".")[0])

DEFLATE_LEVEL = 6
"""zlib level for Deflated Explicit VR Little Endian: level 1 is 2.5x faster but its files are twice as large."""
DEFLATE_CHUNK_BYTES = 4 << 20
"""Deflated data is compressed in chunks of this size on several threads (zlib releases the GIL)."""
WRITE_BEHIND_BYTES = 16 << 20
"""Output files are handed to the disk in parts of this size as they are written (see ``_WriteBehindFile``)."""


def declare_explicit_little_endian(dataset: Dataset) -> None:
    """Mark an in-memory dataset as Explicit VR Little Endian in its own character set.

    pydicom then writes raw (pre-encoded) elements unchanged instead of decoding and re-encoding them.
    """
    # pydicom compares this with its own view of the dataset's character set, which is the bare default
    # encoding name when SpecificCharacterSet is absent and a list of encodings when it is present.
    terms = dataset.get("SpecificCharacterSet")
    dataset.set_original_encoding(False, True, convert_encodings(terms) if terms else default_encoding)
    if PYDICOM_MAJOR < 3:
        dataset.is_little_endian = True
        dataset.is_implicit_VR = False


def save_dataset(dataset: SegData, target: str | os.PathLike[str] | io.BufferedIOBase) -> None:
    """``dataset.save_as`` with a DICOM file header (preamble and file meta), on pydicom 2 or 3.

    A Deflated Explicit VR Little Endian dataset is compressed here, in parallel chunks, rather than by pydicom,
    which compresses a second full copy of the encoded dataset on one thread. An :class:`EncodedSeg`'s pixels
    are written from its array, without a copy.
    """
    if isinstance(target, (str, os.PathLike)):
        with open(target, "wb") as stream:
            save_dataset(dataset, stream)
        return
    pixels: Iterator[memoryview] = iter(())
    if isinstance(dataset, EncodedSeg):
        if dataset.encapsulated:
            dataset = dataset.to_dataset()
        else:
            length = dataset.native_pixel_length()
            pad = b"\0" if length % 2 else b""
            pixels = itertools.chain(
                [memoryview(dataset.pixel_element_header(length + len(pad)))],
                dataset.native_pixel_chunks(),
                [memoryview(pad)],
            )
            dataset = dataset.dataset
            if dataset and max(dataset.keys()) >= 0x7FE00010:
                raise ValueError("an EncodedSeg's dataset must end before PixelData")
    if dataset.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
        _save_deflated(dataset, target, pixels)
        return
    if PYDICOM_MAJOR >= 3:
        dataset.save_as(target, enforce_file_format=True)
    else:
        dataset.save_as(target, write_like_original=False)
    for piece in pixels:
        target.write(piece)


def _save_deflated(dataset: Dataset, stream: io.BufferedIOBase, tail: Iterable[memoryview]) -> None:
    """Preamble, file meta (uncompressed) and the raw-deflated dataset followed by ``tail`` (the encoded
    PixelData element, if kept apart), as PS3.5 A.5 describes."""
    header = DicomBytesIO()
    header.is_little_endian, header.is_implicit_VR = True, False
    header.write(dataset.preamble or b"\0" * 128)
    header.write(b"DICM")
    write_file_meta_info(header, dataset.file_meta, enforce_standard=True)
    stream.write(header.getvalue())
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, dataset)
    length = 0
    for block in deflate_chunks(itertools.chain([body.parent.getbuffer()], tail)):
        stream.write(block)
        length += len(block)
    if length % 2:
        stream.write(b"\0")


def deflate_chunks(
    data: bytes | memoryview | Iterable[bytes | memoryview], level: int = DEFLATE_LEVEL
) -> Iterator[bytes]:
    """Raw deflate (no zlib header) of ``data`` (or of the concatenation of several buffers, which may come from
    a generator) as consecutive blocks forming one valid deflate stream.

    The data is copied into pieces of ``DEFLATE_CHUNK_BYTES`` (a few buffers, reused), each compressed on its
    own on a pool of threads while the next ones are filled; all but the last end with a sync flush (a
    byte-aligned, non-final block), so their outputs concatenate into a single stream, at the price of a few
    bytes per piece. A buffer may be changed as soon as the next one is asked for (the writers reuse one).

    >>> data = bytes(100) * 1000
    >>> zlib.decompress(b"".join(deflate_chunks(data)), -zlib.MAX_WBITS) == data
    True
    >>> zlib.decompress(b"".join(deflate_chunks([memoryview(b"ab"), memoryview(b"cd")])), -zlib.MAX_WBITS)
    b'abcd'
    """
    buffers = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data

    def compress(piece: memoryview, last: bool) -> bytes:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        return compressor.compress(piece) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    pieces = _Pieces(buffers)
    current = next(pieces, memoryview(b""))
    following = next(pieces, None)
    if following is None:
        yield compress(current, True)
        return
    workers = min(os.cpu_count() or 1, 8)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[tuple[Future[bytes], memoryview]] = deque()
        while following is not None:
            pending.append((pool.submit(compress, current, False), current))
            if len(pending) > workers:  # enough queued to keep every thread busy: wait for the oldest
                done, piece = pending.popleft()
                yield done.result()
                pieces.recycle(piece)
            current, following = following, next(pieces, None)
        pending.append((pool.submit(compress, current, True), current))
        while pending:
            yield pending.popleft()[0].result()


class _Pieces:
    """Iterates over the bytes of a sequence of buffers, copied into pieces of ``DEFLATE_CHUNK_BYTES``.

    Each piece is a view of one of a few buffers that :meth:`recycle` gives back for reuse, so a stream of any
    length uses a fixed amount of memory, already paged in after the first pieces.
    """

    def __init__(self, buffers: Iterable[bytes | memoryview]) -> None:
        self._buffers = iter(buffers)
        self._spare: list[bytearray] = []
        self._view = memoryview(b"")

    def __iter__(self) -> _Pieces:
        return self

    def __next__(self) -> memoryview:
        piece = self._spare.pop() if self._spare else bytearray(DEFLATE_CHUNK_BYTES)
        size = 0
        while size < len(piece):
            if not self._view:
                buffer = next(self._buffers, None)
                if buffer is None:
                    break
                self._view = memoryview(buffer).cast("B")
                continue
            count = min(len(self._view), len(piece) - size)
            piece[size : size + count] = self._view[:count]
            self._view = self._view[count:]
            size += count
        if size == 0:
            self._spare.append(piece)
            raise StopIteration
        return memoryview(piece)[:size]

    def recycle(self, piece: memoryview) -> None:
        """Take back the buffer under ``piece`` (its compression is done)."""
        buffer = piece.obj
        piece.release()
        self._spare.append(buffer)  # type: ignore[arg-type]  # pieces are views of bytearrays


def dataset_to_bytes(dataset: SegData) -> bytes:
    """The DICOM file (preamble, file meta, dataset) as bytes."""
    buffer = io.BytesIO()
    save_dataset(dataset, buffer)
    return buffer.getvalue()


def write_file(dataset: SegData, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write ``dataset`` (a dataset, or a writer's :class:`EncodedSeg`) to ``path`` atomically; refuse to replace
    an existing file unless ``overwrite``."""
    return _write_atomically(lambda stream: save_dataset(dataset, stream), path, overwrite)


def write_bytes_atomically(data: bytes, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` as :func:`write_file` writes datasets (atomic, no silent overwrite)."""
    return _write_atomically(lambda stream: stream.write(data), path, overwrite)


def _write_atomically(
    write: Callable[[io.BufferedIOBase], object], path: str | os.PathLike[str], overwrite: bool
) -> Path:
    target = Path(path)
    if target.is_dir():
        raise OutputWriteError(f"{target} is a folder; give a file name, e.g. {target / 'seg.dcm'}")
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target} exists already; choose another name or allow overwriting")
    folder = target.parent if str(target.parent) else Path(".")
    try:
        handle, temporary_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise OutputWriteError(
            f"cannot write into {folder.resolve()}: {exc.strerror}; choose a writable folder"
        ) from exc
    temporary = Path(temporary_name)
    try:
        with io.BufferedWriter(_WriteBehindFile(handle, "wb")) as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        if overwrite:
            os.replace(temporary, target)
        else:
            _move_without_replacing(temporary, target)
    except OutputExistsError:
        temporary.unlink(missing_ok=True)
        raise
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise OutputWriteError(
            f"writing {target} failed: {exc.strerror or exc}; nothing was "
            "written (check free disk space and permissions)"
        ) from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


class _WriteBehindFile(io.FileIO):
    """A file whose data are sent to the disk while later parts are still being made, and let go once there.

    Outputs are fsynced before they are renamed into place, so all their data must reach the disk before the
    write returns anyway: starting that every ``WRITE_BEHIND_BYTES`` overlaps the disk with the encoder and
    leaves almost nothing for the final fsync. Pages already on disk are then dropped from the page cache, so
    a 154 MB SEG reuses a few tens of megabytes of it instead of taking 154 MB of fresh memory (L/totalseg:
    0.10 s less in the median of 12 runs, and no more 0.2 s outliers in the write). Linux does both when told
    with ``POSIX_FADV_DONTNEED`` that a range is not needed: it starts writing back its dirty pages and drops
    its clean ones. Where ``posix_fadvise`` is missing this is a plain file.
    """

    def __init__(self, handle: int, mode: str) -> None:
        super().__init__(handle, mode)
        self._position = 0
        self._sent = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        count = super().write(data) or 0
        self._position += count
        if self._position - self._sent >= WRITE_BEHIND_BYTES and hasattr(os, "posix_fadvise"):
            with contextlib.suppress(OSError):  # only advice: a file system may refuse it
                # Everything sent before: its pages are clean by now and are let go (and reused for what follows).
                os.posix_fadvise(self.fileno(), 0, self._position, os.POSIX_FADV_DONTNEED)
            self._sent = self._position
        return count


def _move_without_replacing(temporary: Path, target: Path) -> None:
    """Give ``temporary`` the name ``target`` unless that name appeared meanwhile."""
    try:
        os.link(temporary, target)
    except FileExistsError as exc:
        raise OutputExistsError(f"{target} appeared while writing; it was left unchanged") from exc
    except OSError:
        # Filesystems without hard links: a plain rename, after checking again.
        if target.exists():
            raise OutputExistsError(f"{target} appeared while writing; it was left unchanged") from None
        os.replace(temporary, target)
        return
    with contextlib.suppress(OSError):
        temporary.unlink()
