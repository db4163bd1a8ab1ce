"""Write a SEG with highdicom (whole process), as its documentation shows. Runs in the bench's peer environment.

Usage: python write_highdicom.py LABELS.nrrd METAINFO.json CT_DIR OUT.dcm [--labelmap]
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
arguments = parser.parse_args()

sources = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(Path(arguments.ct_dir).glob("*.dcm"))]
sources.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
labels = sitk.GetArrayFromImage(sitk.ReadImage(arguments.labels))  # (slices, rows, columns), ascending z
segments = json.loads(Path(arguments.metainfo).read_text())["segmentAttributes"][0]
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
relabel = np.zeros(int(labels.max()) + 1, dtype=np.uint8 if len(segments) < 256 else np.uint16)
for number, segment in enumerate(segments, start=1):
    if segment["labelID"] < len(relabel):
        relabel[segment["labelID"]] = number
seg = hd.seg.Segmentation(
    source_images=sources,
    pixel_array=relabel[labels],
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
)
seg.save_as(arguments.out)
