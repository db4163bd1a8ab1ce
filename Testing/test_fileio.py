"""Atomic, non-clobbering output: an export never leaves a partial file or silently replaces one."""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from SegExportLib import OutputExistsError, OutputWriteError, write_file
from SegExportLib.fileio import declare_explicit_little_endian
from support.hostile import record


def tiny_dataset() -> Dataset:
    dataset = Dataset()
    dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.66.4"
    dataset.SOPInstanceUID = generate_uid()
    dataset.PatientName = "Test^Patient"
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    declare_explicit_little_endian(dataset)
    return dataset


def test_write_file_writes_a_readable_dicom_file(tmp_path: Path) -> None:
    dataset = tiny_dataset()
    target = write_file(dataset, tmp_path / "seg.dcm")
    assert pydicom.dcmread(target).SOPInstanceUID == dataset.SOPInstanceUID
    assert [p.name for p in tmp_path.iterdir()] == ["seg.dcm"]


def test_existing_file_is_never_replaced_without_permission(tmp_path: Path) -> None:
    target = tmp_path / "seg.dcm"
    target.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="exists already"):
        write_file(tiny_dataset(), target)
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["seg.dcm"]


def test_overwrite_replaces_the_file_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "seg.dcm"
    target.write_bytes(b"old")
    dataset = tiny_dataset()
    write_file(dataset, target, overwrite=True)
    assert pydicom.dcmread(target).SOPInstanceUID == dataset.SOPInstanceUID


def test_a_failing_write_leaves_nothing_behind(tmp_path: Path) -> None:
    dataset = tiny_dataset()
    dataset.add_new(0x00100020, "XX", "bad VR makes pydicom fail mid-write")
    with pytest.raises(Exception):  # noqa: B017 - whatever pydicom raises, no file may remain
        write_file(dataset, tmp_path / "seg.dcm")
    assert list(tmp_path.iterdir()) == []


def test_read_only_folder_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root ignores folder permissions, so the refusal the OS gives a normal user is simulated.
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OutputWriteError, match="Permission denied; choose a writable folder"):
        write_file(tiny_dataset(), tmp_path / "seg.dcm")
    assert list(tmp_path.iterdir()) == []


def test_full_disk_gives_a_clear_error_and_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "seg.dcm"
    target.write_bytes(b"previous export")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OutputWriteError, match="No space left on device"):
        write_file(tiny_dataset(), target, overwrite=True)
    assert target.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["seg.dcm"]


def test_a_folder_as_target_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputWriteError, match="is a folder"):
        write_file(tiny_dataset(), tmp_path)


def test_missing_parent_folder_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutputWriteError, match="cannot write into"):
        write_file(tiny_dataset(), tmp_path / "no" / "such" / "seg.dcm")


@pytest.fixture
def tiny_filesystem(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real 64 KiB tmpfs (mounting needs root, which CI has)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()}): needs root")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_really_full_disk_keeps_the_previous_file(tiny_filesystem: Path) -> None:
    from SegExportLib import MultiClassWriter
    from SegExportLib.synthetic import make_ct_series, make_labelmap
    from SegExportLib.template import SegmentDescription, Template

    series = make_ct_series(rows=256, columns=256, slices=12, pixel_data=False)
    labels = make_labelmap(series, segment_count=2, seed=1)
    template = Template([SegmentDescription(n, label=f"S{n}", algorithm_type="MANUAL") for n in (1, 2)])
    dataset = MultiClassWriter(template).write(series.labelmap_image(labels), series.datasets)
    target = tiny_filesystem / "seg.dcm"
    target.write_bytes(b"previous export")
    with pytest.raises(OutputWriteError, match="No space left on device"):
        write_file(dataset, target, overwrite=True)
    assert target.read_bytes() == b"previous export"
    assert [p.name for p in tiny_filesystem.iterdir()] == ["seg.dcm"]
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_filesystem)], check=True)
    with pytest.raises(OutputWriteError, match="Read-only file system; choose a writable folder"):
        write_file(tiny_dataset(), tiny_filesystem / "other.dcm")
    record(
        "interrupted, failed or refused writes",
        2,
        {"nothing left behind": 2},
        "a real full disk (64 KiB tmpfs, previous file intact) and a read-only mount",
    )


