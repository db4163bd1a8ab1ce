"""Foreign and broken source series, through the whole export (files on disk, as users have them).

Each case gives either a correct SEG (valid, decoding to the labelmap) or a named error that says what is wrong and
with which file. The outcomes go into the hostile-input table.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from SegExportLib import SegmentReader
from SegExportLib.errors import GeometryMismatchError, SegExportError, SourceSeriesError
from SegExportLib.export import export_seg
from SegExportLib.fileio import save_dataset
from SegExportLib.synthetic import make_ct_series, make_labelmap
from SegExportLib.template import SegmentDescription, Template
from support.hostile import record
from support.oracles import run_dciodvfy

OUTCOMES: Counter = Counter()
TEMPLATE = Template([SegmentDescription(n, label=f"Organ {n}", algorithm_type="MANUAL") for n in (1, 2)])


def series_on_disk(folder: Path, **options: object) -> tuple[object, list[Path]]:
    series = make_ct_series(rows=24, columns=20, slices=6, **options)  # type: ignore[arg-type]
    return series, series.write(folder)


def compress_pixels(syntax: str) -> Callable[[list[Path]], None]:
    """Re-store each file with encapsulated pixel data under ``syntax`` (the writer reads headers only)."""

    def change(files: list[Path]) -> None:
        for path in files:
            dataset = pydicom.dcmread(path)
            dataset.PixelData = encapsulate([bytes(dataset.PixelData)[:64]])
            dataset["PixelData"].is_undefined_length = True
            dataset["PixelData"].VR = "OB"
            dataset.file_meta.TransferSyntaxUID = syntax
            if pydicom.__version__.startswith("2"):
                dataset.is_little_endian, dataset.is_implicit_VR = True, False
            dataset.save_as(path) if not pydicom.__version__.startswith("3") else dataset.save_as(
                path, enforce_file_format=True
            )

    return change


def drop_slice(files: list[Path]) -> None:
    files[2].unlink()


def duplicate_position(files: list[Path]) -> None:
    first, third = pydicom.dcmread(files[0]), pydicom.dcmread(files[2])
    third.ImagePositionPatient = first.ImagePositionPatient
    save_dataset(third, files[2])


def mixed_orientation(files: list[Path]) -> None:
    dataset = pydicom.dcmread(files[3])
    dataset.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    save_dataset(dataset, files[3])


def second_frame_of_reference(files: list[Path]) -> None:
    dataset = pydicom.dcmread(files[1])
    dataset.FrameOfReferenceUID = "1.2.826.0.1.3680043.10.511.99"
    save_dataset(dataset, files[1])


def no_position(files: list[Path]) -> None:
    dataset = pydicom.dcmread(files[4])
    del dataset.ImagePositionPatient
    save_dataset(dataset, files[4])


def not_dicom(files: list[Path]) -> None:
    files[5].write_bytes(b"this is not DICOM at all")


def truncated_header(files: list[Path]) -> None:
    files[1].write_bytes(files[1].read_bytes()[:200])


# name -> (how the series is broken, expected error class or None for a correct SEG, words the message must hold)
CASES: dict[str, tuple[Callable[[list[Path]], None] | None, type[Exception] | None, tuple[str, ...]]] = {
    "JPEG-LS compressed pixel data": (compress_pixels(JPEGLSLossless), None, ()),
    "JPEG 2000 compressed pixel data": (compress_pixels(JPEG2000Lossless), None, ()),
    "RLE compressed pixel data": (compress_pixels(RLELossless), None, ()),
    "a missing slice": (drop_slice, GeometryMismatchError, ("slice",)),
    "two images at one position": (duplicate_position, SourceSeriesError, ("same position", "CT0001.dcm")),
    "mixed orientations": (mixed_orientation, SourceSeriesError, ("mixed orientations", "CT0004.dcm")),
    "several frames of reference": (second_frame_of_reference, SourceSeriesError, ("frames of reference",)),
    "an image without position": (no_position, SourceSeriesError, ("CT0005.dcm", "ImagePositionPatient")),
    "a file that is not DICOM": (not_dicom, SourceSeriesError, ("CT0006.dcm",)),
    "a truncated file": (truncated_header, SourceSeriesError, ("CT0002.dcm",)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_foreign_or_broken_series(tmp_path: Path, name: str, dciodvfy: str) -> None:
    breaking, expected_error, words = CASES[name]
    series, files = series_on_disk(tmp_path / "ct", orientation="oblique")
    labels = make_labelmap(series, segment_count=2, seed=3)
    if breaking is not None:
        breaking(files)
    present = sorted(p for p in (tmp_path / "ct").iterdir())
    if expected_error is None:
        summary = export_seg(series.labelmap_image(labels), TEMPLATE, present, tmp_path / "seg.dcm")
        assert run_dciodvfy(summary.path).errors == []
        result = SegmentReader().read(summary.path, present)
        for number in (1, 2):
            np.testing.assert_array_equal(result.segment_data(number), labels == number)
        OUTCOMES["correct SEG"] += 1
        return
    with pytest.raises(expected_error) as caught:
        export_seg(series.labelmap_image(labels), TEMPLATE, present, tmp_path / "seg.dcm")
    assert isinstance(caught.value, SegExportError)
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert not (tmp_path / "seg.dcm").exists()
    OUTCOMES[type(caught.value).__name__] += 1


def test_enhanced_multiframe_source_gives_a_correct_seg(testdata: Path, tmp_path: Path, dciodvfy: str) -> None:
    import SimpleITK as sitk

    multiframe = testdata / "dcmqi-tiny" / "23x38x3" / "multiframe" / "mf.dcm"
    labels = sitk.ReadImage(str(testdata / "dcmqi-tiny" / "23x38x3" / "nrrd" / "label.nrrd"))
    values = sorted(set(np.unique(sitk.GetArrayViewFromImage(labels)).tolist()) - {0})
    template = Template([SegmentDescription(v, label=f"Label {v}", algorithm_type="MANUAL") for v in values])
    summary = export_seg(labels, template, [multiframe], tmp_path / "seg.dcm")
    assert run_dciodvfy(summary.path).errors == []
    frame_refs = {
        int(item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedFrameNumber[0])
        if isinstance(item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedFrameNumber, list)
        else int(item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedFrameNumber)
        for item in pydicom.dcmread(summary.path).PerFrameFunctionalGroupsSequence
    }
    assert frame_refs <= {1, 2, 3}
    OUTCOMES["correct SEG"] += 1


@pytest.fixture(scope="module", autouse=True)
def report() -> None:
    yield
    if OUTCOMES:
        record(
            "broken or foreign source series",
            sum(OUTCOMES.values()),
            OUTCOMES,
            "compressed pixel data (3 syntaxes), enhanced multi-frame, missing slice, duplicate position, mixed "
            "orientations, two frames of reference, no position, not DICOM, truncated",
        )
