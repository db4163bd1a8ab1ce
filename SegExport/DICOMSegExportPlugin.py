"""Registers SegExport in Slicer's "Export to DICOM" dialog (Data module, right-click a segmentation).

The class names are SegExport's own: Slicer 5.12 and QuantitativeReporting already register a
``DICOMSegmentationPlugin``, which this must never replace.
"""

import logging
import os
import re
from types import SimpleNamespace

import slicer
from DICOMLib import DICOMPlugin
from slicer.i18n import tr as _


class DICOMSegExportPluginClass(DICOMPlugin):
    """Offers a segmentation for export as a DICOM SEG written by SegExport."""

    def __init__(self):
        super().__init__()
        self.loadType = _("DICOM Segmentation (SegExport)")

    def examineForExport(self, subjectHierarchyItemID):
        shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
        dataNode = shNode.GetItemDataNode(subjectHierarchyItemID)
        if dataNode is None or not dataNode.IsA("vtkMRMLSegmentationNode"):
            return []
        exportable = slicer.qSlicerDICOMExportable()
        exportable.name = self.loadType
        exportable.tooltip = _("Writes the segmentation as a DICOM SEG that refers to its source series")
        exportable.subjectHierarchyItemID = subjectHierarchyItemID
        exportable.pluginClass = self.__module__
        # A segmentation can only be exported this way if its reference volume came from DICOM.
        from SegExport import SegExportLogic

        reference = SegExportLogic().findReferenceVolume(dataNode)
        exportable.confidence = 0.6 if reference is not None and reference.GetAttribute("DICOM.instanceUIDs") else 0.1
        exportable.setTag("Modality", "SEG")
        exportable.setTag("SeriesDescription", dataNode.GetName())
        exportable.setTag("SeriesNumber", "300")
        return [exportable]

    @staticmethod
    def exportParameters(panel, exportable, segmentationNode):
        """The dialog's export settings: its tags, the panel's author and algorithm, the writer defaults.

        A plain namespace, so that exporting from the dialog does not change what the panel shows.
        """
        seriesNumber = exportable.tag("SeriesNumber") or ""
        return SimpleNamespace(
            useTemplateFile=False,
            templatePath="",
            seriesDescription=exportable.tag("SeriesDescription") or segmentationNode.GetName(),
            seriesNumber=int(seriesNumber) if seriesNumber.isdigit() else 300,
            contentCreatorName=panel.contentCreatorName,
            bodyPartExamined=panel.bodyPartExamined,
            algorithmType=panel.algorithmType,
            algorithmName=panel.algorithmName,
            inplaneCropping=False,
            skipEmptySlices=True,
            skipMissingSegment=False,
            compression="none",
            segmentationType="BINARY",
        )

    def export(self, exportables):
        """Write each exportable's SEG into its directory; return "" on success, else the error for the dialog."""
        from SegExport import SegExportLogic

        logic = SegExportLogic()
        shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
        for exportable in exportables:
            segmentationNode = shNode.GetItemDataNode(exportable.subjectHierarchyItemID)
            try:
                reference = logic.findReferenceVolume(segmentationNode)
                if reference is None:
                    return _(
                        "Segmentation '{name}' has no reference volume: select the source volume in the Segment "
                        "Editor, or use the SegExport module to choose it."
                    ).format(name=segmentationNode.GetName())
                parameters = self.exportParameters(logic.getParameterNode(), exportable, segmentationNode)
                fileName = re.sub(r"[^\w.-]+", "_", segmentationNode.GetName()) + ".seg.dcm"
                summary = logic.export(
                    segmentationNode, reference, os.path.join(exportable.directory, fileName), parameters=parameters
                )
                logging.info("SegExport: %s", summary.describe())
            except ValueError as error:
                # SegExport's errors say what is wrong and how to fix it: show them as they are.
                return str(error)
        return ""


class DICOMSegExportPlugin:
    """Hook that makes Slicer load this file as a (hidden) module and register the plugin."""

    def __init__(self, parent):
        parent.title = "DICOM SEG export plugin (SegExport)"
        parent.categories = ["Developer Tools.DICOM Plugins"]
        parent.contributors = ["SegExport developers"]
        parent.helpText = "Adds 'DICOM Segmentation (SegExport)' to the Export to DICOM dialog."
        parent.acknowledgementText = "Part of the SegExport extension."
        parent.hidden = True
        if not hasattr(slicer.modules, "dicomPlugins"):
            # This module may be found before the DICOM module creates the registry.
            slicer.modules.dicomPlugins = {}
        slicer.modules.dicomPlugins["DICOMSegExportPlugin"] = DICOMSegExportPluginClass
