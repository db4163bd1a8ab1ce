"""Slicer segments without MRML: describing them for a SEG and merging their labelmap layers.

The Slicer logic reads each segment's name, colour, terminology and tags into a
:class:`SegmentInfo` and each shared labelmap layer into an array; everything
else happens here, where it is tested outside Slicer.

>>> info = SegmentInfo("Segment_1", "liver", (0.87, 0.51, 0.40))
>>> template_from_segments([info]).segments[0].type.meaning    # no terminology: a coded default
'Tissue'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .codes import TISSUE_CATEGORY, TISSUE_TYPE
from .errors import OverlappingSegmentsError, SegExportError
from .template import SegmentDescription, Template
from .terminology import TerminologyError, parse_terminology_entry

logger = logging.getLogger(__name__)

ALGORITHM_TYPE_TAG = "DICOM.SegmentAlgorithmType"
ALGORITHM_NAME_TAG = "DICOM.SegmentAlgorithmName"
TERMINOLOGY_TAG = "TerminologyEntry"


@dataclass
class SegmentInfo:
    """One Slicer segment as the exporter needs it."""

    segment_id: str
    name: str
    color: tuple[float, float, float]
    """Display colour, each channel 0..1 as Slicer stores it."""
    terminology: str = ""
    """The segment's ``TerminologyEntry`` tag (empty if none)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Other segment tags, e.g. ``DICOM.SegmentAlgorithmType``."""
    layer: int = 0
    label_value: int = 1
    empty: bool = False


def describe_segment(
    info: SegmentInfo, label_id: int, algorithm_type: str = "MANUAL", algorithm_name: str | None = None
) -> SegmentDescription:
    """The SEG description of a Slicer segment: its name, colour and terminology (or a coded default)."""
    entry = None
    if info.terminology:
        try:
            entry = parse_terminology_entry(info.terminology)
        except TerminologyError as exc:
            logger.warning("segment %r: terminology ignored (%s); using the default codes", info.name, exc)
    segment_algorithm_type = info.tags.get(ALGORITHM_TYPE_TAG) or algorithm_type
    segment_algorithm_name = info.tags.get(ALGORITHM_NAME_TAG) or algorithm_name
    complete = entry is not None and entry.is_complete
    return SegmentDescription(
        label_id=label_id,
        label=info.name or None,
        algorithm_type=segment_algorithm_type,
        algorithm_name=segment_algorithm_name if segment_algorithm_type != "MANUAL" else None,
        category=entry.category if complete else TISSUE_CATEGORY,  # type: ignore[union-attr,arg-type]
        type=entry.type if complete else TISSUE_TYPE,  # type: ignore[union-attr,arg-type]
        type_modifier=entry.type_modifier if complete else None,  # type: ignore[union-attr]
        anatomic_region=entry.anatomic_region if entry is not None else None,
        anatomic_region_modifier=entry.anatomic_region_modifier if entry is not None else None,
        display_rgb=tuple(round(min(max(c, 0.0), 1.0) * 255) for c in info.color),  # type: ignore[arg-type]
    )


def template_from_segments(
    segments: Sequence[SegmentInfo],
    algorithm_type: str = "MANUAL",
    algorithm_name: str | None = None,
    placement: dict[str, tuple[int, int]] | None = None,
    **series: object,
) -> Template:
    """A template describing ``segments`` in order, labelled 1..N (see :func:`combine_layers`).

    ``placement`` gives each segment's (layer, label) when the segments are written as layers
    (see :func:`arrange_layers`). ``series`` are :class:`Template` fields such as ``series_description``.
    """
    described = []
    for number, info in enumerate(segments, start=1):
        description = describe_segment(info, number, algorithm_type, algorithm_name)
        if placement is not None:
            description.layer, description.label_id = placement[info.segment_id]
        described.append(description)
    return Template(described, **series)  # type: ignore[arg-type]


def match_template(
    template: Template, segments: Sequence[SegmentInfo]
) -> tuple[dict[str, SegmentDescription], list[str]]:
    """Pair a loaded template's descriptions with segments by SegmentLabel = segment name (case-insensitive).

    Returns ({segment_id: description}, [names of segments the template does not describe]).
    """
    by_label = {}
    for description in template.segments:
        if description.label:
            by_label.setdefault(description.label.strip().lower(), description)
    covered, missing = {}, []
    for info in segments:
        description = by_label.get(info.name.strip().lower())
        if description is None:
            missing.append(info.name)
        else:
            covered[info.segment_id] = description
    return covered, missing


