"""Segment descriptions and series information: the template a SEG is written from.

A :class:`Template` holds what the labelmap cannot: for each label value its
segment label, coded category and type, anatomy, algorithm and display colour,
plus series-level fields. It reads and writes dcmqi's segmentation metainfo JSON,
the format Slicer's exporter and pydicom-seg use, so existing files keep working.

>>> tpl = from_dcmqi_metainfo({"segmentAttributes": [[{
...     "labelID": 1, "SegmentLabel": "Liver", "SegmentAlgorithmType": "MANUAL",
...     "SegmentedPropertyCategoryCodeSequence": {"CodeValue": "123037004",
...         "CodingSchemeDesignator": "SCT", "CodeMeaning": "Anatomical Structure"},
...     "SegmentedPropertyTypeCodeSequence": {"CodeValue": "10200004",
...         "CodingSchemeDesignator": "SCT", "CodeMeaning": "Liver"}}]]})
>>> tpl.segment_for_label(1).type.meaning
'Liver'
>>> from_dcmqi_metainfo(tpl.to_dcmqi_metainfo()) == tpl
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from .codes import TISSUE_CATEGORY, TISSUE_TYPE, Code
from .color import rgb_to_cielab
from .errors import OutputExistsError, TemplateError
from .metainfo import validate_metainfo

__all__ = ["SegmentDescription", "Template", "from_dcmqi_metainfo", "rgb_to_cielab", "to_dcmqi_metainfo"]

MetainfoSource = Union[Mapping[str, Any], str, "os.PathLike[str]"]

_SCHEMA_URL = "https://raw.githubusercontent.com/qiicr/dcmqi/master/doc/schemas/seg-schema.json#"


@dataclass
class SegmentDescription:
    """The description of one segment: which voxel value it is, and what it means."""

    label_id: int
    """The voxel value of the segment in its labelmap."""
    layer: int = 0
    """Which labelmap (inner list of ``segmentAttributes``) the segment is in."""
    label: str | None = None
    description: str | None = None
    algorithm_type: str = "SEMIAUTOMATIC"
    algorithm_name: str | None = None
    category: Code = TISSUE_CATEGORY
    type: Code = TISSUE_TYPE
    type_modifier: Code | None = None
    anatomic_region: Code | None = None
    anatomic_region_modifier: Code | None = None
    display_rgb: tuple[int, int, int] | None = None
    display_cielab: tuple[int, int, int] | None = None
    tracking_id: str | None = None
    tracking_uid: str | None = None

    def segment_label(self, number: int) -> str:
        """The SegmentLabel to write: the label, else the description, else ``Segment <number>``."""
        return self.label or self.description or f"Segment {number}"

    def cielab(self) -> tuple[int, int, int] | None:
        """The display colour as DICOM scaled CIELab (given, or converted from RGB), or ``None``."""
        if self.display_cielab is not None:
            return self.display_cielab
        return rgb_to_cielab(self.display_rgb) if self.display_rgb is not None else None

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], layer: int = 0) -> SegmentDescription:
        """Build from one (validated) ``segmentAttributes`` entry."""

        def code(key: str) -> Code | None:
            return Code.from_json(obj[key]) if key in obj else None

        rgb = obj.get("recommendedDisplayRGBValue")
        lab = obj.get("RecommendedDisplayCIELabValue")
        return cls(
            label_id=int(obj["labelID"]),
            layer=layer,
            label=obj.get("SegmentLabel"),
            description=obj.get("SegmentDescription"),
            algorithm_type=obj["SegmentAlgorithmType"],
            algorithm_name=obj.get("SegmentAlgorithmName"),
            category=Code.from_json(obj["SegmentedPropertyCategoryCodeSequence"]),
            type=Code.from_json(obj["SegmentedPropertyTypeCodeSequence"]),
            type_modifier=code("SegmentedPropertyTypeModifierCodeSequence"),
            anatomic_region=code("AnatomicRegionSequence"),
            anatomic_region_modifier=code("AnatomicRegionModifierSequence"),
            display_rgb=tuple(round(v) for v in rgb) if rgb is not None else None,  # type: ignore[arg-type]
            display_cielab=tuple(int(v) for v in lab) if lab is not None else None,  # type: ignore[arg-type]
            tracking_id=obj.get("TrackingIdentifier"),
            tracking_uid=obj.get("TrackingUniqueIdentifier"),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``segmentAttributes`` entry for this segment (only the fields that are set)."""
        entry: dict[str, Any] = {"labelID": self.label_id}
        optional_text = (("SegmentLabel", self.label), ("SegmentDescription", self.description))
        entry.update({key: value for key, value in optional_text if value is not None})
        entry["SegmentAlgorithmType"] = self.algorithm_type
        if self.algorithm_name is not None:
            entry["SegmentAlgorithmName"] = self.algorithm_name
        entry["SegmentedPropertyCategoryCodeSequence"] = self.category.to_json()
        entry["SegmentedPropertyTypeCodeSequence"] = self.type.to_json()
        for key, code in (
            ("SegmentedPropertyTypeModifierCodeSequence", self.type_modifier),
            ("AnatomicRegionSequence", self.anatomic_region),
            ("AnatomicRegionModifierSequence", self.anatomic_region_modifier),
        ):
            if code is not None:
                entry[key] = code.to_json()
        if self.display_rgb is not None:
            entry["recommendedDisplayRGBValue"] = list(self.display_rgb)
        if self.display_cielab is not None:
            entry["RecommendedDisplayCIELabValue"] = list(self.display_cielab)
        if self.tracking_id is not None:
            entry["TrackingIdentifier"] = self.tracking_id
        if self.tracking_uid is not None:
            entry["TrackingUniqueIdentifier"] = self.tracking_uid
        return entry


