"""Reading Slicer ``.seg.nrrd`` files: layers, segments, names, colours and terminology.

The file is parsed by the PyPI package ``slicerio`` (imported only here, when a file is
read), and turned into what the writers take: labelmap layers as SimpleITK images on the
file's grid and a :class:`~SegExportLib.template.Template` describing every segment with
its name, colour and terminology. Segments that share no voxels are merged into one
labelmap (for :class:`~SegExportLib.MultiClassWriter`); overlapping ones keep their layers
(for :class:`~SegExportLib.LayeredWriter`).

>>> loaded = read_seg_nrrd("Segmentation.seg.nrrd")            # doctest: +SKIP
>>> [s.label for s in loaded.template.segments][:2]           # doctest: +SKIP
['ribs', 'cervical vertebral column']
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .errors import SegmentationImageError
from .segments import SegmentInfo, arrange_layers, labels_present, template_from_segments
from .template import Template
from .volume import NRRD_TYPES, nrrd_header_fields

logger = logging.getLogger(__name__)


class SegNrrdError(SegmentationImageError):
    """A ``.seg.nrrd`` file that cannot be read as a Slicer segmentation."""


@dataclass
class LoadedSegmentation:
    """A Slicer segmentation ready for a writer."""

    layers: list[sitk.Image]
    """One labelmap when no segments overlap, else one per layer; labels are 1..N in segment order."""
    template: Template
    segments: list[SegmentInfo]

    @property
    def overlapping(self) -> bool:
        return len(self.layers) > 1


def read_seg_nrrd(path: str | os.PathLike[str], **template_fields: object) -> LoadedSegmentation:
    """Read a Slicer ``.seg.nrrd``; ``template_fields`` are :class:`Template` fields (e.g. ``series_description``).

    Raises :class:`SegNrrdError` naming the file and the problem when it is not a readable segmentation.
    """
    try:
        import slicerio
    except ImportError as exc:
        raise SegNrrdError(
            "reading .seg.nrrd files needs the package slicerio: pip install slicerio (or pip install "
            "'SegExportLib[cli]')"
        ) from exc
    name = Path(path).name
    if not Path(path).is_file():
        raise SegNrrdError(f"{path} does not exist or is not a file")
    check_nrrd_header(path)
    try:
        segmentation = slicerio.read_segmentation(os.fspath(path))
    except MemoryError:
        raise
    except Exception as exc:  # slicerio and pynrrd raise many kinds of errors on malformed files
        raise SegNrrdError(f"{name} is not a readable segmentation file: {type(exc).__name__}: {exc}") from exc
    voxels = np.asarray(segmentation.get("voxels"))
    ijk_to_lps = np.asarray(segmentation.get("ijkToLPS"), dtype=float)
    if voxels.ndim == 3:
        voxels = voxels[np.newaxis]
    if voxels.ndim != 4 or voxels.dtype.kind not in "iub" or voxels.size == 0:
        raise SegNrrdError(
            f"{name} holds voxels of shape {voxels.shape} and type {voxels.dtype}; a Slicer segmentation is a 3D "
            "integer labelmap, or a 4D stack of them (one per layer)"
        )
    if (
        ijk_to_lps.shape != (4, 4)
        or not np.isfinite(ijk_to_lps).all()
        or abs(np.linalg.det(ijk_to_lps[:3, :3])) < 1e-12
    ):
        raise SegNrrdError(f"{name} has no usable voxel geometry (space directions and origin)")
    infos, segment_ids = _segments(segmentation.get("segments") or [], len(voxels), name)
    if not infos:
        raise SegNrrdError(f"{name} describes no segments")
    # slicerio gives (layer, i, j, k); the writers take (k, j, i) arrays.
    arrays = [np.ascontiguousarray(layer.transpose(2, 1, 0)) for layer in voxels]
    names = {info.segment_id: info.name for info in infos}
    order = [info.segment_id for info in infos]
    layers, placement = arrange_layers(arrays, segment_ids, order, names)
    present = [labels_present(layer) for layer in layers]  # one pass per layer, not one per segment
    for info in infos:
        layer, label = placement[info.segment_id]
        info.layer, info.label_value = layer, label
        info.empty = label not in present[layer]
    template = template_from_segments(infos, placement=placement, **template_fields)
    return LoadedSegmentation([_image(layer, ijk_to_lps) for layer in layers], template, infos)


MAX_HEADER_BYTES = 32 << 20
"""A .seg.nrrd header (text, with every segment's fields) larger than this is refused."""
MAX_VOXEL_BYTES = 2 << 30
"""Declared voxel data larger than this (2 GiB) is refused before anything is allocated."""


def check_nrrd_header(path: str | os.PathLike[str]) -> None:
    """Refuse a NRRD file whose header is missing, endless, or declares more voxel data than is reasonable.

    Runs before slicerio parses the file, so that a damaged or hostile header cannot make it allocate
    unbounded memory.
    """
    name = Path(path).name
    with open(path, "rb") as stream:
        magic = stream.readline(64)
        if not magic.startswith(b"NRRD000"):
            raise SegNrrdError(f"{name} is not a NRRD file (it does not start with NRRD000x)")
        header = bytearray(magic)
        while True:
            line = stream.readline(1 << 20)
            header += line
            if line in (b"\n", b"\r\n", b""):
                break
            if len(header) > MAX_HEADER_BYTES:
                raise SegNrrdError(f"{name}: the NRRD header is larger than {MAX_HEADER_BYTES >> 20} MiB")
    fields = nrrd_header_fields(header.decode("latin-1").partition("\n")[2])
    try:
        sizes = [int(v) for v in fields["sizes"].split()]
        item_bytes = np.dtype(NRRD_TYPES[fields["type"].lower()]).itemsize
    except KeyError as exc:
        raise SegNrrdError(f"{name}: the NRRD header has no valid {exc.args[0]!r} field") from None
    except ValueError:
        raise SegNrrdError(f"{name}: the NRRD 'sizes' field is not a list of whole numbers") from None
    if not sizes or any(size < 1 for size in sizes):
        raise SegNrrdError(f"{name}: the NRRD 'sizes' field must hold positive numbers, got {fields['sizes']!r}")
    total = item_bytes
    for size in sizes:
        total *= size
    if total > MAX_VOXEL_BYTES:
        raise SegNrrdError(
            f"{name}: the header declares {total:,} bytes of voxels (sizes {fields['sizes']}), more than the "
            f"{MAX_VOXEL_BYTES >> 30} GiB this reader accepts; the file is damaged or not a segmentation"
        )


def _segments(raw: list[dict], layer_count: int, name: str) -> tuple[list[SegmentInfo], list[dict[int, str]]]:
    """Segment descriptions in file order, and per layer {label value: segment ID}."""
    from slicerio.segmentation import terminology_entry_to_string

    infos, segment_ids = [], [{} for _ in range(layer_count)]  # type: list[SegmentInfo], list[dict[int, str]]
    for index, segment in enumerate(raw):
        segment_id = str(segment.get("id") or f"Segment_{index + 1}")
        layer, label = segment.get("layer", 0), segment.get("labelValue", 1)
        if not (isinstance(layer, int) and 0 <= layer < layer_count and isinstance(label, int) and label > 0):
            raise SegNrrdError(
                f"{name}: segment {segment_id} has layer {layer!r} and label value {label!r}; expected a layer "
                f"0..{layer_count - 1} and a label value >= 1"
            )
        if label in segment_ids[layer]:
            raise SegNrrdError(
                f"{name}: segments {segment_ids[layer][label]} and {segment_id} both use label {label} of layer {layer}"
            )
        segment_ids[layer][label] = segment_id
        color = segment.get("color") or (0.5, 0.5, 0.5)
        terminology = ""
        if segment.get("terminology"):
            try:
                terminology = terminology_entry_to_string(segment["terminology"])
            except Exception:  # an odd entry only loses its codes: the segment keeps its name and colour
                logger.warning("%s: segment %s has a terminology entry that cannot be read", name, segment_id)
        try:
            rgb = tuple(float(c) for c in color)[:3]
        except (TypeError, ValueError):
            rgb = (0.5, 0.5, 0.5)
        if len(rgb) != 3:
            rgb = (0.5, 0.5, 0.5)
        infos.append(
            SegmentInfo(
                segment_id,
                str(segment.get("name") or segment_id),
                rgb,  # type: ignore[arg-type]
                terminology=terminology,
                tags={str(k): str(v) for k, v in (segment.get("tags") or {}).items()},
                layer=layer,
                label_value=label,
            )
        )
    return infos, segment_ids


def _image(array_kji: np.ndarray, ijk_to_lps: np.ndarray) -> sitk.Image:
    """A SimpleITK image of a (k, j, i) array on the grid ``ijk_to_lps`` describes (LPS, as SimpleITK uses)."""
    axes = ijk_to_lps[:3, :3]
    spacing = np.linalg.norm(axes, axis=0)
    image = sitk.GetImageFromArray(array_kji)
    image.SetSpacing([float(v) for v in spacing])
    image.SetOrigin([float(v) for v in ijk_to_lps[:3, 3]])
    image.SetDirection([float(v) for v in (axes / spacing).ravel()])
    return image
