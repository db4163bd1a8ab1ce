"""Compressed SEGs: Deflated Explicit VR Little Endian, checked by every reader that supports it.

Readers and what they read (recorded here, see also README): dciodvfy (Debian build) cannot read Deflated
files, so those are validated after dcmtk's ``dcmconv +te`` re-encoding; highdicom, OHIF's loader and dcmqi
1.5.7's segimage2itkimage read Deflate directly (older dcmqi, v1.3.4 from PyPI dcmqi 0.2.1, refuses it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from SegExportLib import LayeredWriter, MultiClassWriter, SegExportError, SegmentReader, write_file
from SegExportLib.source import SourceSeries
from SegExportLib.synthetic import make_ct_series, make_labelmap
from SegExportLib.template import SegmentDescription, Template
from support.oracles import (
    dcmqi_decode,
    highdicom_decode,
    masks_by_instance_from_volume,
    ohif_decode,
    run_dciodvfy,
    run_dciodvfy_any,
)


def assert_readers_decode(path: Path, ct_files: list[Path], masks: dict[int, np.ndarray], tmp_path: Path) -> None:
    """Our reader, highdicom and dcmqi's segimage2itkimage decode each segment of ``path`` to its mask."""
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in ct_files]
    ours = SegmentReader().read(path, ct_files)
    by_highdicom = highdicom_decode(path, ct_files)
    by_dcmqi = dcmqi_decode(path, tmp_path / "dcmqi")
    uid_of_slice = [p.sop_instance_uid for p in SourceSeries.from_datasets(headers).planes]
    for number, mask in masks.items():
        np.testing.assert_array_equal(ours.segment_data(number), mask)
        dcmqi_masks = masks_by_instance_from_volume(by_dcmqi[number], headers)
        for k, uid in enumerate(uid_of_slice):
            np.testing.assert_array_equal(by_highdicom[number].get(uid, np.zeros_like(mask[k])) != 0, mask[k])
            np.testing.assert_array_equal(dcmqi_masks[uid] != 0, mask[k])


