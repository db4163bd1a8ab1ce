"""Write a SEG with highdicom (whole process), as its documentation shows. Runs in the bench's peer environment.

Usage: python write_highdicom.py LABELS.nrrd[,LAYER2.nrrd...] METAINFO.json CT_DIR OUT.dcm [--labelmap [--jpegls]]
Several label files are layers whose segments may overlap: they are given to highdicom as one binary mask per
segment (a 4D array), which is how highdicom takes overlapping segments.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.sr.codedict import codes

parser = argparse.ArgumentParser()
parser.add_argument("labels")
parser.add_argument("metainfo")
parser.add_argument("ct_dir")
parser.add_argument("out")
parser.add_argument("--labelmap", action="store_true")
parser.add_argument("--jpegls", action="store_true", help="JPEG-LS Lossless (LABELMAP only in highdicom)")
arguments = parser.parse_args()

sources = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(Path(arguments.ct_dir).glob("*.dcm"))]
sources.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
layers = [sitk.GetArrayFromImage(sitk.ReadImage(path)) for path in arguments.labels.split(",")]  # ascending z
lists = json.loads(Path(arguments.metainfo).read_text())["segmentAttributes"]
segments = [segment for layer in lists for segment in layer]
descriptions = [
    hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=segment.get("SegmentLabel", f"Segment {number}"),
        segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Tissue,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    for number, segment in enumerate(segments, start=1)
]
if len(layers) == 1:
    labels = layers[0]
    relabel = np.zeros(int(labels.max()) + 1, dtype=np.uint8 if len(segments) < 256 else np.uint16)
    for number, segment in enumerate(segments, start=1):
        if segment["labelID"] < len(relabel):
            relabel[segment["labelID"]] = number
    pixel_array = relabel[labels]
else:
    pixel_array = np.stack(
        [layer == segment["labelID"] for layer, layer_segments in zip(layers, lists) for segment in layer_segments],
        axis=-1,
    )
seg = hd.seg.Segmentation(
    source_images=sources,
    pixel_array=pixel_array,
    segmentation_type=hd.seg.SegmentationTypeValues.LABELMAP
    if arguments.labelmap
    else hd.seg.SegmentationTypeValues.BINARY,
    segment_descriptions=descriptions,
    series_instance_uid=hd.UID(),
    series_number=300,
    sop_instance_uid=hd.UID(),
    instance_number=1,
    manufacturer="bench",
    manufacturer_model_name="bench",
    software_versions="0",
    device_serial_number="0",
    omit_empty_frames=True,
    **({"transfer_syntax_uid": pydicom.uid.JPEGLSLossless} if arguments.jpegls else {}),
)
seg.save_as(arguments.out)
