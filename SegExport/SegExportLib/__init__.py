"""SegExportLib: write and read DICOM Segmentation objects with pydicom, SimpleITK and numpy.

The API follows pydicom-seg's, so scripts port by changing the import:

>>> import SimpleITK as sitk, pydicom
>>> from SegExportLib import template, MultiClassWriter, write_file
>>> tpl = template.from_dcmqi_metainfo("metainfo.json")                     # doctest: +SKIP
>>> seg = MultiClassWriter(tpl).write(sitk.ReadImage("labels.nrrd"),
...                                   [pydicom.dcmread(p) for p in ct_files])  # doctest: +SKIP
>>> write_file(seg, "seg.dcm")                                              # doctest: +SKIP
"""

from __future__ import annotations

from . import template
from ._version import __version__
from .encoded import EncodedSeg
from .errors import (
    EmptySegmentationError,
    GeometryMismatchError,
    MissingSegmentError,
    OutputExistsError,
    OutputWriteError,
    OverlappingSegmentsError,
    SegExportError,
    SegmentationImageError,
    SegReadError,
    SourceSeriesError,
    TemplateError,
)
from .fileio import dataset_to_bytes, save_dataset, write_file
from .reader import MultiClassReader, MultiClassReadResult, SegmentReader, SegmentReadResult
from .template import SegmentDescription, Template
from .writer import FractionalWriter, LayeredWriter, MultiClassWriter, WriteReport

__all__ = [
    "EmptySegmentationError",
    "EncodedSeg",
    "FractionalWriter",
    "GeometryMismatchError",
    "LayeredWriter",
    "MissingSegmentError",
    "MultiClassReadResult",
    "MultiClassReader",
    "MultiClassWriter",
    "OutputExistsError",
    "OutputWriteError",
    "OverlappingSegmentsError",
    "SegExportError",
    "SegReadError",
    "SegmentDescription",
    "SegmentReadResult",
    "SegmentReader",
    "SegmentationImageError",
    "SourceSeriesError",
    "Template",
    "TemplateError",
    "WriteReport",
    "__version__",
    "dataset_to_bytes",
    "save_dataset",
    "template",
    "write_file",
]
