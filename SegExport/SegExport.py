"""SegExport: export Slicer segmentations as DICOM Segmentation objects.

This file is the Slicer glue. Everything that does not need MRML lives in the
embedded core package ``SegExportLib`` (pydicom, SimpleITK, numpy only), which is
tested outside Slicer. The export panel, the MRML logic and the DICOM export
plugin are tracked in their own issue; until then the module makes the core
importable in Slicer's Python (``import SegExportLib``) and self-tests it.
"""

import logging

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
)


class SegExport(ScriptedLoadableModule):
    """Module description shown in Slicer's module list and help panel."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("SegExport")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["SegExport developers"]
        self.parent.helpText = _(
            "Export a segmentation as a standard DICOM Segmentation (SEG) object that refers to its source series."
        )
        self.parent.acknowledgementText = _("SegExport writes SEG objects with pydicom, SimpleITK and numpy.")


class SegExportLogic(ScriptedLoadableModuleLogic):
    """Entry point to the embedded writer core from Slicer's Python."""

    def coreVersion(self):
        """Version of the embedded SegExportLib core."""
        import SegExportLib

        return SegExportLib.__version__


class SegExportTest(ScriptedLoadableModuleTest):
    """Checks, inside Slicer, that the embedded core imports and round-trips a tiny SEG."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_CoreRoundTrip()

    def test_CoreRoundTrip(self):
        import numpy as np
        import SimpleITK as sitk
        from pydicom.dataset import Dataset

        from SegExportLib import MultiClassReader, MultiClassWriter
        from SegExportLib.template import SegmentDescription, Template

        self.delayDisplay("Writing a SEG with the embedded core")
        labels = np.zeros((2, 4, 4), dtype=np.uint8)
        labels[0, 1:3, 1:3] = 1
        image = sitk.GetImageFromArray(labels)
        sources = []
        for k in range(2):
            source = Dataset()
            source.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
            source.SOPInstanceUID = f"1.2.3.4.{k + 1}"
            source.SeriesInstanceUID = "1.2.3.4"
            source.StudyInstanceUID = "1.2.3"
            source.FrameOfReferenceUID = "1.2.3.5"
            source.ImagePositionPatient = [0, 0, k]
            source.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            source.PixelSpacing = [1, 1]
            source.Rows = source.Columns = 4
            sources.append(source)
        seg = MultiClassWriter(Template([SegmentDescription(1, label="Box", algorithm_type="MANUAL")])).write(
            image, sources
        )
        result = MultiClassReader().read(seg)
        self.assertEqual(int(result.data.sum()), 4)
        logging.info("SegExportLib %s round trip passed", SegExportLogic().coreVersion())
        self.delayDisplay("Test passed")
