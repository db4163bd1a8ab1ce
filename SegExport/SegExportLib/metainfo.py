"""Validation of dcmqi segmentation metainfo documents, written by hand.

Slicer bundles no ``jsonschema``, so :func:`validate_metainfo` checks what dcmqi's
``seg-schema.json`` requires, plus what dcmqi itself refuses (an algorithm name for
non-manual segments) and what DICOM needs (distinct labels per labelmap, Tracking ID
and UID together). It returns every problem at once; each message starts with the
JSON path of the field and says how to fix it.

It is lenient where real files differ from the schema but the meaning is clear:
``SeriesNumber``/``InstanceNumber`` may be numbers or numeric strings, colours may be
floats (Slicer writes ``r * 255``), and a ``CodeValue`` may be longer than 16
characters (it is written as LongCodeValue).

Fields the schema does not know, at the top level or in a segment, are not problems:
they are ignored, logged as warnings on this module's logger and, when the caller
passes a list as ``warnings``, appended to it.

>>> validate_metainfo({"segmentAttributes": [[{"labelID": 0}]]})[0]
'$.segmentAttributes[0][0].labelID: must be a whole number >= 1 (the voxel value of the segment), got 0'
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

__all__ = ["ALGORITHM_TYPES", "validate_metainfo"]

logger = logging.getLogger(__name__)

ALGORITHM_TYPES = ("AUTOMATIC", "MANUAL", "SEMIAUTOMATIC")
"""The values SegmentAlgorithmType may take."""

REQUIRED_SEGMENT_FIELDS = (
    "labelID",
    "SegmentedPropertyCategoryCodeSequence",
    "SegmentedPropertyTypeCodeSequence",
    "SegmentAlgorithmType",
)
CODE_SEQUENCE_FIELDS = (
    "SegmentedPropertyCategoryCodeSequence",
    "SegmentedPropertyTypeCodeSequence",
    "SegmentedPropertyTypeModifierCodeSequence",
    "AnatomicRegionSequence",
    "AnatomicRegionModifierSequence",
)
_REQUIRED_CODE_FIELDS = ("CodeValue", "CodingSchemeDesignator", "CodeMeaning")
_CODE_FIELDS = (*_REQUIRED_CODE_FIELDS, "CodingSchemeVersion")

_CODE_STRING = re.compile(r"[A-Z0-9 _]*")
_INTEGER_STRING = re.compile(r"[+-]?[0-9]+")
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")

Check = Callable[[Any, str], list[str]]


def _shown(value: Any) -> str:
    """``value`` as the message shows it: strings quoted as in Python, the rest as JSON, cut short."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _text(limit: int | None, vr: str, backslash_allowed: bool = False) -> Check:
    """A check for a DICOM text value of representation ``vr`` holding at most ``limit`` characters."""

    def check(value: Any, path: str) -> list[str]:
        if not isinstance(value, str):
            return [f"{path}: must be a string ({vr}), got {_shown(value)}; put the value in double quotes"]
        if limit is not None and len(value) > limit:
            return [f"{path}: must be at most {limit} characters ({vr}), got {len(value)}; shorten it"]
        if not backslash_allowed and "\\" in value:
            return [f"{path}: must not contain a backslash (DICOM uses it to separate values); remove it"]
        return []

    return check


def _code_string(value: Any, path: str) -> list[str]:
    problems = _text(16, "CS")(value, path)
    if not problems and not _CODE_STRING.fullmatch(value):
        problems.append(
            f"{path}: may hold only upper-case letters A-Z, digits, space and underscore (CS), got {_shown(value)}; "
            f"e.g. {_shown(re.sub('[^A-Z0-9 _]', '_', value.upper()))}"
        )
    return problems


def _integer_string(value: Any, path: str) -> list[str]:
    """IS: the schema wants a string such as "300"; a JSON number is accepted too."""
    text = value.strip() if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    if text is None or not _INTEGER_STRING.fullmatch(text) or len(text) > 12 or not -(2**31) <= int(text) < 2**31:
        return [f'{path}: must be a whole number such as "300" (IS, at most 12 characters), got {_shown(value)}']
    return []


