"""dcmqi metainfo <-> Template: every real file loads and round-trips; validation names each problem's path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from SegExportLib import OutputExistsError, TemplateError, template
from SegExportLib.codes import Code
from SegExportLib.color import cielab_to_rgb, rgb_to_cielab
from SegExportLib.metainfo import validate_metainfo
from SegExportLib.template import SegmentDescription, Template

CODE = {"CodeValue": "85756007", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Tissue"}


def segment(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "labelID": 1,
        "SegmentAlgorithmType": "MANUAL",
        "SegmentedPropertyCategoryCodeSequence": dict(CODE),
        "SegmentedPropertyTypeCodeSequence": dict(CODE),
    }
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


def problems_of(document: object) -> list[str]:
    return validate_metainfo(document)


def metainfo_files(testdata: Path) -> list[Path]:
    files = sorted((testdata / "dcmqi-ct3slice" / "json").glob("*.json"))
    assert len(files) == 9
    return files


def test_every_dcmqi_example_loads_and_round_trips(testdata: Path, tmp_path: Path) -> None:
    for path in metainfo_files(testdata):
        loaded = template.from_dcmqi_metainfo(path)
        assert template.from_dcmqi_metainfo(loaded.to_dcmqi_metainfo()) == loaded, path.name
        saved = loaded.save(tmp_path / path.name)
        assert template.from_dcmqi_metainfo(saved) == loaded, path.name
        assert validate_metainfo(json.loads(saved.read_text())) == []
        original = json.loads(path.read_text())
        assert [[s["labelID"] for s in inner] for inner in original["segmentAttributes"]] == [
            [s.label_id for s in loaded.segments_in_layer(layer)] for layer in range(loaded.layer_count)
        ]


def test_fields_are_read_as_written(testdata: Path) -> None:
    tpl = template.from_dcmqi_metainfo(testdata / "dcmqi-ct3slice" / "json" / "seg-example_partial_overlaps.json")
    raw = json.loads((testdata / "dcmqi-ct3slice" / "json" / "seg-example_partial_overlaps.json").read_text())
    assert tpl.layer_count == 3
    for layer, inner in enumerate(raw["segmentAttributes"]):
        for entry in inner:
            described = tpl.segment_for_label(entry["labelID"], layer)
            assert described is not None
            assert described.type == Code.from_json(entry["SegmentedPropertyTypeCodeSequence"])
            assert described.category == Code.from_json(entry["SegmentedPropertyCategoryCodeSequence"])
            assert described.algorithm_type == entry["SegmentAlgorithmType"]
            if "recommendedDisplayRGBValue" in entry:
                assert list(described.display_rgb) == [round(v) for v in entry["recommendedDisplayRGBValue"]]
    for attribute, key in (
        ("series_description", "SeriesDescription"),
        ("content_creator_name", "ContentCreatorName"),
        ("clinical_trial_series_id", "ClinicalTrialSeriesID"),
    ):
        assert getattr(tpl, attribute) == raw.get(key)
    if "SeriesNumber" in raw:
        assert tpl.series_number == int(raw["SeriesNumber"])


def test_single_file_example_with_tracking_and_label(testdata: Path) -> None:
    tpl = template.from_dcmqi_metainfo(testdata / "dcmqi-ct3slice" / "json" / "seg-example.json")
    liver = tpl.segment_for_label(1)
    assert liver is not None and liver.label and liver.tracking_id and liver.tracking_uid


@pytest.mark.parametrize(
    ("document", "path_and_message"),
    [
        ([], "$: the metainfo must be a JSON object"),
        ({}, "$.segmentAttributes: required field is missing"),
        ({"segmentAttributes": []}, "$.segmentAttributes: must be a non-empty list"),
        ({"segmentAttributes": [segment()]}, "$.segmentAttributes[0]: must be a non-empty list of segments (wrap"),
        (
            {"segmentAttributes": [[segment(labelID=0)]]},
            "$.segmentAttributes[0][0].labelID: must be a whole number >= 1",
        ),
        ({"segmentAttributes": [[segment(labelID=True)]]}, "$.segmentAttributes[0][0].labelID: must be a whole number"),
        (
            {"segmentAttributes": [[segment(labelID=None)]]},
            "$.segmentAttributes[0][0].labelID: required field is missing",
        ),
        (
            {"segmentAttributes": [[segment(SegmentAlgorithmType="AUTO")]]},
            "$.segmentAttributes[0][0].SegmentAlgorithmType: must be one of "
            "AUTOMATIC, MANUAL, SEMIAUTOMATIC, got 'AUTO'",
        ),
        (
            {"segmentAttributes": [[segment(SegmentAlgorithmType="AUTOMATIC")]]},
            "$.segmentAttributes[0][0].SegmentAlgorithmName: required when SegmentAlgorithmType is AUTOMATIC",
        ),
        (
            {
                "segmentAttributes": [
                    [segment(SegmentedPropertyTypeCodeSequence={"CodeValue": "1", "CodeMeaning": "x"})]
                ]
            },
            "$.segmentAttributes[0][0].SegmentedPropertyTypeCodeSequence.CodingSchemeDesignator: "
            "required field is missing",
        ),
        (
            {"segmentAttributes": [[segment(SegmentedPropertyCategoryCodeSequence={**CODE, "Extra": 1})]]},
            "$.segmentAttributes[0][0].SegmentedPropertyCategoryCodeSequence.Extra: unknown field in a code",
        ),
        (
            {"segmentAttributes": [[segment(AnatomicRegionModifierSequence=dict(CODE))]]},
            "$.segmentAttributes[0][0].AnatomicRegionModifierSequence: only "
            "allowed together with AnatomicRegionSequence",
        ),
        (
            {"segmentAttributes": [[segment(recommendedDisplayRGBValue=[1, 2])]]},
            "$.segmentAttributes[0][0].recommendedDisplayRGBValue: must be an sRGB colour",
        ),
        (
            {"segmentAttributes": [[segment(recommendedDisplayRGBValue=[0, 256, 0])]]},
            "$.segmentAttributes[0][0].recommendedDisplayRGBValue: must be an sRGB colour",
        ),
        (
            {"segmentAttributes": [[segment(TrackingUniqueIdentifier="1.02.abc")]]},
            "$.segmentAttributes[0][0].TrackingUniqueIdentifier: must be a DICOM UID",
        ),
        (
            {"segmentAttributes": [[segment(SegmentLabel="x" * 65)]]},
            "$.segmentAttributes[0][0].SegmentLabel: must be at most 64 characters",
        ),
        (
            {"segmentAttributes": [[segment(), segment()]]},
            "$.segmentAttributes[0][1].labelID: 1 is used by $.segmentAttributes[0][0] too",
        ),
        ({"SeriesNumber": "3a", "segmentAttributes": [[segment()]]}, "$.SeriesNumber: must be a whole number"),
        (
            {"ContentLabel": "lower case", "segmentAttributes": [[segment()]]},
            "$.ContentLabel: may hold only upper-case",
        ),
        ({"BodyPartExamined": "A" * 17, "segmentAttributes": [[segment()]]}, "$.BodyPartExamined: must be at most 16"),
        ({"SeriesDescription": 7, "segmentAttributes": [[segment()]]}, "$.SeriesDescription: must be a string"),
        (
            {"segmentAttributesFileMapping": ["a.nrrd"], "segmentAttributes": [[segment()], [segment()]]},
            "$.segmentAttributesFileMapping: has 1 entries but segmentAttributes has 2 lists",
        ),
    ],
)
def test_each_rule_names_the_field_path(document: object, path_and_message: str) -> None:
    problems = problems_of(document)
    assert any(problem.startswith(path_and_message) for problem in problems), problems


def test_all_problems_are_reported_at_once() -> None:
    document = {
        "SeriesNumber": "x",
        "segmentAttributes": [[segment(labelID=-1), segment(labelID=2, SegmentAlgorithmType="?")]],
    }
    with pytest.raises(TemplateError) as caught:
        template.from_dcmqi_metainfo(document)
    assert len(caught.value.problems) == 3
    assert "3 problem(s)" in str(caught.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"SeriesNumber": 300, "InstanceNumber": "1"},
        {"recommendedDisplayRGBValue": [221.00000327825546, 130.0, 101.0]},
    ],
)
def test_lenient_where_real_files_differ_from_the_schema(changes: dict[str, object]) -> None:
    series_level = {k: v for k, v in changes.items() if k in ("SeriesNumber", "InstanceNumber")}
    segment_level = {k: v for k, v in changes.items() if k not in series_level}
    tpl = template.from_dcmqi_metainfo({**series_level, "segmentAttributes": [[segment(**segment_level)]]})
    if series_level:
        assert tpl.series_number == 300 and tpl.instance_number == 1
    else:
        assert tpl.segments[0].display_rgb == (221, 130, 101)


def test_unknown_fields_are_warnings_not_errors() -> None:
    warnings: list[str] = []
    assert validate_metainfo({"Foo": 1, "segmentAttributes": [[segment(Bar=2)]]}, warnings) == []
    assert warnings == ["$.Foo: unknown field, ignored", "$.segmentAttributes[0][0].Bar: unknown field, ignored"]


def test_unreadable_and_missing_files_say_so(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"segmentAttributes": [[}')
    with pytest.raises(TemplateError, match=r"not valid JSON at line 1, column 25"):
        template.from_dcmqi_metainfo(broken)
    with pytest.raises(TemplateError, match="does not exist"):
        template.from_dcmqi_metainfo(tmp_path / "missing.json")


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    tpl = Template([SegmentDescription(1, algorithm_type="MANUAL")])
    path = tpl.save(tmp_path / "meta.json")
    with pytest.raises(OutputExistsError):
        tpl.save(path)
    tpl.series_description = "changed"
    tpl.save(path, overwrite=True)
    assert template.from_dcmqi_metainfo(path).series_description == "changed"


def test_written_metainfo_is_schema_shaped() -> None:
    tpl = Template([SegmentDescription(2, layer=1, algorithm_type="MANUAL", display_rgb=(1, 2, 3))], series_number=7)
    document = tpl.to_dcmqi_metainfo()
    assert document["SeriesNumber"] == "7"
    assert document["segmentAttributes"][0] == []  # an empty first layer keeps the second one's position
    assert document["segmentAttributes"][1][0]["recommendedDisplayRGBValue"] == [1, 2, 3]


def test_colour_round_trip_is_exact_and_matches_dcmqi() -> None:
    # dcmqi (and so Slicer) give (43803, 26565, 37722) for its default colour (128, 174, 128).
    assert rgb_to_cielab((128, 174, 128)) == (43803, 26565, 37722)
    assert rgb_to_cielab((0, 0, 0)) == (0, 32896, 32896)
    import numpy as np

    rng = np.random.default_rng(7)
    colours = [(g, g, g) for g in range(256)] + [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(3000)]
    for colour in colours:
        assert cielab_to_rgb(rgb_to_cielab(colour)) == colour
    assert template.rgb_to_cielab is rgb_to_cielab
