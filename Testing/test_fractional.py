"""FRACTIONAL SEGs: probability/occupancy maps in 8 bits, decoded to the same fractions by our reader and highdicom.

dcmqi does not support FRACTIONAL SEGs (dcmqi issue 467): its segimage2itkimage writes an image for them, but
the values it gives differ from the stored ones in places, so it is not used as an oracle here. OHIF's loader
refuses them, or reads RLE-compressed ones as plain masks; the test records that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from SegExportLib import (
    FractionalWriter,
    MultiClassReader,
    SegExportError,
    SegmentationImageError,
    SegmentReader,
    SegReadError,
    write_file,
)
from SegExportLib.source import SourceSeries
from SegExportLib.synthetic import make_ct_series
from SegExportLib.template import SegmentDescription, Template
from support.oracles import highdicom_decode, ohif_decode, run_dciodvfy_any


def smooth_blob(shape: tuple[int, int, int], center: tuple[float, float, float], radius: float) -> np.ndarray:
    z, y, x = np.indices(shape, dtype=np.float32)
    distance = np.sqrt((z - center[0]) ** 2 + ((y - center[1]) / 3) ** 2 + ((x - center[2]) / 3) ** 2)
    return np.clip(1.5 - distance / radius, 0, 1).astype(np.float32)


@pytest.mark.parametrize("compression", [None, "deflate", "rle"])
def test_probabilities_round_trip(
    tmp_path: Path, compression: str | None, dciodvfy: str, highdicom_oracle: str, ohif: object
) -> None:
    series = make_ct_series(rows=32, columns=28, slices=6, orientation="axial")
    ct_folder = tmp_path / "ct"
    files = series.write(ct_folder)
    shape = (6, 32, 28)
    first = smooth_blob(shape, (2.5, 14, 12), 2.0)
    second = smooth_blob(shape, (3.0, 18, 16), 1.5)
    template = Template(
        [
            SegmentDescription(1, label="Tumour", algorithm_type="AUTOMATIC", algorithm_name="Net"),
            SegmentDescription(2, label="Oedema", algorithm_type="AUTOMATIC", algorithm_name="Net"),
        ]
    )
    writer = FractionalWriter(template, compression=compression)
    dataset = writer.write({1: series.labelmap_image(first), 2: series.labelmap_image(second)}, files)
    path = write_file(dataset, tmp_path / "fractional.dcm")
    assert run_dciodvfy_any(path, tmp_path).errors == []
    seg = pydicom.dcmread(path)
    assert (seg.SegmentationType, seg.SegmentationFractionalType, seg.MaximumFractionalValue) == (
        "FRACTIONAL",
        "PROBABILITY",
        255,
    )
    assert seg.SegmentsOverlap == "YES" and seg.BitsAllocated == 8
    ours = SegmentReader().read(path, files)
    np.testing.assert_allclose(ours.segment_data(1), np.rint(first * 255) / 255, atol=1e-6)
    np.testing.assert_allclose(ours.segment_data(2), np.rint(second * 255) / 255, atol=1e-6)
    by_highdicom = highdicom_decode(path, files)
    planes = SourceSeries.from_datasets(files).planes
    for number, fraction in ((1, first), (2, second)):
        for k, plane in enumerate(planes):
            got = by_highdicom[number].get(plane.sop_instance_uid, np.zeros_like(fraction[k]))
            np.testing.assert_allclose(got, np.rint(fraction[k] * 255) / 255, atol=1e-6)
    with pytest.raises(SegReadError, match="FRACTIONAL"):
        MultiClassReader().read(path)

    # OHIF's loader does not give fractions back (recorded): it refuses them, or, for RLE, reads them as masks.
    result = ohif_decode(path, ct_folder)
    if compression == "rle":
        assert "error" not in result and sum(result["segments"].values()) == int((first > 0).sum() + (second > 0).sum())
    else:
        assert "not yet supported" in result.get("error", "")


def test_a_single_image_uses_the_templates_segment_and_occupancy(tmp_path: Path) -> None:
    series = make_ct_series(rows=16, columns=16, slices=3)
    files = series.write(tmp_path / "ct")
    occupancy = smooth_blob((3, 16, 16), (1, 8, 8), 1.0)
    dataset = FractionalWriter(Template([SegmentDescription(4, label="Vessel", algorithm_type="MANUAL")])).write(
        series.labelmap_image(occupancy), files, fractional_type="OCCUPANCY"
    )
    assert dataset.SegmentationFractionalType == "OCCUPANCY" and dataset.SegmentsOverlap == "NO"
    assert dataset.SegmentSequence[0].SegmentLabel == "Vessel"


@pytest.mark.parametrize("bad", [np.float32(1.5), np.float32(-0.1), np.float32("nan")])
def test_fractions_outside_zero_to_one_are_refused(bad: np.float32) -> None:
    series = make_ct_series(rows=8, columns=8, slices=2, pixel_data=False)
    values = np.zeros((2, 8, 8), np.float32)
    values[0, 0, 0] = bad
    with pytest.raises(SegmentationImageError, match=r"must lie in \[0, 1\]"):
        FractionalWriter(Template([SegmentDescription(1, algorithm_type="MANUAL")])).write(
            series.labelmap_image(values), series.datasets
        )


def test_unknown_fractional_type_is_refused() -> None:
    series = make_ct_series(rows=8, columns=8, slices=2, pixel_data=False)
    with pytest.raises(SegExportError, match="PROBABILITY or OCCUPANCY"):
        FractionalWriter(Template([SegmentDescription(1, algorithm_type="MANUAL")])).write(
            series.labelmap_image(np.zeros((2, 8, 8), np.float32)), series.datasets, fractional_type="LIKELY"
        )


def test_rle_is_refused_for_one_bit_frames() -> None:
    from SegExportLib import MultiClassWriter

    with pytest.raises(SegExportError, match="for BINARY \\(1-bit\\) SEGs choose compression='deflate'"):
        MultiClassWriter(Template([SegmentDescription(1, algorithm_type="MANUAL")]), compression="rle")
