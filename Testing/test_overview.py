"""``inspect``: a SEG's facts and problems, and an overview PNG that shows the segments where they are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_cli import segexport

from SegExportLib import MultiClassWriter, write_file
from SegExportLib.overview import inspect_seg, render_overview
from SegExportLib.png import read_png_rgb
from SegExportLib.synthetic import make_ct_series
from SegExportLib.template import SegmentDescription, Template


@pytest.fixture
def seg_case(tmp_path: Path) -> tuple[Path, list[Path], np.ndarray]:
    series = make_ct_series(rows=30, columns=40, slices=5, orientation="sagittal")
    files = series.write(tmp_path / "ct")
    labels = np.zeros((5, 30, 40), dtype=np.uint8)
    labels[1:4, 5:12, 6:15] = 1
    labels[2, 20:26, 25:35] = 2
    template = Template(
        [
            SegmentDescription(1, label="Red organ", algorithm_type="MANUAL", display_rgb=(255, 0, 0)),
            SegmentDescription(2, label="Blue organ", algorithm_type="MANUAL", display_rgb=(0, 0, 255)),
        ]
    )
    seg = write_file(MultiClassWriter(template).write(series.labelmap_image(labels), files), tmp_path / "seg.dcm")
    return seg, files, labels


def test_the_overview_shows_each_segment_in_its_colour_where_it_is(tmp_path: Path, seg_case: tuple) -> None:
    seg, files, labels = seg_case
    tiles = render_overview(seg, files, tmp_path / "seg.png")
    assert [t.slice_index for t in tiles] == [1, 2, 3]  # the slices holding segments
    image = read_png_rgb((tmp_path / "seg.png").read_bytes()).astype(int)
    for tile in tiles:
        for (row, column), value in np.ndenumerate(labels[tile.slice_index]):
            if (row + column) % 5:  # a sample of pixels is enough
                continue
            r, g, b = image[tile.top + row * tile.scale + tile.scale // 2, tile.left + column * tile.scale + 1]
            if value == 1:
                assert r > g + 80 and r > b + 80, (tile.slice_index, row, column)
            elif value == 2:
                assert b > r + 80 and b > g + 80, (tile.slice_index, row, column)
            else:
                assert r == g == b, (tile.slice_index, row, column)


def test_inspect_lists_segments_frames_and_references(seg_case: tuple) -> None:
    seg, files, labels = seg_case
    inspection = inspect_seg(seg, files)
    assert inspection.problems == []
    assert inspection.frame_count == 3 + 1
    assert [(s.number, s.label, s.frames, s.voxels) for s in inspection.segments] == [
        (1, "Red organ", 3, int((labels == 1).sum())),
        (2, "Blue organ", 1, int((labels == 2).sum())),
    ]
    assert inspection.segments[0].color_rgb == (255, 0, 0)
    assert inspection.referenced_instances == 5
    assert "no problems found" in inspection.text()


def test_inspect_names_problems_and_the_command_exits_3(tmp_path: Path, seg_case: tuple) -> None:
    seg, _, _ = seg_case
    other = make_ct_series(rows=30, columns=40, slices=5, orientation="sagittal")
    other_files = other.write(tmp_path / "other")
    inspection = inspect_seg(seg, other_files)
    assert any("is not the one the SEG refers to" in problem for problem in inspection.problems)
    assert any("referenced instances are not in the given series" in problem for problem in inspection.problems)

    good = segexport("inspect", seg, "--series", tmp_path / "ct", "--png", tmp_path / "cli.png")
    assert good.returncode == 0, good.stderr
    assert "Red organ" in good.stdout and (tmp_path / "cli.png").exists()
    bad = segexport("inspect", seg, "--series", tmp_path / "other")
    assert bad.returncode == 3 and "problems:" in bad.stdout
    exists = segexport("inspect", seg, "--series", tmp_path / "ct", "--png", tmp_path / "cli.png")
    assert exists.returncode == 4