def combine_layers(
    layers: Sequence[np.ndarray],
    segment_ids: Sequence[dict[int, str]],
    names: dict[str, str] | None = None,
    order: Sequence[str] | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Merge labelmap layers into one labelmap whose labels are 1..N.

    ``segment_ids[i]`` maps the label values of ``layers[i]`` to segment IDs. The new labels follow ``order``
    (segment IDs), else layer then label order. Segments of different layers that share voxels cannot go
    into one labelmap: :class:`OverlappingSegmentsError` names them.
    """
    if not layers:
        raise SegExportError("no labelmap layers to combine: select at least one segment")
    shape = layers[0].shape
    in_layers = [segment_ids[index][value] for index in range(len(layers)) for value in sorted(segment_ids[index])]
    wanted = list(order) if order is not None else in_layers
    if sorted(wanted) != sorted(in_layers):
        raise SegExportError("the segment order must list exactly the segments of the layers")
    new_label = {segment_id: number for number, segment_id in enumerate(wanted, start=1)}
    dtype = np.uint8 if len(wanted) < 256 else np.uint16
    merged = np.zeros(shape, dtype=dtype)
    owner_of_new = {number: segment_id for segment_id, number in new_label.items()}
    for index, layer in enumerate(layers):
        if layer.shape != shape:
            raise SegExportError(f"labelmap layer {index} has shape {layer.shape}, layer 0 has {shape}")
        lookup = np.zeros(int(layer.max()) + 1 if layer.size else 1, dtype=dtype)
        for value, segment_id in segment_ids[index].items():
            if value < len(lookup):
                lookup[value] = new_label[segment_id]
        relabelled = lookup[layer]
        clash = (merged != 0) & (relabelled != 0)
        if clash.any():
            pairs = sorted({(int(a), int(b)) for a, b in zip(merged[clash].tolist(), relabelled[clash].tolist())})
            label = (names or {}).get
            described = ", ".join(
                f"'{label(owner_of_new[a], owner_of_new[a])}' and '{label(owner_of_new[b], owner_of_new[b])}'"
                for a, b in pairs[:10]
            )
            raise OverlappingSegmentsError(
                f"segments overlap: {described}{' and more' if len(pairs) > 10 else ''}. A multi-class SEG cannot hold "
                "overlapping segments: remove the overlap (Segment Editor, Logical operators) or export them separately"
            )
        np.copyto(merged, relabelled, where=relabelled != 0)
    return merged, new_label


def labels_present(layer: np.ndarray) -> set[int]:
    """The non-zero label values that occur in a labelmap layer (to mark empty segments)."""
    if layer.size == 0:
        return set()
    if layer.dtype.kind in "ui" and layer.min() >= 0 and int(layer.max()) < (1 << 16):
        counts = np.bincount(layer.ravel(), minlength=1)
        return {int(v) for v in np.flatnonzero(counts[1:]) + 1}
    return {int(v) for v in np.unique(layer) if v != 0}


def arrange_layers(
    layers: Sequence[np.ndarray],
    segment_ids: Sequence[dict[int, str]],
    order: Sequence[str],
    names: dict[str, str] | None = None,
) -> tuple[list[np.ndarray], dict[str, tuple[int, int]]]:
    """Labelmap layers ready for a writer, and each segment's (layer, label) in them.

    Segments that share no voxels are merged into one labelmap labelled 1..N in ``order`` (for
    :class:`~SegExportLib.MultiClassWriter`); when some overlap, the layers are kept, relabelled with the
    same numbers, for :class:`~SegExportLib.LayeredWriter`.
    """
    try:
        merged, labels = combine_layers(layers, segment_ids, names, order)
        return [merged], {segment_id: (0, number) for segment_id, number in labels.items()}
    except OverlappingSegmentsError:
        logger.info("segments overlap: keeping %d labelmap layers", len(layers))
    number_of = {segment_id: number for number, segment_id in enumerate(order, start=1)}
    dtype = np.uint8 if len(order) < 256 else np.uint16
    kept, placement = [], {}
    for index, (layer, ids) in enumerate(zip(layers, segment_ids)):
        lookup = np.zeros(max(ids, default=0) + 1 if layer.size == 0 else int(layer.max()) + 1, dtype=dtype)
        for value, segment_id in ids.items():
            if value < len(lookup):
                lookup[value] = number_of[segment_id]
            placement[segment_id] = (index, number_of[segment_id])
        kept.append(lookup[layer])
    return kept, placement
