"""The parts of a SEG dataset that do not depend on its frames.

Patient, study and frame-of-reference attributes are copied from the source
series, and nothing else of it: no private tags, no other identifying
attributes. Series, equipment and content attributes come from the template.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import Tag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian
from pydicom.valuerep import PersonName

from ._version import __version__
from .codes import Code
from .errors import TemplateError
from .rawencode import encode_item, encode_sequence, encode_text, encode_us
from .source import SourceSeries
from .template import SegmentDescription, Template

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
MANUFACTURER = "SegExport"
IMPLEMENTATION_VERSION_NAME = f"SEGEXPORT_{__version__}"[:16]
REFERENCED_SERIES_SEQUENCE = 0x00081115
SEGMENT_SEQUENCE = 0x00620002

# Patient and study attributes a SEG carries over from its source (PS3.3 Patient, Clinical Trial
# Subject, General Study and Frame of Reference modules). Type 2 ones are written even when empty.
_PATIENT_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex")
_PATIENT_OPTIONAL = (
    "IssuerOfPatientID",
    "PatientIdentityRemoved",
    "DeidentificationMethod",
    "DeidentificationMethodCodeSequence",
    "ClinicalTrialSponsorName",
    "ClinicalTrialProtocolID",
    "ClinicalTrialProtocolName",
    "ClinicalTrialSiteID",
    "ClinicalTrialSiteName",
    "ClinicalTrialSubjectID",
    "ClinicalTrialSubjectReadingID",
)
_STUDY_TYPE2 = ("StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber")
_STUDY_OPTIONAL = ("StudyDescription",)

DEFAULT_SERIES_DESCRIPTION = "Segmentation"
DEFAULT_SERIES_NUMBER = 300
DEFAULT_CONTENT_LABEL = "SEGMENTATION"
DEFAULT_CONTENT_DESCRIPTION = "Image segmentation"


def _copy(target: Dataset, source: Dataset, keywords: Iterable[str], type2: bool) -> None:
    for keyword in keywords:
        value = source.get(keyword)
        if value is None or value == "":
            if type2:
                setattr(target, keyword, "")
            continue
        if isinstance(value, PersonName):
            value = PersonName(str(value))
        elif isinstance(value, DicomSequence):
            value = DicomSequence([_copy_public(item) for item in value])
        setattr(target, keyword, value)


def _copy_public(item: Dataset) -> Dataset:
    """A copy of a (code) sequence item without private elements."""
    copy = Dataset()
    for element in item:
        if not element.tag.is_private:
            copy.add_new(element.tag, element.VR, element.value)
    return copy


def copy_patient_and_study(target: Dataset, series: SourceSeries) -> None:
    """Copy patient, study and frame of reference attributes from the source header."""
    header = series.header
    _copy(target, header, _PATIENT_TYPE2, type2=True)
    _copy(target, header, _PATIENT_OPTIONAL, type2=False)
    target.StudyInstanceUID = series.study_instance_uid
    _copy(target, header, _STUDY_TYPE2, type2=True)
    _copy(target, header, _STUDY_OPTIONAL, type2=False)
    target.FrameOfReferenceUID = series.frame_of_reference_uid
    _copy(target, header, ("PositionReferenceIndicator",), type2=True)


def set_series_and_content(
    target: Dataset,
    template: Template,
    series_uid: str,
    instance_uid: str,
    now: datetime.datetime,
    sop_class: str = SEGMENTATION_STORAGE,
) -> None:
    """General/Segmentation Series, equipment, content identification and SOP Common attributes."""
    date, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S.%f")
    target.SOPClassUID = sop_class
    target.SOPInstanceUID = instance_uid
    target.InstanceCreationDate, target.InstanceCreationTime = date, time
    target.Modality = "SEG"
    target.SeriesInstanceUID = series_uid
    target.SeriesNumber = template.series_number if template.series_number is not None else DEFAULT_SERIES_NUMBER
    target.SeriesDescription = template.series_description or DEFAULT_SERIES_DESCRIPTION
    target.SeriesDate, target.SeriesTime = date, time
    if template.body_part_examined:
        target.BodyPartExamined = template.body_part_examined
    target.Manufacturer = MANUFACTURER
    target.ManufacturerModelName = MANUFACTURER
    target.DeviceSerialNumber = "1"
    target.SoftwareVersions = __version__
    target.InstanceNumber = template.instance_number if template.instance_number is not None else 1
    target.ContentDate, target.ContentTime = date, time
    target.ContentLabel = template.content_label or DEFAULT_CONTENT_LABEL
    target.ContentDescription = template.content_description or DEFAULT_CONTENT_DESCRIPTION
    target.ContentCreatorName = PersonName(template.content_creator_name or "")
    trial = (
        template.clinical_trial_series_id,
        template.clinical_trial_time_point_id,
        template.clinical_trial_coordinating_center_name,
    )
    if any(trial):
        # Writing any Clinical Trial Series attribute makes the module present, whose
        # ClinicalTrialCoordinatingCenterName is Type 2.
        target.ClinicalTrialCoordinatingCenterName = template.clinical_trial_coordinating_center_name or ""
        if template.clinical_trial_series_id:
            target.ClinicalTrialSeriesID = template.clinical_trial_series_id
        if template.clinical_trial_time_point_id:
            target.ClinicalTrialTimePointID = template.clinical_trial_time_point_id


def referenced_series(series: SourceSeries) -> RawDataElement:
    """Common Instance Reference: every source instance, under its series, pre-encoded (Explicit VR LE).

    A series of hundreds of images gives hundreds of items; encoding them directly is many times faster than
    building them as datasets for pydicom to walk and write.
    """
    instances = [
        encode_item(encode_text(0x00081150, "UI", sop_class) + encode_text(0x00081155, "UI", sop_instance))
        for sop_class, sop_instance in series.instances
    ]
    item = encode_sequence(0x0008114A, instances) + encode_text(0x0020000E, "UI", series.series_instance_uid)
    value = encode_item(item)
    return RawDataElement(Tag(REFERENCED_SERIES_SEQUENCE), "SQ", len(value), value, 0, False, True)


def segment_items(descriptions: list[SegmentDescription], labelmap: bool) -> list[list[_Element]]:
    """The SegmentSequence items (Segment Description Macro elements), segments numbered from 1; a LABELMAP SEG
    starts with the background, segment 0. Refuses what the macro does not allow."""
    items = [_background_elements()] if labelmap else []
    return items + [_segment_elements(number, segment) for number, segment in enumerate(descriptions, start=1)]


def items_are_ascii(items: list[list[_Element]]) -> bool:
    """True when every text of ``items`` (nested sequences included) is ASCII."""
    for elements in items:
        for _, vr, value in elements:
            if vr == "SQ":
                if not items_are_ascii(value):  # type: ignore[arg-type]
                    return False
            elif vr != "US" and not str(value).isascii():
                return False
    return True


def segment_sequence(items: list[list[_Element]], unicode: bool) -> RawDataElement:
    """The SegmentSequence of :func:`segment_items`, pre-encoded in Explicit VR Little Endian: text in UTF-8 when
    ``unicode`` (SpecificCharacterSet ISO_IR 192), else ASCII.

    A SEG from a model may describe a thousand segments; building them as datasets for pydicom to walk and write
    took longer than encoding all their frames.
    """
    encoding = "utf-8" if unicode else "ascii"
    value = b"".join(encode_item(_encode_elements(item, encoding)) for item in items)
    return RawDataElement(Tag(SEGMENT_SEQUENCE), "SQ", len(value), value, 0, False, True)


# An element to encode: (tag, VR, value); the value of an SQ element is a list of items, each a list of elements.
_Element = tuple[int, str, object]


def _code_item(code: Code, *extra: _Element) -> list[_Element]:
    """Code Sequence Macro elements of ``code`` (its value in CodeValue, LongCodeValue or URNCodeValue)."""
    value_tag, value_vr = _CODE_VALUE_ATTRIBUTES[code.value_keyword]
    return [
        (value_tag, value_vr, code.value),
        (0x00080102, "SH", code.scheme),
        (0x00080104, "LO", code.meaning),
        *extra,
    ]


_CODE_VALUE_ATTRIBUTES = {
    "CodeValue": (0x00080100, "SH"),
    "LongCodeValue": (0x00080119, "UC"),
    "URNCodeValue": (0x00080120, "UR"),
}


def _segment_elements(number: int, segment: SegmentDescription) -> list[_Element]:
    """The Segment Description Macro of segment ``number``; refuses what the macro does not allow."""
    label = segment.segment_label(number)
    elements: list[_Element] = [
        (0x00620004, "US", number),
        (0x00620005, "LO", label),
        (0x00620008, "CS", segment.algorithm_type),
    ]
    if segment.description:
        elements.append((0x00620006, "ST", segment.description))
    if segment.algorithm_type != "MANUAL":
        if not segment.algorithm_name:
            raise TemplateError(
                [
                    f"segment {number} ({label}, labelID {segment.label_id}): SegmentAlgorithmName is required "
                    f"when SegmentAlgorithmType is {segment.algorithm_type}; "
                    "name the algorithm or set the type to MANUAL"
                ]
            )
        elements.append((0x00620009, "LO", segment.algorithm_name))
    elements.append((0x00620003, "SQ", [_code_item(segment.category)]))
    modifier: list[_Element] = []
    if segment.type_modifier is not None:
        modifier = [(0x00620011, "SQ", [_code_item(segment.type_modifier)])]
    elements.append((0x0062000F, "SQ", [_code_item(segment.type, *modifier)]))
    if segment.anatomic_region is not None:
        region_modifier: list[_Element] = []
        if segment.anatomic_region_modifier is not None:
            region_modifier = [(0x00082220, "SQ", [_code_item(segment.anatomic_region_modifier)])]
        elements.append((0x00082218, "SQ", [_code_item(segment.anatomic_region, *region_modifier)]))
    cielab = segment.cielab()
    if cielab is not None:
        elements.append((0x0062000D, "US", list(cielab)))
    if segment.tracking_id or segment.tracking_uid:
        # TrackingID and TrackingUID are each required when the other is present.
        if not segment.tracking_id or not segment.tracking_uid:
            raise TemplateError(
                [
                    f"segment {number} ({label}): TrackingIdentifier and TrackingUniqueIdentifier must be "
                    "given together; add the missing one or remove both"
                ]
            )
        elements += [(0x00620020, "UT", segment.tracking_id), (0x00620021, "UI", segment.tracking_uid)]
    return elements


def _background_elements() -> list[_Element]:
    """Segment 0 of a LABELMAP SEG: the background (pixel value 0), described as dcmqi and highdicom do."""
    return [
        (0x00620004, "US", 0),
        (0x00620005, "LO", "Background"),
        (0x00620008, "CS", "MANUAL"),
        (0x00620003, "SQ", [_code_item(Code("309825002", "SCT", "Spatial and Relational Concept"))]),
        (0x0062000F, "SQ", [_code_item(Code("125040", "DCM", "Background"))]),
    ]


def _encode_elements(elements: list[_Element], encoding: str) -> bytes:
    """Encode elements (in any order: they are written in ascending tag order, as the standard requires)."""
    encoded = []
    for tag, vr, value in sorted(elements, key=lambda element: element[0]):
        if vr == "SQ":
            items = [encode_item(_encode_elements(item, encoding)) for item in value]  # type: ignore[attr-defined]
            encoded.append(encode_sequence(tag, items))
        elif vr == "US":
            encoded.append(encode_us(tag, *(value if isinstance(value, list) else [value])))  # type: ignore[arg-type]
        else:
            encoded.append(encode_text(tag, vr, str(value), encoding))
    return b"".join(encoded)


def file_meta(
    instance_uid: str, transfer_syntax: str = ExplicitVRLittleEndian, sop_class: str = SEGMENTATION_STORAGE
) -> FileMetaDataset:
    """File meta information for a SEG file in ``transfer_syntax`` (Explicit VR Little Endian by default)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = instance_uid
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


def needs_unicode(dataset: Dataset) -> bool:
    """True if any text value of ``dataset`` (recursively) is not plain ASCII."""
    for element in dataset.iterall():
        value = element.value
        texts = value if isinstance(value, (list, tuple)) else [value]
        for text in texts:
            if isinstance(text, (str, PersonName)) and not str(text).isascii():
                return True
    return False
