"""LabelVolume and the NRRD reader that needs no SimpleITK: same voxels and geometry as SimpleITK reads."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from SegExportLib import MultiClassWriter
from SegExportLib.errors import SegmentationImageError
from SegExportLib.synthetic import make_ct_series, make_labelmap
from SegExportLib.template import SegmentDescription, Template
from SegExportLib.volume import LabelVolume, read_nrrd


def assert_reads_like_simpleitk(path: Path) -> None:
    volume = read_nrrd(path)
    assert volume is not None, f"{path.name} should be read without SimpleITK"
    image = sitk.ReadImage(str(path))
    np.testing.assert_array_equal(volume.array, sitk.GetArrayViewFromImage(image))
    assert volume.array.dtype == sitk.GetArrayViewFromImage(image).dtype
    np.testing.assert_allclose(volume.grid.spacing, image.GetSpacing(), rtol=1e-12)
    np.testing.assert_allclose(volume.grid.origin, image.GetOrigin(), atol=1e-9)
    np.testing.assert_allclose(volume.grid.direction.ravel(), image.GetDirection(), atol=1e-12)


def oblique_image(dtype: type, seed: int = 0) -> sitk.Image:
    rng = np.random.default_rng(seed)
    image = sitk.GetImageFromArray(rng.integers(0, 7, size=(5, 9, 11)).astype(dtype))
    angle = np.radians(20)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    image.SetDirection(rotation.ravel().tolist())
    image.SetSpacing((0.7, 0.8, 2.5))
    image.SetOrigin((-12.5, 30.25, 101.0))
    return image


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32, np.float32])
@pytest.mark.parametrize("compressed", [False, True])
def test_nrrd_written_by_simpleitk_reads_the_same(tmp_path: Path, dtype: type, compressed: bool) -> None:
    path = tmp_path / "labels.nrrd"
    sitk.WriteImage(oblique_image(dtype), str(path), useCompression=compressed)
    assert (b"encoding: gzip" in path.read_bytes()[:1000]) == compressed
    assert_reads_like_simpleitk(path)


def test_ras_space_and_big_endian_headers(tmp_path: Path) -> None:
    """Headers SimpleITK does not write but reads: RAS space (converted to LPS) and big endian data."""
    path = tmp_path / "ras.nrrd"
    values = np.arange(2 * 3 * 4, dtype=">u2").reshape(2, 3, 4)
    header = (
        "NRRD0004\ntype: unsigned short\ndimension: 3\nspace: right-anterior-superior\nsizes: 4 3 2\n"
        "space directions: (0.5,0,0) (0,0.75,0) (0,0,2)\nkinds: domain domain domain\nendian: big\n"
        "encoding: gzip\nspace origin: (10,-20,30)\n\n"
    )
    path.write_bytes(header.encode() + gzip.compress(values.tobytes()))
    assert_reads_like_simpleitk(path)
    volume = read_nrrd(path)
    assert volume is not None and volume.grid.origin.tolist() == [-10.0, 20.0, 30.0]


def test_every_nrrd_of_the_third_party_data_reads_the_same(testdata: Path) -> None:
    paths = sorted(testdata.rglob("*.nrrd"))
    assert len(paths) >= 5
    for path in paths:
        if read_nrrd(path) is None:  # a kind this reader leaves to SimpleITK: SimpleITK must read it
            sitk.ReadImage(str(path))
        else:
            assert_reads_like_simpleitk(path)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda h: h.replace("encoding: raw", "encoding: ascii"), "ascii encoding"),
        (lambda h: h.replace("encoding: raw", "encoding: raw\ndata file: other.raw"), "detached data"),
        (lambda h: h.replace("space: left-posterior-superior", "space: scanner-xyz"), "other space"),
        (lambda h: h.replace("dimension: 3", "dimension: 4"), "4D"),
    ],
)
def test_other_kinds_of_nrrd_are_left_to_simpleitk(tmp_path: Path, change: object, why: str) -> None:
    path = tmp_path / "labels.nrrd"
    sitk.WriteImage(oblique_image(np.uint8), str(path), useCompression=False)
    data = path.read_bytes()
    end = data.index(b"\n\n")
    path.write_bytes(change(data[:end].decode()).encode() + data[end:])  # type: ignore[operator]
    assert read_nrrd(path) is None, why
    not_nrrd = tmp_path / "labels.nii"
    sitk.WriteImage(oblique_image(np.uint8), str(not_nrrd))
    assert read_nrrd(not_nrrd) is None


def test_truncated_and_damaged_data_are_named(tmp_path: Path) -> None:
    raw, packed = tmp_path / "raw.nrrd", tmp_path / "packed.nrrd"
    sitk.WriteImage(oblique_image(np.uint16), str(raw), useCompression=False)
    sitk.WriteImage(oblique_image(np.uint16), str(packed), useCompression=True)
    raw.write_bytes(raw.read_bytes()[:-10])
    data = packed.read_bytes()
    end = data.index(b"\n\n") + 2
    packed.write_bytes(data[:end] + b"\x1f\x8b\x08\x00broken" + data[end + 20 :])
    with pytest.raises(SegmentationImageError, match="truncated"):
        read_nrrd(raw)
    with pytest.raises(SegmentationImageError, match="damaged"):
        read_nrrd(packed)


def test_a_gzip_bomb_is_not_inflated_beyond_its_declared_size(tmp_path: Path) -> None:
    path = tmp_path / "bomb.nrrd"
    header = (
        "NRRD0004\ntype: unsigned char\ndimension: 3\nspace: left-posterior-superior\nsizes: 4 4 4\n"
        "space directions: (1,0,0) (0,1,0) (0,0,1)\nencoding: gzip\nspace origin: (0,0,0)\n\n"
    )
    path.write_bytes(header.encode() + gzip.compress(bytes(1 << 28)))  # 256 MiB of zeros, 64 declared
    volume = read_nrrd(path)
    assert volume is not None and volume.array.shape == (4, 4, 4) and volume.array.nbytes == 64


def test_writers_give_the_same_seg_from_a_label_volume_and_a_simpleitk_image() -> None:
    series = make_ct_series(rows=20, columns=24, slices=6, orientation="oblique")
    labels = make_labelmap(series, segment_count=3, seed=5)
    image = series.labelmap_image(labels)
    volume = LabelVolume(labels.copy(), series.grid)
    tpl = Template([SegmentDescription(n, label=f"Organ {n}", algorithm_type="MANUAL") for n in (1, 2, 3)])
    for segmentation_type in ("BINARY", "LABELMAP"):
        from_image = MultiClassWriter(tpl, segmentation_type=segmentation_type).encode(image, series.datasets)
        from_volume = MultiClassWriter(tpl, segmentation_type=segmentation_type).encode(volume, series.datasets)
        np.testing.assert_array_equal(from_volume.pixels, from_image.pixels)
        for tag in (0x00280008, 0x00620002, 0x00081115, 0x52009229, 0x52009230):  # frames, segments, references
            assert from_image.dataset[tag].value == from_volume.dataset[tag].value


def test_a_label_volume_must_match_its_grid_and_hold_integers() -> None:
    series = make_ct_series(rows=8, columns=6, slices=3)
    with pytest.raises(SegmentationImageError, match="shape"):
        LabelVolume(np.zeros((3, 6, 8), dtype=np.uint8), series.grid)
    tpl = Template([SegmentDescription(1, label="Organ", algorithm_type="MANUAL")])
    with pytest.raises(SegmentationImageError, match="integer"):
        MultiClassWriter(tpl).write(LabelVolume(np.ones((3, 8, 6), dtype=np.float32), series.grid), series.datasets)


def test_exporting_from_nrrd_does_not_import_simpleitk(tmp_path: Path) -> None:
    """The export path (core, header reading, writing) runs without SimpleITK when given a LabelVolume."""
    series = make_ct_series(rows=12, columns=10, slices=4)
    ct = series.write(tmp_path / "ct")
    labels = tmp_path / "labels.nrrd"
    sitk.WriteImage(series.labelmap_image(make_labelmap(series, segment_count=2, seed=1)), str(labels))
    script = (
        "import sys\n"
        "from SegExportLib.export import export_seg\n"
        "from SegExportLib.template import SegmentDescription, Template\n"
        "from SegExportLib.volume import read_nrrd\n"
        "tpl = Template([SegmentDescription(n, label=f'Organ {n}', algorithm_type='MANUAL') for n in (1, 2)])\n"
        f"files = {[str(p) for p in ct]!r}\n"
        f"summary = export_seg(read_nrrd({str(labels)!r}), tpl, files, {str(tmp_path / 'seg.dcm')!r})\n"
        "print(summary.frame_count, 'SimpleITK' in sys.modules)\n"
    )
    core = str(Path(__file__).resolve().parents[1] / "SegExport")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": core}
    )
    assert result.returncode == 0, result.stderr
    frames, imported = result.stdout.split()
    assert int(frames) > 0 and imported == "False"


def test_a_huge_declared_size_is_refused_without_allocating_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.nrrd"
    header = (
        "NRRD0004\ntype: unsigned char\ndimension: 3\nspace: left-posterior-superior\nsizes: 10000000 10000000 "
        "10000000\nspace directions: (1,0,0) (0,1,0) (0,0,1)\nencoding: raw\nspace origin: (0,0,0)\n\n"
    )
    path.write_bytes(header.encode() + bytes(1000))
    with pytest.raises(SegmentationImageError, match="truncated"):
        read_nrrd(path)