def _uid(value: Any, path: str) -> list[str]:
    if not isinstance(value, str) or len(value) > 64 or not _UID.fullmatch(value):
        return [
            f"{path}: must be a DICOM UID: numbers separated by dots, without leading zeros, at most 64 "
            f"characters (e.g. '2.25.' followed by a random 128-bit integer), got {_shown(value)}"
        ]
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # NaN != NaN


def _rgb(value: Any, path: str) -> list[str]:
    if isinstance(value, list) and len(value) == 3 and all(_is_number(v) and 0 <= v <= 255 for v in value):
        return []
    return [f"{path}: must be an sRGB colour, 3 numbers from 0 to 255 such as [128, 174, 128], got {_shown(value)}"]


def _cielab(value: Any, path: str) -> list[str]:
    if isinstance(value, list) and len(value) == 3 and all(_is_integer(v) and 0 <= v <= 65535 for v in value):
        return []
    return [
        f"{path}: must be a DICOM scaled CIELab colour, 3 whole numbers from 0 to 65535 such as "
        f"[43803, 26565, 37722], got {_shown(value)}; or give recommendedDisplayRGBValue instead"
    ]


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


TOP_LEVEL_FIELDS: dict[str, Check] = {
    "ContentCreatorName": _text(64, "PN"),
    "ClinicalTrialSeriesID": _text(64, "LO"),
    "ClinicalTrialTimePointID": _text(64, "LO"),
    "ClinicalTrialCoordinatingCenterName": _text(64, "LO"),
    "ContentLabel": _code_string,
    "ContentDescription": _text(64, "LO"),
    "SeriesDescription": _text(64, "LO"),
    "SeriesNumber": _integer_string,
    "InstanceNumber": _integer_string,
    "BodyPartExamined": _code_string,
}
"""The series-level fields and their checks (``segmentAttributes`` and its file mapping are checked apart)."""

SEGMENT_FIELDS: dict[str, Check] = {
    "SegmentLabel": _text(64, "LO"),
    "SegmentDescription": _text(1024, "ST", backslash_allowed=True),
    "SegmentAlgorithmName": _text(64, "LO"),
    "recommendedDisplayRGBValue": _rgb,
    "RecommendedDisplayCIELabValue": _cielab,
    "TrackingIdentifier": _text(None, "UT", backslash_allowed=True),
    "TrackingUniqueIdentifier": _uid,
}
"""The optional segment fields that are not codes, and their checks."""

_KNOWN_TOP_LEVEL = {"@schema", "segmentAttributes", "segmentAttributesFileMapping", *TOP_LEVEL_FIELDS}
_KNOWN_SEGMENT = {*REQUIRED_SEGMENT_FIELDS, *CODE_SEQUENCE_FIELDS, *SEGMENT_FIELDS}


def _check_code(value: Any, path: str) -> list[str]:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        return [f"{path}: must be a single object, not a list; remove the square brackets around it"]
    if not isinstance(value, dict):
        return [
            f"{path}: must be an object with CodeValue, CodingSchemeDesignator and CodeMeaning, got {_shown(value)}"
        ]
    problems = []
    for key in _REQUIRED_CODE_FIELDS:
        if key not in value:
            problems.append(f"{path}.{key}: required field is missing; add it (a non-empty string)")
        elif not isinstance(value[key], str) or not value[key].strip():
            problems.append(f"{path}.{key}: must be a non-empty string, got {_shown(value[key])}")
    # CodeValue may exceed SH's 16 characters: the writer then uses LongCodeValue (or URNCodeValue for URNs).
    for key, check in (
        ("CodeValue", _text(None, "SH")),
        ("CodingSchemeDesignator", _text(16, "SH")),
        ("CodeMeaning", _text(64, "LO")),
    ):
        if isinstance(value.get(key), str) and value[key].strip():
            problems.extend(check(value[key], f"{path}.{key}"))
    if "CodingSchemeVersion" in value:
        problems.extend(_text(16, "SH")(value["CodingSchemeVersion"], f"{path}.CodingSchemeVersion"))
    problems.extend(
        f"{path}.{key}: unknown field in a code; a code holds only {', '.join(_CODE_FIELDS)}; remove it"
        for key in sorted(set(value) - set(_CODE_FIELDS), key=str)
    )
    return problems


