"""Slicer-side pieces that need no MRML: terminology strings, templates from segments, layers, RAS/LPS."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from SegExportLib import OverlappingSegmentsError, SegExportError
from SegExportLib.codes import TISSUE_TYPE, Code
from SegExportLib.geometry import Grid, grid_from_ijk_to_ras, ijk_to_ras_of, image_from_slicer_array
from SegExportLib.segments import SegmentInfo, combine_layers, match_template, template_from_segments
from SegExportLib.synthetic import ORIENTATIONS
from SegExportLib.template import SegmentDescription, Template
from SegExportLib.terminology import (
    TerminologyEntry,
    TerminologyError,
    format_terminology_entry,
    parse_segment_tags,
    parse_terminology_entry,
)

LIVER = (
    "Segmentation category and type - 3D Slicer General Anatomy list~SCT^123037004^Anatomical Structure"
    "~SCT^10200004^Liver~^^~Anatomic codes - DICOM master list~^^~^^"
)
LESION = (
    "Segmentation category and type - DICOM master list~SCT^49755003^Morphologically Altered Structure"
    "~SCT^4147007^Mass~SCT^7771000^Left~Anatomic codes - DICOM master list~SCT^23451007^Adrenal gland"
    "~SCT^24028007^Right"
)


def slicerio_files() -> list[Path]:
    slicerio = pytest.importorskip("slicerio", reason="slicerio (PyPI) ships the real Slicer .seg.nrrd files")
    return [
        Path(slicerio.get_testdata_file(name)) for name in ("Segmentation.seg.nrrd", "SegmentationOverlapping.seg.nrrd")
    ]


def header_tags(path: Path) -> list[dict[str, str]]:
    """Segment tags straight from the NRRD header text, read independently of slicerio."""
    header = path.read_bytes().split(b"\n\n", 1)[0].decode("latin-1")
    return [parse_segment_tags(value) for value in re.findall(r"^Segment\d+_Tags:=(.*)$", header, flags=re.MULTILINE)]


def test_entry_parts_are_read_scheme_first() -> None:
    entry = parse_terminology_entry(LESION)
    assert entry.category == Code("49755003", "SCT", "Morphologically Altered Structure")
    assert entry.type == Code("4147007", "SCT", "Mass")
    assert entry.type_modifier == Code("7771000", "SCT", "Left")
    assert entry.anatomic_region == Code("23451007", "SCT", "Adrenal gland")
    assert entry.anatomic_region_modifier == Code("24028007", "SCT", "Right")
    assert entry.context == "Segmentation category and type - DICOM master list"


@pytest.mark.parametrize("text", [LIVER, LESION])
def test_entries_round_trip_exactly(text: str) -> None:
    assert format_terminology_entry(parse_terminology_entry(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("only~three~parts", "7 parts"),
        (LIVER.replace("SCT^10200004^Liver", "SCT^10200004"), "type part"),
        (LIVER.replace("SCT^10200004^Liver", "^10200004^Liver"), "empty scheme"),
        ("x" * 20000, "not a terminology"),
    ],
)
def test_malformed_entries_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(TerminologyError, match=message):
        parse_terminology_entry(text)


def test_terminology_of_real_slicer_files_matches_slicerio() -> None:
    import slicerio

    for path in slicerio_files():
        tags = header_tags(path)
        segments = slicerio.read_segmentation(str(path), skip_voxels=True)["segments"]
        assert len(tags) == len(segments) > 0
        for segment_tags, segment in zip(tags, segments):
            entry = parse_terminology_entry(segment_tags["TerminologyEntry"])
            expected = segment["terminology"]
            assert [entry.category.scheme, entry.category.value, entry.category.meaning] == expected["category"]
            assert [entry.type.scheme, entry.type.value, entry.type.meaning] == expected["type"]
            assert format_terminology_entry(entry) == segment_tags["TerminologyEntry"]


def test_segment_tags_split_on_the_first_colon() -> None:
    assert parse_segment_tags("Segmentation.Status:inprogress|Note:a:b|") == {
        "Segmentation.Status": "inprogress",
        "Note": "a:b",
    }
    with pytest.raises(TerminologyError, match="no ':'"):
        parse_segment_tags("broken|")


def test_template_from_segments_keeps_names_colours_and_codes() -> None:
    segments = [
        SegmentInfo("Segment_1", "liver", (0.866667, 0.509804, 0.396078), LIVER),
        SegmentInfo(
            "Segment_2",
            "lesion",
            (1.0, 0.0, 0.0),
            LESION,
            tags={"DICOM.SegmentAlgorithmType": "AUTOMATIC", "DICOM.SegmentAlgorithmName": "Net"},
        ),
        SegmentInfo("Segment_3", "scribble", (0.5, 0.5, 0.5)),
        SegmentInfo("Segment_4", "broken", (0, 0, 0), "not~a~terminology"),
    ]
    template = template_from_segments(segments, series_description="Slicer export")
    liver, lesion, scribble, broken = template.segments
    assert [s.label_id for s in template.segments] == [1, 2, 3, 4]
    assert liver.label == "liver" and liver.type == Code("10200004", "SCT", "Liver")
    assert liver.display_rgb == (221, 130, 101)
    assert lesion.algorithm_type == "AUTOMATIC" and lesion.algorithm_name == "Net"
    assert lesion.type_modifier == Code("7771000", "SCT", "Left")
    assert lesion.anatomic_region_modifier == Code("24028007", "SCT", "Right")
    assert scribble.type == TISSUE_TYPE and scribble.algorithm_type == "MANUAL"
    assert broken.type == TISSUE_TYPE
    assert template.series_description == "Slicer export"


def test_loaded_template_is_matched_to_segments_by_name() -> None:
    template = Template(
        [
            SegmentDescription(1, label="Liver", algorithm_type="MANUAL"),
            SegmentDescription(2, label="Spleen", algorithm_type="MANUAL"),
        ]
    )
    segments = [SegmentInfo("a", "liver", (0, 0, 0)), SegmentInfo("b", "kidney", (0, 0, 0))]
    covered, missing = match_template(template, segments)
    assert list(covered) == ["a"] and covered["a"].label == "Liver"
    assert missing == ["kidney"]


def test_layers_merge_into_one_labelmap_when_they_do_not_overlap() -> None:
    first = np.zeros((2, 4, 4), np.uint8)
    first[0, 0, 0], first[1, 1, 1] = 1, 2
    second = np.zeros_like(first)
    second[0, 3, 3] = 1
    merged, labels = combine_layers([first, second], [{1: "A", 2: "B"}, {1: "C"}])
    assert labels == {"A": 1, "B": 2, "C": 3}
    assert merged[0, 0, 0] == 1 and merged[1, 1, 1] == 2 and merged[0, 3, 3] == 3
    assert int(np.count_nonzero(merged)) == 3


def test_merged_labels_follow_the_requested_order() -> None:
    first = np.zeros((1, 2, 3), np.uint8)
    first[0, 0, 0], first[0, 0, 1] = 1, 2
    second = np.zeros_like(first)
    second[0, 1, 2] = 1
    merged, labels = combine_layers([first, second], [{1: "A", 2: "B"}, {1: "C"}], order=["C", "A", "B"])
    assert labels == {"C": 1, "A": 2, "B": 3}
    assert merged[0].tolist() == [[2, 3, 0], [0, 0, 1]]
    with pytest.raises(SegExportError, match="exactly the segments"):
        combine_layers([first], [{1: "A", 2: "B"}], order=["A"])


def test_overlapping_layers_are_refused_naming_the_segments() -> None:
    first = np.zeros((1, 3, 3), np.uint8)
    first[0, 1, 1] = 1
    second = first.copy()
    with pytest.raises(OverlappingSegmentsError, match="'liver' and 'tumour'"):
        combine_layers([first, second], [{1: "A"}, {1: "B"}], names={"A": "liver", "B": "tumour"})


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
@pytest.mark.parametrize("reverse", [False, True])
def test_ras_lps_round_trip(orientation: str, reverse: bool) -> None:
    direction = ORIENTATIONS[orientation].copy()
    if reverse:
        direction[:, 2] *= -1
    grid = Grid((7, 5, 3), np.array([0.7, 0.9, 2.5]), np.array([-10.0, 20.0, 31.5]), direction)
    ijk_to_ras = ijk_to_ras_of(grid)
    back = grid_from_ijk_to_ras(ijk_to_ras, grid.size)
    np.testing.assert_allclose(back.direction, grid.direction, atol=1e-12)
    np.testing.assert_allclose(back.origin, grid.origin)
    np.testing.assert_allclose(back.spacing, grid.spacing)
    # RAS flips L and P: the first voxel's RAS position is (-x, -y, z) of its LPS one.
    np.testing.assert_allclose(ijk_to_ras[:3, 3], grid.origin * [-1, -1, 1])


def test_slicer_array_becomes_the_image_simpleitk_reads_from_the_file() -> None:
    import slicerio

    path = slicerio_files()[0]
    segmentation = slicerio.read_segmentation(str(path))
    ijk_to_ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ np.asarray(segmentation["ijkToLPS"])
    voxels_kji = np.transpose(segmentation["voxels"], (2, 1, 0))
    ours = image_from_slicer_array(np.ascontiguousarray(voxels_kji), ijk_to_ras)
    theirs = sitk.ReadImage(str(path))
    np.testing.assert_allclose(ours.GetOrigin(), theirs.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(ours.GetSpacing(), theirs.GetSpacing(), atol=1e-6)
    np.testing.assert_allclose(ours.GetDirection(), theirs.GetDirection(), atol=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(ours), sitk.GetArrayViewFromImage(theirs))


def test_terminology_entry_defaults_are_slicer_contexts() -> None:
    entry = TerminologyEntry(category=Code("1", "SCT", "a"), type=Code("2", "SCT", "b"))
    assert format_terminology_entry(entry).startswith(
        "Segmentation category and type - 3D Slicer General Anatomy list~"
    )
    assert entry.is_complete
