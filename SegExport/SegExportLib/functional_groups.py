"""Functional groups and the dimension organisation of a SEG's frames.

Per-frame items are encoded straight to bytes (see :mod:`.rawencode`): the
fragments that repeat (a source image reference, a plane position, a segment
identification) are encoded once and joined per frame, so a SEG with thousands
of frames costs a few byte joins per frame instead of dozens of pydicom objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import Tag

from .codes import SEGMENTATION_DERIVATION, SOURCE_IMAGE_PURPOSE, Code
from .rawencode import encode_ds, encode_item, encode_sequence, encode_text, encode_ul, encode_us, format_ds
from .source import SourcePlane

PER_FRAME_FUNCTIONAL_GROUPS = 0x52009230
SEGMENT_IDENTIFICATION_SEQUENCE = 0x0062000A
REFERENCED_SEGMENT_NUMBER = 0x0062000B
PLANE_POSITION_SEQUENCE = 0x00209113
IMAGE_POSITION_PATIENT = 0x00200032
FRAME_CONTENT_SEQUENCE = 0x00209111
STACK_ID = 0x00209056
IN_STACK_POSITION = 0x00209057
DIMENSION_INDEX_VALUES = 0x00209157


@dataclass(frozen=True)
class Frame:
    """What one SEG frame shows: a segment on a source plane at a position."""

    segment_number: int
    plane: SourcePlane
    position: np.ndarray
    """ImagePositionPatient of the frame's first pixel (differs from the plane's when cropped)."""
    position_index: int
    """1-based index of the frame's position among the distinct positions of the SEG."""


def encode_code_item(code: Code) -> bytes:
    """A Code Sequence Macro item, encoded."""
    value_tag = tag_for_keyword(code.value_keyword)
    parts = {
        value_tag: encode_text(value_tag, dictionary_VR(value_tag), code.value),
        0x00080102: encode_text(0x00080102, "SH", code.scheme),
        0x00080104: encode_text(0x00080104, "LO", code.meaning),
    }
    return encode_item(b"".join(parts[tag] for tag in sorted(parts)))


class PerFrameGroupsEncoder:
    """Encodes the Per-frame Functional Groups Sequence of a SEG."""

    def __init__(self) -> None:
        self._derivations: dict[tuple[str, int | None], bytes] = {}
        self._positions: dict[bytes, bytes] = {}
        self._segments: dict[int, bytes] = {}
        self._derivation_code = encode_sequence(0x00089215, [encode_code_item(SEGMENTATION_DERIVATION)])
        self._purpose_code = encode_sequence(0x0040A170, [encode_code_item(SOURCE_IMAGE_PURPOSE)])

    def _derivation(self, plane: SourcePlane) -> bytes:
        key = (plane.sop_instance_uid, plane.frame_number)
        encoded = self._derivations.get(key)
        if encoded is None:
            source = encode_text(0x00081150, "UI", plane.sop_class_uid) + encode_text(
                0x00081155, "UI", plane.sop_instance_uid
            )
            if plane.frame_number is not None:
                source += encode_text(0x00081160, "IS", str(plane.frame_number))
            # Frames lie on the source pixel grid (cropping only shifts the first pixel), so say
            # so: readers such as highdicom map frames to source images only when told.
            source += encode_text(0x0028135A, "CS", "YES")
            source_sequence = encode_sequence(0x00082112, [encode_item(source + self._purpose_code)])
            encoded = encode_sequence(0x00089124, [encode_item(source_sequence + self._derivation_code)])
            self._derivations[key] = encoded
        return encoded

    def _position(self, position: np.ndarray) -> bytes:
        key = position.tobytes()
        encoded = self._positions.get(key)
        if encoded is None:
            encoded = encode_sequence(
                PLANE_POSITION_SEQUENCE, [encode_item(encode_ds(IMAGE_POSITION_PATIENT, position))]
            )
            self._positions[key] = encoded
        return encoded

    def _segment(self, number: int) -> bytes:
        encoded = self._segments.get(number)
        if encoded is None:
            encoded = encode_sequence(
                SEGMENT_IDENTIFICATION_SEQUENCE, [encode_item(encode_us(REFERENCED_SEGMENT_NUMBER, number))]
            )
            self._segments[number] = encoded
        return encoded

    def encode_stack(self, frames: Sequence[Frame]) -> RawDataElement:
        """Per-frame groups of a LABELMAP SEG: one frame per slice, in one stack (no segment identification)."""
        items = []
        for frame in frames:
            content = encode_text(STACK_ID, "SH", "1")
            content += encode_ul(IN_STACK_POSITION, frame.position_index)
            content += encode_ul(DIMENSION_INDEX_VALUES, 1, frame.position_index)
            items.append(
                encode_item(
                    self._derivation(frame.plane)
                    + encode_sequence(FRAME_CONTENT_SEQUENCE, [encode_item(content)])
                    + self._position(frame.position)
                )
            )
        value = b"".join(items)
        return RawDataElement(Tag(PER_FRAME_FUNCTIONAL_GROUPS), "SQ", len(value), value, 0, False, True)

    def encode(self, frames: Sequence[Frame]) -> RawDataElement:
        """The Per-frame Functional Groups Sequence for ``frames``, as a raw Explicit VR LE element."""
        items = []
        for frame in frames:
            content = encode_sequence(
                0x00209111, [encode_item(encode_ul(0x00209157, frame.segment_number, frame.position_index))]
            )
            # Elements of an item in ascending tag order: 0008,9124 < 0020,9111 < 0020,9113 < 0062,000A.
            items.append(
                encode_item(
                    self._derivation(frame.plane)
                    + content
                    + self._position(frame.position)
                    + self._segment(frame.segment_number)
                )
            )
        value = b"".join(items)
        return RawDataElement(Tag(PER_FRAME_FUNCTIONAL_GROUPS), "SQ", len(value), value, 0, False, True)