def _check_segment(segment: Any, path: str, warnings: list[str]) -> list[str]:
    if not isinstance(segment, dict):
        return [f"{path}: must be an object describing one segment, got {_shown(segment)}"]
    problems = [
        f"{path}.{key}: required field is missing; add it" for key in REQUIRED_SEGMENT_FIELDS if key not in segment
    ]
    if "labelID" in segment:
        label = segment["labelID"]
        if not _is_integer(label) or label < 1:
            problems.append(
                f"{path}.labelID: must be a whole number >= 1 (the voxel value of the segment), got {_shown(label)}"
            )
    algorithm_type = segment.get("SegmentAlgorithmType")
    if "SegmentAlgorithmType" in segment and algorithm_type not in ALGORITHM_TYPES:
        problems.append(
            f"{path}.SegmentAlgorithmType: must be one of {', '.join(ALGORITHM_TYPES)}, got {_shown(algorithm_type)}"
        )
    name_reported = False
    if algorithm_type in ("AUTOMATIC", "SEMIAUTOMATIC"):
        name = segment.get("SegmentAlgorithmName")
        if not isinstance(name, str) or not name.strip():
            state = "is missing" if name is None else f"is {_shown(name)}"
            problems.append(
                f"{path}.SegmentAlgorithmName: required when SegmentAlgorithmType is {algorithm_type} "
                f"(dcmqi refuses it otherwise), but it {state}; name the algorithm "
                '(e.g. "TotalSegmentator") or set SegmentAlgorithmType to MANUAL'
            )
            name_reported = True
    for key in CODE_SEQUENCE_FIELDS:
        if key in segment:
            problems.extend(_check_code(segment[key], f"{path}.{key}"))
    if "AnatomicRegionModifierSequence" in segment and "AnatomicRegionSequence" not in segment:
        problems.append(
            f"{path}.AnatomicRegionModifierSequence: only allowed together with AnatomicRegionSequence; "
            "add the anatomic region it modifies or remove the modifier"
        )
    for key, check in SEGMENT_FIELDS.items():
        if key in segment and not (key == "SegmentAlgorithmName" and name_reported):
            problems.extend(check(segment[key], f"{path}.{key}"))
    has_tracking_id = "TrackingIdentifier" in segment
    if has_tracking_id != ("TrackingUniqueIdentifier" in segment):
        missing, present = (
            ("TrackingUniqueIdentifier", "TrackingIdentifier")
            if has_tracking_id
            else ("TrackingIdentifier", "TrackingUniqueIdentifier")
        )
        problems.append(
            f"{path}.{missing}: required when {present} is given (DICOM needs Tracking ID and Tracking UID "
            f"together); add it or remove {present}"
        )
    warnings.extend(
        f"{path}.{key}: unknown field, ignored" for key in sorted(set(segment) - _KNOWN_SEGMENT, key=str)
    )
    return problems


