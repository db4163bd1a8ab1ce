"""Our reader on SEGs written by others (dcmqi, highdicom, Slicer, a vendor workstation).

Each SEG is decoded three ways: by our reader, by pydicom's own pixel unpacking
(frame by frame), and by highdicom mapping frames to source instances. They must agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from SegExportLib import MultiClassReader, OverlappingSegmentsError, SegmentReader, SegReadError
from SegExportLib.source import SourceSeries
from support.oracles import highdicom_decode

# SEG file -> folder of the series it refers to (see ../shared/testdata/README.md).
FOREIGN_SEGS = {
    "dcmqi-ct3slice/seg/liver.dcm": "dcmqi-ct3slice/ct",
    "dcmqi-ct3slice/seg/partial_overlaps.dcm": "dcmqi-ct3slice/ct",
    "dcmqi-tiny/23x38x3/seg/label.seg": "dcmqi-tiny/23x38x3/image",
    "dcmqi-tiny/24x38x3/seg/label.seg": "dcmqi-tiny/24x38x3/image",
    "pydicom-ct2-highdicom/seg/seg_image_ct_binary.dcm": "pydicom-ct2-highdicom/ct",
    "pydicom-ct2-highdicom/seg/seg_image_ct_binary_overlap.dcm": "pydicom-ct2-highdicom/ct",
    "pydicom-ct2-highdicom/seg/seg_image_ct_binary_fractional.dcm": "pydicom-ct2-highdicom/ct",
    "pydicom-ct2-highdicom/seg/seg_image_ct_true_fractional.dcm": "pydicom-ct2-highdicom/ct",
}
OVERLAPPING = {"dcmqi-ct3slice/seg/partial_overlaps.dcm", "pydicom-ct2-highdicom/seg/seg_image_ct_binary_overlap.dcm"}


def sources_of(testdata: Path, folder: str) -> list[Path]:
    return sorted(p for p in (testdata / folder).iterdir() if p.is_file())


def pydicom_frames(path: Path) -> np.ndarray:
    """Frames as pydicom itself unpacks them: (frames, rows, columns)."""
    pixels = pydicom.dcmread(path).pixel_array
    return pixels[np.newaxis] if pixels.ndim == 2 else pixels


@pytest.mark.parametrize("seg_name", sorted(FOREIGN_SEGS))
def test_frames_decode_like_pydicom(testdata: Path, seg_name: str) -> None:
    result = SegmentReader().read(testdata / seg_name)
    expected = pydicom_frames(testdata / seg_name)
    assert len(expected) == int(result.dataset.NumberOfFrames)
    for index, frame in enumerate(expected):
        np.testing.assert_array_equal(result.frame_pixels(index), frame)


@pytest.mark.parametrize("seg_name", sorted(FOREIGN_SEGS))
def test_segments_on_the_source_grid_agree_with_highdicom(
    testdata: Path, highdicom_oracle: object, seg_name: str
) -> None:
    sources = sources_of(testdata, FOREIGN_SEGS[seg_name])
    ours = SegmentReader().read(testdata / seg_name, sources)
    planes = SourceSeries.from_datasets(sources).planes
    theirs = highdicom_decode(testdata / seg_name, sources)
    assert sorted(theirs) == sorted(ours.available_segments)
    for number in sorted(ours.available_segments):
        data = ours.segment_data(number)
        assert data.any(), f"segment {number} decoded empty"
        for k, plane in enumerate(planes):
            expected = theirs[number].get(plane.sop_instance_uid)
            if expected is None:
                assert not data[k].any()
            else:
                np.testing.assert_allclose(data[k], expected, atol=1 / 255 / 2, err_msg=f"segment {number}, slice {k}")


@pytest.mark.parametrize("seg_name", sorted(OVERLAPPING))
def test_multiclass_reader_refuses_overlaps_by_name(testdata: Path, seg_name: str) -> None:
    with pytest.raises(OverlappingSegmentsError, match=r"overlap.*SegmentReader"):
        MultiClassReader().read(testdata / seg_name)


def test_multiclass_reader_merges_non_overlapping_segments(testdata: Path) -> None:
    sources = sources_of(testdata, "dcmqi-ct3slice/ct")
    merged = MultiClassReader().read(testdata / "dcmqi-ct3slice/seg/liver.dcm", sources)
    single = SegmentReader().read(testdata / "dcmqi-ct3slice/seg/liver.dcm", sources).segment_data(1)
    np.testing.assert_array_equal(merged.data, single)
    assert merged.image.GetSize() == (512, 512, 3)


def test_fractional_segments_come_back_as_fractions(testdata: Path) -> None:
    result = SegmentReader().read(testdata / "pydicom-ct2-highdicom/seg/seg_image_ct_true_fractional.dcm")
    data = result.segment_data(1)
    assert data.dtype == np.float32
    assert 0 < data.max() <= 1
    assert len(np.unique(data)) > 2
    with pytest.raises(SegReadError, match=r"FRACTIONAL.*SegmentReader"):
        MultiClassReader().read(testdata / "pydicom-ct2-highdicom/seg/seg_image_ct_true_fractional.dcm")


def test_vendor_seg_is_read_tolerantly(testdata: Path) -> None:
    """syngo.via wrote no DimensionIndexValues and no codes; frames still carry segment and position."""
    sources = sources_of(testdata, "qr-syngo-seg/ct")
    result = SegmentReader().read(testdata / "qr-syngo-seg/syngo.seg.dcm", sources)
    frames = pydicom_frames(testdata / "qr-syngo-seg/syngo.seg.dcm")
    assert result.available_segments == {1}
    assert int(result.segment_data(1).sum()) == int(frames.sum()) > 0


def test_a_seg_of_another_series_is_refused_with_the_series_named(testdata: Path) -> None:
    with pytest.raises(SegReadError, match="refers to"):
        SegmentReader().read(
            testdata / "pydicom-ct2-highdicom/seg/seg_image_ct_binary_single_frame.dcm",
            sources_of(testdata, "pydicom-ct2-highdicom/ct"),
        )


def test_truncated_pixel_data_is_a_named_error(testdata: Path, tmp_path: Path) -> None:
    dataset = pydicom.dcmread(testdata / "dcmqi-ct3slice/seg/liver.dcm")
    dataset.PixelData = dataset.PixelData[: len(dataset.PixelData) // 2]
    with pytest.raises(SegReadError, match="truncated"):
        MultiClassReader().read(dataset)


def test_a_ct_image_is_not_a_seg(testdata: Path) -> None:
    with pytest.raises(SegReadError, match="not a DICOM Segmentation"):
        SegmentReader().read(sources_of(testdata, "dcmqi-ct3slice/ct")[0])
