"""Write a SEG with pydicom-seg 0.4.1 (whole process). Runs in its own environment (pydicom < 3, numpy < 2).

Usage: python write_pydicomseg.py LABELS.nrrd METAINFO.json CT_DIR OUT.dcm
"""

from __future__ import annotations

import sys
from pathlib import Path

import pydicom
import pydicom_seg
import SimpleITK as sitk

labels_path, metainfo, ct_dir, out = sys.argv[1:5]
sources = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(Path(ct_dir).glob("*.dcm"))]
writer = pydicom_seg.MultiClassWriter(template=pydicom_seg.template.from_dcmqi_metainfo(metainfo))
writer.write(sitk.ReadImage(labels_path), sources).save_as(out)