def _check_segment_attributes(attributes: Any, warnings: list[str]) -> list[str]:
    path = "$.segmentAttributes"
    if not isinstance(attributes, list) or not attributes:
        return [
            f"{path}: must be a non-empty list with one inner list of segments per labelmap, "
            f"e.g. [[{{...}}, {{...}}]], got {_shown(attributes)}"
        ]
    problems = []
    for layer, segments in enumerate(attributes):
        layer_path = f"{path}[{layer}]"
        if not isinstance(segments, list) or not segments:
            hint = (
                "; wrap the segment objects in an inner list (one list per labelmap file)"
                if isinstance(segments, dict)
                else "; describe at least one segment of that labelmap, or remove the list"
            )
            problems.append(f"{layer_path}: must be a non-empty list of segments{hint}")
            continue
        first_use: dict[int, int] = {}
        for index, segment in enumerate(segments):
            segment_path = f"{layer_path}[{index}]"
            problems.extend(_check_segment(segment, segment_path, warnings))
            label = segment.get("labelID") if isinstance(segment, dict) else None
            if not _is_integer(label):
                continue
            if label in first_use:
                problems.append(
                    f"{segment_path}.labelID: {label} is already used by {layer_path}[{first_use[label]}]; labels "
                    "within one labelmap (inner list) must differ: renumber one, or move it to another list"
                )
            else:
                first_use[label] = index
    return problems


def _check_file_mapping(mapping: Any, attributes: Any) -> list[str]:
    path = "$.segmentAttributesFileMapping"
    if not isinstance(mapping, list) or not mapping:
        return [f"{path}: must be a non-empty list of file names, one per list in segmentAttributes"]
    problems = [
        f"{path}[{index}]: must be a non-empty string (a file name), got {_shown(name)}"
        for index, name in enumerate(mapping)
        if not isinstance(name, str) or not name
    ]
    if isinstance(attributes, list) and attributes and len(mapping) != len(attributes):
        problems.append(
            f"{path}: has {len(mapping)} entries but segmentAttributes has {len(attributes)} lists; "
            "give one file name per list"
        )
    return problems


def validate_metainfo(document: Any, warnings: list[str] | None = None) -> list[str]:
    """Return every problem of a dcmqi seg metainfo ``document`` (an empty list if it is valid).

    Each problem starts with the JSON path of the field, e.g.
    ``$.segmentAttributes[0][1].SegmentAlgorithmType: must be one of AUTOMATIC, MANUAL, SEMIAUTOMATIC, got 'AUTO'``.
    Unknown fields are not problems: they are logged as warnings and appended to ``warnings`` when given.

    >>> notes = []
    >>> validate_metainfo({"Comment": "x", "segmentAttributes": [[{"labelID": 1, "SegmentAlgorithmType": "MANUAL",
    ...     "SegmentedPropertyCategoryCodeSequence": {"CodeValue": "85756007", "CodingSchemeDesignator": "SCT",
    ...         "CodeMeaning": "Tissue"},
    ...     "SegmentedPropertyTypeCodeSequence": {"CodeValue": "85756007", "CodingSchemeDesignator": "SCT",
    ...         "CodeMeaning": "Tissue"}}]]}, notes)
    []
    >>> notes
    ['$.Comment: unknown field, ignored']
    """
    if not isinstance(document, dict):
        kind = "a list" if isinstance(document, list) else _shown(document)
        return [f"$: the metainfo must be a JSON object ({{...}}), got {kind}"]
    found: list[str] = [
        f"$.{key}: unknown field, ignored" for key in sorted(set(document) - _KNOWN_TOP_LEVEL, key=str)
    ]
    problems: list[str] = []
    if "@schema" in document and not isinstance(document["@schema"], str):
        problems.append(f"$.@schema: must be a string (the schema URL), got {_shown(document['@schema'])}")
    for key, check in TOP_LEVEL_FIELDS.items():
        if key in document:
            problems.extend(check(document[key], f"$.{key}"))
    if "segmentAttributes" in document:
        problems.extend(_check_segment_attributes(document["segmentAttributes"], found))
    else:
        problems.append(
            "$.segmentAttributes: required field is missing; list the segments, one inner list per labelmap file"
        )
    if "segmentAttributesFileMapping" in document:
        problems.extend(
            _check_file_mapping(document["segmentAttributesFileMapping"], document.get("segmentAttributes"))
        )
    for warning in found:
        logger.warning("metainfo: %s", warning)
    if warnings is not None:
        warnings.extend(found)
    return problems