@pytest.fixture
def made_by_numpy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each piece of pixel data deflated, whether sparse_deflate made its blocks (not zlib); small test frames
    count as sparse, so that they go through it."""
    from SegExportLib import fileio, sparse_deflate

    monkeypatch.setattr(sparse_deflate, "MIXED_FRACTION_LIMIT", 1.0)
    record: list[bool] = []

    def recording(*args: object, **kwargs: object) -> bytes | None:
        block = sparse_deflate.deflate_sparse(*args, **kwargs)
        record.append(block is not None)
        return block

    monkeypatch.setattr(fileio, "deflate_sparse", recording)
    return record


def organs(count: int) -> Template:
    return Template([SegmentDescription(i, label=f"Organ {i}", algorithm_type="MANUAL") for i in range(1, count + 1)])


@pytest.mark.parametrize("compression", [None, "deflate"])
@pytest.mark.parametrize("kind", ["multiclass", "overlapping"])
def test_every_reader_decodes_the_same_voxels(
    tmp_path: Path, kind: str, compression: str | None, dciodvfy: str, dcmqi: Path, highdicom_oracle: str, ohif: object
) -> None:
    series = make_ct_series(rows=48, columns=40, slices=8, orientation="oblique")
    ct_folder = tmp_path / "ct"
    ct_files = series.write(ct_folder)
    labels = make_labelmap(series, segment_count=3, seed=7)
    if kind == "multiclass":
        masks = {n: labels == n for n in (1, 2, 3)}
        dataset = MultiClassWriter(organs(3), compression=compression).write(series.labelmap_image(labels), ct_files)
    else:
        masks = {1: labels == 1, 2: labels == 2, 3: (labels == 1) | (labels == 3)}  # 3 overlaps 1
        images = {n: series.labelmap_image(mask.astype(np.uint8)) for n, mask in masks.items()}
        dataset = LayeredWriter(organs(3), compression=compression).write(images, ct_files)
    path = write_file(dataset, tmp_path / "seg.dcm")
    syntax = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
    assert syntax == ("1.2.840.10008.1.2.1.99" if compression == "deflate" else "1.2.840.10008.1.2.1")

    assert run_dciodvfy_any(path, tmp_path).errors == []
    if compression == "deflate":
        assert "read failed" in run_dciodvfy(path).output.lower() or run_dciodvfy(path).errors  # the known limit

    assert_readers_decode(path, ct_files, masks, tmp_path)

    ohif_result = ohif_decode(path, ct_folder)
    assert "error" not in ohif_result, ohif_result
    if kind == "multiclass":
        assert ohif_result["segments"] == {str(n): int(mask.sum()) for n, mask in masks.items()}
    else:
        # OHIF returns overlapping segments as several labelmaps; counts per segment are summed over them.
        assert ohif_result["labelmaps"] >= 2
        assert ohif_result["segments"] == {str(n): int(mask.sum()) for n, mask in masks.items()}


@pytest.mark.parametrize("kind", ["multiclass", "overlapping"])
def test_numpy_deflated_segs_decode_in_every_reader(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    made_by_numpy: list[bool],
    kind: str,
    dciodvfy: str,
    dcmqi: Path,
    highdicom_oracle: str,
) -> None:
    """Written from an EncodedSeg (as export_seg and the module write), BINARY frames are deflated by
    sparse_deflate, in several blocks here; the stream must be one every reader inflates."""
    from SegExportLib import fileio

    monkeypatch.setattr(fileio, "DEFLATE_CHUNK_BYTES", 1000)
    series = make_ct_series(rows=48, columns=40, slices=8, orientation="oblique")
    ct_files = series.write(tmp_path / "ct")
    labels = make_labelmap(series, segment_count=3, seed=7)
    if kind == "multiclass":
        masks = {n: labels == n for n in (1, 2, 3)}
        encoded = MultiClassWriter(organs(3), compression="deflate").encode(series.labelmap_image(labels), ct_files)
    else:
        masks = {1: labels == 1, 2: labels == 2, 3: (labels == 1) | (labels == 3)}
        images = {n: series.labelmap_image(mask.astype(np.uint8)) for n, mask in masks.items()}
        encoded = LayeredWriter(organs(3), compression="deflate").encode(images, ct_files)
    path = write_file(encoded, tmp_path / "seg.dcm")
    assert len(made_by_numpy) > 2 and all(made_by_numpy)

    assert run_dciodvfy_any(path, tmp_path).errors == []
    assert_readers_decode(path, ct_files, masks, tmp_path)


def test_deflate_makes_sparse_segs_much_smaller(tmp_path: Path) -> None:
    series = make_ct_series(rows=128, columns=128, slices=20, pixel_data=False)
    labels = make_labelmap(series, segment_count=4, seed=3)
    sizes = {}
    for compression in (None, "deflate"):
        writer = MultiClassWriter(organs(4), compression=compression)
        sizes[compression] = (
            write_file(writer.write(series.labelmap_image(labels), series.datasets), tmp_path / f"{compression}.dcm")
            .stat()
            .st_size
        )
    assert sizes["deflate"] * 4 < sizes[None]


def test_unknown_compression_is_refused_with_the_choices() -> None:
    with pytest.raises(SegExportError, match="choose one of none, deflate"):
        MultiClassWriter(organs(1), compression="jpeg2000")


def test_deflate_in_many_chunks_is_one_valid_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made_by_numpy: list[bool], dcmqi: Path, highdicom_oracle: str
) -> None:
    # Large SEGs are deflated in chunks; small chunks make this one take that path. A complete dataset
    # (writer.write's) has its PixelData deflated by sparse_deflate too, and keeps it.
    from SegExportLib import fileio

    monkeypatch.setattr(fileio, "DEFLATE_CHUNK_BYTES", 512)
    series = make_ct_series(rows=64, columns=56, slices=10)
    ct_files = series.write(tmp_path / "ct")
    labels = make_labelmap(series, segment_count=3, seed=11)
    dataset = MultiClassWriter(organs(3), compression="deflate").write(series.labelmap_image(labels), ct_files)
    pixels = dataset.PixelData
    path = write_file(dataset, tmp_path / "seg.dcm")
    assert dataset.PixelData is pixels and len(pixels) > 10 * fileio.DEFLATE_CHUNK_BYTES
    assert len(made_by_numpy) > 10 and all(made_by_numpy)

    reread = pydicom.dcmread(path)
    assert reread.PixelData == dataset.PixelData
    assert reread.NumberOfFrames == dataset.NumberOfFrames
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in ct_files]
    by_dcmqi = dcmqi_decode(path, tmp_path / "dcmqi")
    by_highdicom = highdicom_decode(path, ct_files)
    uids = [p.sop_instance_uid for p in SourceSeries.from_datasets(headers).planes]
    for number in (1, 2, 3):
        dcmqi_masks = masks_by_instance_from_volume(by_dcmqi[number], headers)
        for k, uid in enumerate(uids):
            np.testing.assert_array_equal(dcmqi_masks[uid] != 0, labels[k] == number)
            np.testing.assert_array_equal(
                by_highdicom[number].get(uid, np.zeros_like(labels[k])) != 0, labels[k] == number
            )