# Template attribute <-> metainfo key, for the series-level text fields.
_TEXT_FIELDS = (
    ("content_creator_name", "ContentCreatorName"),
    ("clinical_trial_series_id", "ClinicalTrialSeriesID"),
    ("clinical_trial_time_point_id", "ClinicalTrialTimePointID"),
    ("clinical_trial_coordinating_center_name", "ClinicalTrialCoordinatingCenterName"),
    ("content_label", "ContentLabel"),
    ("content_description", "ContentDescription"),
    ("series_description", "SeriesDescription"),
    ("body_part_examined", "BodyPartExamined"),
)
_NUMBER_FIELDS = (("series_number", "SeriesNumber"), ("instance_number", "InstanceNumber"))


@dataclass
class Template:
    """Segment descriptions and series information for writing a SEG. Unset fields get the writer's defaults."""

    segments: list[SegmentDescription] = field(default_factory=list)
    content_creator_name: str | None = None
    clinical_trial_series_id: str | None = None
    clinical_trial_time_point_id: str | None = None
    clinical_trial_coordinating_center_name: str | None = None
    content_label: str | None = None
    content_description: str | None = None
    series_description: str | None = None
    series_number: int | None = None
    instance_number: int | None = None
    body_part_examined: str | None = None
    segment_attributes_file_mapping: list[str] | None = None

    @property
    def layer_count(self) -> int:
        """How many labelmaps (inner lists of ``segmentAttributes``) the template describes."""
        return max((segment.layer for segment in self.segments), default=-1) + 1

    def segments_in_layer(self, layer: int) -> list[SegmentDescription]:
        """The segments of labelmap ``layer``, in template order."""
        return [segment for segment in self.segments if segment.layer == layer]

    def segment_for_label(self, label_id: int, layer: int = 0) -> SegmentDescription | None:
        """The description of voxel value ``label_id`` in labelmap ``layer``, or ``None``."""
        return next((s for s in self.segments if s.label_id == label_id and s.layer == layer), None)

    def to_dcmqi_metainfo(self) -> dict[str, Any]:
        """This template as a dcmqi metainfo document (schema-conformant)."""
        document: dict[str, Any] = {"@schema": _SCHEMA_URL}
        for attribute, key in _TEXT_FIELDS:
            value = getattr(self, attribute)
            if value is not None:
                document[key] = value
        for attribute, key in _NUMBER_FIELDS:
            value = getattr(self, attribute)
            if value is not None:
                document[key] = str(value)
        if self.segment_attributes_file_mapping is not None:
            document["segmentAttributesFileMapping"] = list(self.segment_attributes_file_mapping)
        document["segmentAttributes"] = [
            [segment.to_json() for segment in self.segments_in_layer(layer)] for layer in range(self.layer_count)
        ]
        return document

    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the template as metainfo JSON, atomically; refuse to replace a file unless ``overwrite``."""
        target = Path(path)
        if target.exists() and not overwrite:
            raise OutputExistsError(f"{target} exists already; choose another name or allow overwriting")
        temporary = target.with_name(f".{target.name}.part")
        temporary.write_text(json.dumps(self.to_dcmqi_metainfo(), indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, target)
        return target


def from_dcmqi_metainfo(metainfo: MetainfoSource) -> Template:
    """Read a dcmqi segmentation metainfo document (a dict, or the path of a JSON file) into a :class:`Template`.

    Raises :class:`~SegExportLib.errors.TemplateError` listing every problem with its JSON path.
    """
    source = None
    if isinstance(metainfo, Mapping):
        document: Any = metainfo
    else:
        source = os.fspath(metainfo)
        document = _read_json(source)
    problems = validate_metainfo(document)
    if problems:
        raise TemplateError(problems, source)
    template = Template(
        segments=[
            SegmentDescription.from_json(segment, layer)
            for layer, segments in enumerate(document["segmentAttributes"])
            for segment in segments
        ],
        segment_attributes_file_mapping=document.get("segmentAttributesFileMapping"),
    )
    for attribute, key in _TEXT_FIELDS:
        setattr(template, attribute, document.get(key))
    for attribute, key in _NUMBER_FIELDS:
        if key in document:
            setattr(template, attribute, int(str(document[key]).strip()))
    return template


def to_dcmqi_metainfo(template: Template) -> dict[str, Any]:
    """The dcmqi metainfo document for ``template`` (see :meth:`Template.to_dcmqi_metainfo`)."""
    return template.to_dcmqi_metainfo()


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8-sig") as stream:
            return json.load(stream)
    except FileNotFoundError:
        raise TemplateError([f"$: the metainfo file {path} does not exist; check the path"], path) from None
    except json.JSONDecodeError as exc:
        raise TemplateError([f"$: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"], path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError([f"$: the metainfo file cannot be read: {exc}"], path) from exc
