"""Validation of dcmqi segmentation metainfo documents, written by hand.

Slicer bundles no ``jsonschema``, so :func:`validate_metainfo` checks what
dcmqi's ``seg-schema.json`` requires (and what dcmqi itself refuses) and returns
every problem at once, each starting with the JSON path of the field and saying
how to fix it. Real files differ from the schema in harmless ways (Slicer writes
colours as floats, some tools write SeriesNumber as a number): those are accepted.

>>> problems = validate_metainfo({"segmentAttributes": [[{"labelID": 0}]]})
>>> [p for p in problems if ".labelID" in p]
['$.segmentAttributes[0][0].labelID: must be a whole number >= 1 (the voxel value of the segment), got 0']
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable

logger = logging.getLogger(__name__)

ALGORITHM_TYPES = ("AUTOMATIC", "MANUAL", "SEMIAUTOMATIC")
CODE_SEQUENCE_KEYS = (
    "SegmentedPropertyCategoryCodeSequence",
    "SegmentedPropertyTypeCodeSequence",
    "SegmentedPropertyTypeModifierCodeSequence",
    "AnatomicRegionSequence",
    "AnatomicRegionModifierSequence",
)
REQUIRED_SEGMENT_KEYS = (
    "labelID",
    "SegmentedPropertyCategoryCodeSequence",
    "SegmentedPropertyTypeCodeSequence",
    "SegmentAlgorithmType",
)

_CS_PATTERN = re.compile(r"^[A-Z0-9 _]*$")
_UI_PATTERN = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_IS_PATTERN = re.compile(r"^[+-]?[0-9]+$")


def _text(limit: int) -> Callable[[Any, str], list[str]]:
    def check(value: Any, path: str) -> list[str]:
        if not isinstance(value, str):
            return [f"{path}: must be a string, got {type(value).__name__} {value!r}"]
        if len(value) > limit:
            return [f"{path}: must be at most {limit} characters, got {len(value)}; shorten it"]
        if "\\" in value:
            return [f"{path}: must not contain a backslash (it separates DICOM values)"]
        return []

    return check


def _code_string(value: Any, path: str) -> list[str]:
    problems = _text(16)(value, path)
    if not problems and not _CS_PATTERN.match(value):
        problems.append(f"{path}: may hold only upper-case letters, digits, space and underscore, got {value!r}")
    return problems


def _integer_string(value: Any, path: str) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return [f'{path}: must be a whole number such as "300", got {value!r}']
    text = str(value).strip()
    if not _IS_PATTERN.match(text) or len(text) > 12 or not -(2**31) <= int(text) < 2**31:
        return [f'{path}: must be a whole number such as "300" (at most 12 characters), got {value!r}']
    return []


def _uid(value: Any, path: str) -> list[str]:
    if not isinstance(value, str) or not _UI_PATTERN.match(value) or len(value) > 64:
        return [
            f"{path}: must be a DICOM UID (digits and dots, at most 64 characters, no leading zeros), got {value!r}"
        ]
    return []


def _triplet(low: float, high: float, integers: bool, what: str) -> Callable[[Any, str], list[str]]:
    def check(value: Any, path: str) -> list[str]:
        kind = "whole numbers" if integers else "numbers"
        ok = (
            isinstance(value, list)
            and len(value) == 3
            and all(
                isinstance(v, (int, float))
                and not isinstance(v, bool)
                and low <= v <= high
                and (not integers or float(v).is_integer())
                for v in value
            )
        )
        return [] if ok else [f"{path}: must be {what}: 3 {kind} from {low:g} to {high:g}, got {value!r}"]

    return check


TOP_LEVEL_FIELDS: dict[str, Callable[[Any, str], list[str]]] = {
    "ContentCreatorName": _text(64),
    "ClinicalTrialSeriesID": _text(64),
    "ClinicalTrialTimePointID": _text(64),
    "ClinicalTrialCoordinatingCenterName": _text(64),
    "ContentLabel": _code_string,
    "ContentDescription": _text(64),
    "SeriesDescription": _text(64),
    "SeriesNumber": _integer_string,
    "InstanceNumber": _integer_string,
    "BodyPartExamined": _code_string,
}
SEGMENT_FIELDS: dict[str, Callable[[Any, str], list[str]]] = {
    "SegmentLabel": _text(64),
    "SegmentDescription": _text(64),
    "SegmentAlgorithmName": _text(64),
    "recommendedDisplayRGBValue": _triplet(0, 255, False, "an sRGB colour"),
    "RecommendedDisplayCIELabValue": _triplet(0, 65535, True, "a DICOM scaled CIELab colour"),
    "TrackingIdentifier": _text(1024),
    "TrackingUniqueIdentifier": _uid,
}
IGNORED_TOP_LEVEL_KEYS = ("@schema",)


def _check_code(value: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: must be an object with CodeValue, CodingSchemeDesignator and CodeMeaning, got {value!r}"]
    problems = []
    for key, limit in (("CodeValue", 64), ("CodingSchemeDesignator", 16), ("CodeMeaning", 64)):
        if key not in value:
            problems.append(f"{path}.{key}: required field is missing")
        elif not isinstance(value[key], str) or not value[key].strip():
            problems.append(f"{path}.{key}: must be a non-empty string, got {value[key]!r}")
        else:
            problems.extend(_text(limit)(value[key], f"{path}.{key}"))
    for key in sorted(set(value) - {"CodeValue", "CodingSchemeDesignator", "CodeMeaning", "CodingSchemeVersion"}):
        problems.append(
            f"{path}.{key}: unknown field in a code (allowed: CodeValue, CodingSchemeDesignator, CodeMeaning)"
        )
    return problems


def _check_segment(segment: Any, path: str, warnings: list[str]) -> list[str]:
    if not isinstance(segment, dict):
        return [f"{path}: must be an object describing one segment, got {segment!r}"]
    problems = [f"{path}.{key}: required field is missing" for key in REQUIRED_SEGMENT_KEYS if key not in segment]
    label = segment.get("labelID")
    if "labelID" in segment and (isinstance(label, bool) or not isinstance(label, int) or label < 1):
        problems.append(f"{path}.labelID: must be a whole number >= 1 (the voxel value of the segment), got {label!r}")
    algorithm_type = segment.get("SegmentAlgorithmType")
    if "SegmentAlgorithmType" in segment and algorithm_type not in ALGORITHM_TYPES:
        problems.append(
            f"{path}.SegmentAlgorithmType: must be one of {', '.join(ALGORITHM_TYPES)}, got {algorithm_type!r}"
        )
    if algorithm_type in ("AUTOMATIC", "SEMIAUTOMATIC") and not segment.get("SegmentAlgorithmName"):
        problems.append(
            f"{path}.SegmentAlgorithmName: required when SegmentAlgorithmType is {algorithm_type}; "
            'name the algorithm (e.g. "TotalSegmentator") or set the type to MANUAL'
        )
    for key in CODE_SEQUENCE_KEYS:
        if key in segment:
            problems.extend(_check_code(segment[key], f"{path}.{key}"))
    if "AnatomicRegionModifierSequence" in segment and "AnatomicRegionSequence" not in segment:
        problems.append(f"{path}.AnatomicRegionModifierSequence: only allowed together with AnatomicRegionSequence")
    for key, check in SEGMENT_FIELDS.items():
        if key in segment:
            problems.extend(check(segment[key], f"{path}.{key}"))
    known = set(REQUIRED_SEGMENT_KEYS) | set(CODE_SEQUENCE_KEYS) | set(SEGMENT_FIELDS)
    warnings.extend(f"{path}.{key}: unknown field, ignored" for key in sorted(set(segment) - known))
    return problems


def validate_metainfo(document: Any, warnings: list[str] | None = None) -> list[str]:
    """Return every problem of a metainfo ``document`` (empty if valid).

    Unknown fields are not problems; they are appended to ``warnings`` (when given) and logged.
    """
    collected: list[str] = []
    if not isinstance(document, dict):
        return [f"$: the metainfo must be a JSON object, got {type(document).__name__}"]
    problems: list[str] = []
    for key, check in TOP_LEVEL_FIELDS.items():
        if key in document:
            problems.extend(check(document[key], f"$.{key}"))
    attributes = document.get("segmentAttributes")
    if "segmentAttributes" not in document:
        problems.append(
            "$.segmentAttributes: required field is missing: list the segments, one inner list per labelmap file"
        )
    elif not isinstance(attributes, list) or not attributes:
        problems.append("$.segmentAttributes: must be a non-empty list of lists of segments, e.g. [[{...}, {...}]]")
    else:
        for outer, segments in enumerate(attributes):
            path = f"$.segmentAttributes[{outer}]"
            if not isinstance(segments, list) or not segments:
                hint = (
                    " (wrap the segment objects in an inner list: one list per labelmap file)"
                    if isinstance(segments, dict)
                    else ""
                )
                problems.append(f"{path}: must be a non-empty list of segments{hint}")
                continue
            seen: dict[int, int] = {}
            for inner, segment in enumerate(segments):
                problems.extend(_check_segment(segment, f"{path}[{inner}]", collected))
                label = segment.get("labelID") if isinstance(segment, dict) else None
                if isinstance(label, int) and not isinstance(label, bool):
                    if label in seen:
                        problems.append(
                            f"{path}[{inner}].labelID: {label} is used by {path}[{seen[label]}] too; "
                            "labels within one labelmap must differ"
                        )
                    seen.setdefault(label, inner)
    mapping = document.get("segmentAttributesFileMapping")
    if "segmentAttributesFileMapping" in document:
        if not isinstance(mapping, list) or not all(isinstance(m, str) for m in mapping):
            problems.append("$.segmentAttributesFileMapping: must be a list of file names")
        elif isinstance(attributes, list) and len(mapping) != len(attributes):
            problems.append(
                f"$.segmentAttributesFileMapping: has {len(mapping)} entries but segmentAttributes has "
                f"{len(attributes)} lists; give one file name per list"
            )
    known = set(TOP_LEVEL_FIELDS) | {"segmentAttributes", "segmentAttributesFileMapping", *IGNORED_TOP_LEVEL_KEYS}
    collected[:0] = [f"$.{key}: unknown field, ignored" for key in sorted(set(document) - known)]
    for warning in collected:
        logger.warning("metainfo: %s", warning)
    if warnings is not None:
        warnings.extend(collected)
    return problems
