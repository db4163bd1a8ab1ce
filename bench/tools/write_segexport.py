"""Write a SEG with SegExportLib (whole process: read headers and labelmap, write the file).

Usage: python write_segexport.py LABELS.nrrd[,LAYER2.nrrd...] METAINFO.json CT_DIR OUT.dcm
       [--labelmap] [--compression NAME]
Several label files are layers whose segments may overlap (dcmqi's list-of-lists metainfo describes them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from SegExportLib import template
from SegExportLib.export import export_seg
from SegExportLib.volume import read_image

parser = argparse.ArgumentParser()
parser.add_argument("labels")
parser.add_argument("metainfo")
parser.add_argument("ct_dir")
parser.add_argument("out")
parser.add_argument("--labelmap", action="store_true")
parser.add_argument("--compression", default=None)
arguments = parser.parse_args()
images = [read_image(path) for path in arguments.labels.split(",")]  # NRRD without SimpleITK
export_seg(
    images[0] if len(images) == 1 else images,
    template.from_dcmqi_metainfo(arguments.metainfo),
    sorted(Path(arguments.ct_dir).glob("*.dcm")),
    arguments.out,
    overwrite=True,
    compression=arguments.compression,
    segmentation_type="LABELMAP" if arguments.labelmap else "BINARY",
)
