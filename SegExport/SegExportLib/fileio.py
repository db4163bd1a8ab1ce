"""Saving SEG datasets safely, on pydicom 2 and 3 alike.

:func:`write_file` writes to a temporary file in the target folder and moves it
into place only when complete, so an interrupted or failed write leaves no
partial file and never changes an existing one; it refuses to replace an
existing file unless ``overwrite=True``.

>>> write_file(dataset, "out/seg.dcm")                    # doctest: +SKIP
PosixPath('out/seg.dcm')
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import pydicom
from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataset import Dataset

from .errors import OutputExistsError, OutputWriteError

PYDICOM_MAJOR = int(pydicom.__version__.split(".")[0])


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


def save_dataset(dataset: Dataset, target: str | os.PathLike[str] | io.BufferedIOBase) -> None:
    """``dataset.save_as`` with a DICOM file header (preamble and file meta), on pydicom 2 or 3."""
    if PYDICOM_MAJOR >= 3:
        dataset.save_as(target, enforce_file_format=True)
    else:
        dataset.save_as(target, write_like_original=False)


def dataset_to_bytes(dataset: Dataset) -> bytes:
    """The DICOM file (preamble, file meta, dataset) as bytes."""
    buffer = io.BytesIO()
    save_dataset(dataset, buffer)
    return buffer.getvalue()


def write_file(dataset: Dataset, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write ``dataset`` to ``path`` atomically; refuse to replace an existing file unless ``overwrite``."""
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
        with os.fdopen(handle, "wb") as stream:
            save_dataset(dataset, stream)
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