def shared_functional_groups(
    image_orientation: Sequence[str],
    pixel_spacing: Sequence[str],
    slice_thickness: float,
    spacing_between_slices: float | None,
) -> DicomSequence:
    """The Shared Functional Groups Sequence: pixel measures and plane orientation common to all frames."""
    measures = Dataset()
    measures.PixelSpacing = list(pixel_spacing)
    measures.SliceThickness = format_ds(slice_thickness)
    if spacing_between_slices is not None:
        measures.SpacingBetweenSlices = format_ds(spacing_between_slices)
    orientation = Dataset()
    orientation.ImageOrientationPatient = list(image_orientation)
    shared = Dataset()
    shared.PixelMeasuresSequence = DicomSequence([measures])
    shared.PlaneOrientationSequence = DicomSequence([orientation])
    return DicomSequence([shared])


def dimension_modules(dimension_organization_uid: str, labelmap: bool = False) -> tuple[DicomSequence, DicomSequence]:
    """DimensionOrganizationSequence and DimensionIndexSequence.

    BINARY: segment number, then position. LABELMAP (one frame per slice): stack ID, then in-stack position.
    """
    organization = Dataset()
    organization.DimensionOrganizationUID = dimension_organization_uid
    indices = []
    dimensions = (
        (
            (STACK_ID, FRAME_CONTENT_SEQUENCE, "Stack ID"),
            (IN_STACK_POSITION, FRAME_CONTENT_SEQUENCE, "In-Stack Position Number"),
        )
        if labelmap
        else (
            (REFERENCED_SEGMENT_NUMBER, SEGMENT_IDENTIFICATION_SEQUENCE, "Segment Number"),
            (IMAGE_POSITION_PATIENT, PLANE_POSITION_SEQUENCE, "Image Position Patient"),
        )
    )
    for pointer, group, label in dimensions:
        index = Dataset()
        index.DimensionOrganizationUID = dimension_organization_uid
        index.DimensionIndexPointer = pointer
        index.FunctionalGroupPointer = group
        index.DimensionDescriptionLabel = label
        indices.append(index)
    return DicomSequence([organization]), DicomSequence(indices)
