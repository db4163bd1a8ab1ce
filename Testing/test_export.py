"""export_seg: labelmap + template + source files -> SEG file, with a summary and progress."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from SegExportLib import MultiClassReader, OutputExistsError, SourceSeriesError
from SegExportLib.export import export_seg
from SegExportLib.segments import SegmentInfo, template_from_segments
from SegExportLib.synthetic import make_ct_series, make_labelmap
from support.oracles import run_dciodvfy


def test_export_writes_validates_and_reports(tmp_path: Path, dciodvfy: str) -> None:
    series = make_ct_series(rows=24, columns=20, slices=5)
    files = series.write(tmp_path / "ct")
    labels = make_labelmap(series, segment_count=2, seed=5)
    template = template_from_segments(
        [SegmentInfo("a", "liver", (0.9, 0.5, 0.4)), SegmentInfo("b", "spleen", (0.6, 0.4, 0.6))],
        series_description="From segments",
    )
    steps: list[tuple[float, str]] = []
    summary = export_seg(
        series.labelmap_image(labels),
        template,
        files,
        tmp_path / "seg.dcm",
        progress=lambda fraction, message: steps.append((fraction, message)),
    )
    assert summary.path.exists() and summary.size_bytes == summary.path.stat().st_size
    assert summary.segment_count == 2 and summary.frame_count > 0
    assert summary.describe().startswith("seg.dcm: 2 segments in")
    assert [fraction for fraction, _ in steps] == sorted(fraction for fraction, _ in steps) and steps[-1][0] == 1.0
    assert run_dciodvfy(summary.path).errors == []
    np.testing.assert_array_equal(MultiClassReader().read(summary.path, files).data, labels)
    with pytest.raises(OutputExistsError):
        export_seg(series.labelmap_image(labels), template, files, summary.path)


def test_an_unreadable_source_file_is_named(tmp_path: Path) -> None:
    series = make_ct_series(rows=8, columns=8, slices=2)
    files = series.write(tmp_path / "ct")
    files[1].write_bytes(b"not dicom")
    template = template_from_segments([SegmentInfo("a", "x", (1, 0, 0))])
    with pytest.raises(SourceSeriesError, match=r"CT0002\.dcm"):
        export_seg(series.labelmap_image(make_labelmap(series, 1)), template, files, tmp_path / "seg.dcm")
    assert not (tmp_path / "seg.dcm").exists()


def test_overlapping_layers_cannot_become_a_label_map(tmp_path: Path) -> None:
    from SegExportLib import OverlappingSegmentsError

    series = make_ct_series(rows=8, columns=8, slices=2)
    files = series.write(tmp_path / "ct")
    layer = np.zeros((2, 8, 8), np.uint8)
    layer[0, 1:3, 1:3] = 1
    template = template_from_segments(
        [SegmentInfo("a", "x", (1, 0, 0)), SegmentInfo("b", "y", (0, 1, 0))], placement={"a": (0, 1), "b": (1, 1)}
    )
    images = [series.labelmap_image(layer), series.labelmap_image(layer)]
    with pytest.raises(OverlappingSegmentsError, match="LABELMAP SEG holds one label per voxel"):
        export_seg(images, template, files, tmp_path / "seg.dcm", segmentation_type="LABELMAP")
    assert not (tmp_path / "seg.dcm").exists()