@pytest.mark.parametrize(
    ("segmentation_type", "compression"),
    [("BINARY", None), ("BINARY", "deflate"), ("LABELMAP", None), ("LABELMAP", "deflate"), ("LABELMAP", "rle")],
)
@pytest.mark.parametrize("pieces", ["default", "small"])
def test_streamed_pixel_data_gives_the_bytes_pydicom_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, segmentation_type: str, compression: str | None, pieces: str
) -> None:
    """write_file(EncodedSeg) streams the pixels (BINARY frames packed chunk by chunk as they are written); the
    file must be byte for byte what pydicom writes from the complete dataset (PixelData as bytes), for every
    pixel layout and compression, in one chunk or many."""
    from SegExportLib import MultiClassWriter, binary_frames, fileio, labelmap_frames, sparse_deflate
    from SegExportLib.fileio import dataset_to_bytes
    from SegExportLib.synthetic import make_ct_series, make_labelmap
    from SegExportLib.template import SegmentDescription, Template

    monkeypatch.setattr(sparse_deflate, "MIXED_FRACTION_LIMIT", 1.0)  # these small frames are deflated by it too

    series = make_ct_series(rows=13, columns=21, slices=12, pixel_data=False)  # 273 bits a frame: odd sizes
    labels = make_labelmap(series, segment_count=3, seed=3)
    tpl = Template([SegmentDescription(i, label=f"Organ {i}", algorithm_type="MANUAL") for i in (1, 2, 3)])
    writer = MultiClassWriter(tpl, compression=compression, segmentation_type=segmentation_type)
    if pieces == "small":  # 8 BINARY frames (273 bytes) or 1 LABELMAP frame per chunk, 100-byte Deflate pieces
        monkeypatch.setattr(binary_frames, "CHUNK_BYTES", 1)
        monkeypatch.setattr(fileio, "DEFLATE_CHUNK_BYTES", 100)
    encoded = writer.encode(series.labelmap_image(labels), series.datasets)
    assert "PixelData" not in encoded.dataset
    if segmentation_type == "BINARY":  # not packed until written
        assert isinstance(encoded.frames, binary_frames.BinaryFrames) and encoded.frames.frame_count > 8
    else:  # not made until written
        assert isinstance(encoded.frames, labelmap_frames.LabelmapFrames) and encoded.frames.shape[0] > 8
    streamed = write_file(encoded, tmp_path / "streamed.dcm").read_bytes()
    complete = dataset_to_bytes(encoded.to_dataset())
    if compression == "deflate":  # chunked compression may differ; what it inflates to may not
        assert inflated(streamed) == inflated(complete)
    else:
        assert streamed == complete
    read = pydicom.dcmread(tmp_path / "streamed.dcm")
    assert int(read.NumberOfFrames) == writer.last_report.frame_count > 0


def inflated(data: bytes) -> bytes:
    """File meta (as is) followed by the inflated dataset of a Deflated Explicit VR Little Endian file."""
    meta_end = 144 + int.from_bytes(data[140:144], "little")  # after (0002,0000) UL, at byte 132
    return data[:meta_end] + zlib.decompress(data[meta_end:], -zlib.MAX_WBITS)


def test_large_outputs_are_sent_to_disk_as_they_are_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every WRITE_BEHIND_BYTES the written part is handed to the disk (posix_fadvise); the file is unchanged by
    it, and is written the same where posix_fadvise does not exist."""
    from SegExportLib import fileio

    data = np.random.default_rng(0).integers(0, 256, size=3_000_000, dtype=np.uint8).tobytes()
    monkeypatch.setattr(fileio, "WRITE_BEHIND_BYTES", 1 << 20)
    advice: list[tuple[int, int, int]] = []
    if hasattr(os, "posix_fadvise"):
        real_fadvise = os.posix_fadvise

        def recording_fadvise(fd: int, offset: int, length: int, flag: int) -> None:
            advice.append((offset, length, flag))
            real_fadvise(fd, offset, length, flag)

        monkeypatch.setattr(os, "posix_fadvise", recording_fadvise)

    def write_in_pieces(stream: object) -> None:
        for start in range(0, len(data), 300_000):
            stream.write(data[start : start + 300_000])  # type: ignore[attr-defined]

    fileio._write_atomically(write_in_pieces, tmp_path / "a.bin", overwrite=False)
    assert (tmp_path / "a.bin").read_bytes() == data
    if hasattr(os, "posix_fadvise"):
        assert [(offset, flag) for offset, _, flag in advice] == [(0, os.POSIX_FADV_DONTNEED)] * 2
        assert [length for _, length, _ in advice] == [1_200_000, 2_400_000]
        monkeypatch.delattr(os, "posix_fadvise")
    fileio._write_atomically(write_in_pieces, tmp_path / "b.bin", overwrite=False)
    assert (tmp_path / "b.bin").read_bytes() == data
