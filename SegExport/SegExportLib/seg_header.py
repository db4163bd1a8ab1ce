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
from .rawencode import encode_item, encode_sequence, encode_text
from .source import SourceSeries
from .template import SegmentDescription, Template

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
MANUFACTURER = "SegExport"
IMPLEMENTATION_VERSION_NAME = f"SEGEXPORT_{__version__}"[:16]
REFERENCED_SERIES_SEQUENCE = 0x00081115

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


def segment_item(number: int, segment: SegmentDescription) -> Dataset:
    """One SegmentSequence item (Segment Description Macro) for segment ``number``."""
    item = Dataset()
    item.SegmentNumber = number
    item.SegmentLabel = segment.segment_label(number)
    if segment.description:
        item.SegmentDescription = segment.description
    item.SegmentAlgorithmType = segment.algorithm_type
    if segment.algorithm_type != "MANUAL":
        if not segment.algorithm_name:
            raise TemplateError(
                [
                    f"segment {number} ({item.SegmentLabel}, labelID "
                    f"{segment.label_id}): SegmentAlgorithmName is required "
                    f"when SegmentAlgorithmType is {segment.algorithm_type}; "
                    "name the algorithm or set the type to MANUAL"
                ]
            )
        item.SegmentAlgorithmName = segment.algorithm_name
    item.SegmentedPropertyCategoryCodeSequence = DicomSequence([segment.category.to_dataset()])
    property_type = segment.type.to_dataset()
    if segment.type_modifier is not None:
        property_type.SegmentedPropertyTypeModifierCodeSequence = DicomSequence([segment.type_modifier.to_dataset()])
    item.SegmentedPropertyTypeCodeSequence = DicomSequence([property_type])
    if segment.anatomic_region is not None:
        region = segment.anatomic_region.to_dataset()
        if segment.anatomic_region_modifier is not None:
            region.AnatomicRegionModifierSequence = DicomSequence([segment.anatomic_region_modifier.to_dataset()])
        item.AnatomicRegionSequence = DicomSequence([region])
    cielab = segment.cielab()
    if cielab is not None:
        item.RecommendedDisplayCIELabValue = list(cielab)
    if segment.tracking_id or segment.tracking_uid:
        # TrackingID and TrackingUID are each required when the other is present.
        if not segment.tracking_id or not segment.tracking_uid:
            raise TemplateError(
                [
                    f"segment {number} ({item.SegmentLabel}): TrackingIdentifier and TrackingUniqueIdentifier must be "
                    "given together; add the missing one or remove both"
                ]
            )
        item.TrackingID = segment.tracking_id
        item.TrackingUID = segment.tracking_uid
    return item


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


def background_segment_item() -> Dataset:
    """Segment 0 of a LABELMAP SEG: the background (pixel value 0), described as dcmqi and highdicom do."""
    item = Dataset()
    item.SegmentNumber = 0
    item.SegmentLabel = "Background"
    item.SegmentAlgorithmType = "MANUAL"
    item.SegmentedPropertyCategoryCodeSequence = DicomSequence(
        [Code("309825002", "SCT", "Spatial and Relational Concept").to_dataset()]
    )
    item.SegmentedPropertyTypeCodeSequence = DicomSequence([Code("125040", "DCM", "Background").to_dataset()])
    return item
