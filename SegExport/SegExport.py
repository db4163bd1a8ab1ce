"""SegExport: export a Slicer segmentation as a standard DICOM Segmentation (SEG) object.

This file is the Slicer glue: module description, parameter node, a thin widget and the
logic that gathers MRML data (labelmap layers on the reference volume's grid, segment
names, colours and terminology, the source DICOM files) into plain objects. Everything
that needs no MRML lives in the embedded core ``SegExportLib`` and is tested outside Slicer.
"""

import logging
import os
import pathlib
import re
from typing import Annotated, Optional

import numpy as np
import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

#
# SegExport
#


class SegExport(ScriptedLoadableModule):
    """Module description shown in Slicer's module list and help panel."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("SegExport")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["SegExport developers"]
        self.parent.helpText = _(
            "Export a segmentation as a standard DICOM Segmentation (SEG) object that refers to its source series: "
            "segment names, colours and terminology are kept, empty segments are shown, overlaps are reported."
        )
        self.parent.acknowledgementText = _("SegExport writes SEG objects with pydicom, SimpleITK and numpy.")


#
# SegExportParameterNode
#


@parameterNodeWrapper
class SegExportParameterNode:
    """What the user chose in the panel (saved with the scene)."""

    segmentationNode: vtkMRMLSegmentationNode
    referenceVolume: vtkMRMLScalarVolumeNode
    useTemplateFile: bool = False
    templatePath: pathlib.Path
    seriesDescription: str = "Segmentation"
    seriesNumber: Annotated[int, WithinRange(1, 99999)] = 300
    contentCreatorName: str = ""
    bodyPartExamined: str = ""
    algorithmType: Annotated[str, Choice(["MANUAL", "SEMIAUTOMATIC", "AUTOMATIC"])] = "MANUAL"
    algorithmName: str = ""
    inplaneCropping: bool = False
    skipEmptySlices: bool = True
    skipMissingSegment: bool = False
    compression: Annotated[str, Choice(["none", "deflate", "rle"])] = "none"
    segmentationType: Annotated[str, Choice(["BINARY", "LABELMAP"])] = "BINARY"
    outputPath: pathlib.Path
    addToDicomDatabase: bool = True
    writeReferenceSeries: bool = False
    patientName: str = ""
    patientID: str = ""
    studyDescription: str = ""
    referenceModality: Annotated[str, Choice(["CT", "MR"])] = "CT"


#
# SegExportWidget
#

SEGMENT_TABLE_COLUMNS = ("export", "name", "colour", "category", "type", "status")


class SegExportWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The export panel: binds the parameter node, shows the segments, and asks the logic to export."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._observedSegmentation = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/SegExport.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = SegExportLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.segmentationSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onSegmentationChanged)
        self.ui.referenceVolumeSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onReferenceVolumeChanged)
        self.ui.templatePathLineEdit.connect("currentPathChanged(QString)", self.updateTemplateCoverage)
        self.ui.useTemplateFileCheckBox.connect("toggled(bool)", self.updateTemplateCoverage)
        self.ui.segmentsTable.connect("itemChanged(QTableWidgetItem*)", self.onSegmentSelectionChanged)
        self.ui.saveTemplateButton.connect("clicked(bool)", self.onSaveTemplate)
        self.ui.exportButton.connect("clicked(bool)", self.onExport)
        self.ui.writeReferenceSeriesCheckBox.connect("toggled(bool)", self.updateReferenceSeriesFields)
        self.updateReferenceSeriesFields(False)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateExportButton)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.segmentationNode:
            firstSegmentation = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode")
            if firstSegmentation:
                self._parameterNode.segmentationNode = firstSegmentation

    def setParameterNode(self, inputParameterNode: Optional[SegExportParameterNode]) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateExportButton)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateExportButton)
            self.updateSegmentsTable()
            self.updateExportButton()

    def onSegmentationChanged(self, node) -> None:
        if self._observedSegmentation is not None:
            self.removeObserver(self._observedSegmentation, vtk.vtkCommand.ModifiedEvent, self.updateSegmentsTable)
        self._observedSegmentation = node
        if node is not None:
            self.addObserver(node, vtk.vtkCommand.ModifiedEvent, self.updateSegmentsTable)
            reference = self.logic.findReferenceVolume(node)
            if reference is not None and self._parameterNode:
                self._parameterNode.referenceVolume = reference
            if self._parameterNode and self._parameterNode.seriesDescription in ("", "Segmentation"):
                self._parameterNode.seriesDescription = node.GetName()
        self.updateSegmentsTable()

    def onReferenceVolumeChanged(self, node) -> None:
        self.ui.referenceStatusLabel.text = self.logic.referenceVolumeStatus(node)
        self.updateExportButton()

    def updateReferenceSeriesFields(self, checked) -> None:
        """The patient and study fields matter only when a non-DICOM volume is written as a new series."""
        for name in ("patientName", "patientID", "studyDescription", "referenceModality"):
            for suffix in ("Label", "LineEdit", "ComboBox"):
                widget = getattr(self.ui, name + suffix, None)
                if widget is not None:
                    widget.setVisible(bool(checked))
        self.updateExportButton()

    def updateSegmentsTable(self, caller=None, event=None) -> None:
        """Fill the table: one row per segment, checked for export, empty segments marked."""
        table = self.ui.segmentsTable
        table.blockSignals(True)
        table.setRowCount(0)
        node = self._parameterNode.segmentationNode if self._parameterNode else None
        if node is not None:
            infos = self.logic.segmentInfos(node)
            template = self.logic.templateFromSegments(infos, self._parameterNode)
            table.setRowCount(len(infos))
            for row, (info, description) in enumerate(zip(infos, template.segments)):
                self._fillRow(table, row, info, description)
        table.blockSignals(False)
        self.updateTemplateCoverage()
        self.updateExportButton()

    def _fillRow(self, table, row, info, description) -> None:
        import qt

        check = qt.QTableWidgetItem()
        check.setFlags(qt.Qt.ItemIsUserCheckable | qt.Qt.ItemIsEnabled)
        check.setCheckState(qt.Qt.Unchecked if info.empty else qt.Qt.Checked)
        check.setData(qt.Qt.UserRole, info.segment_id)
        table.setItem(row, 0, check)
        table.setItem(row, 1, qt.QTableWidgetItem(info.name))
        colour = qt.QTableWidgetItem()
        colour.setBackground(qt.QBrush(qt.QColor.fromRgbF(*info.color)))
        table.setItem(row, 2, colour)
        table.setItem(row, 3, qt.QTableWidgetItem(description.category.meaning))
        table.setItem(row, 4, qt.QTableWidgetItem(description.type.meaning))
        status = _("empty: nothing to export") if info.empty else ""
        if not info.terminology:
            status = (status + "; " if status else "") + _("no terminology: coded as Tissue")
        table.setItem(row, 5, qt.QTableWidgetItem(status))

    def selectedSegmentIds(self) -> list:
        import qt

        table = self.ui.segmentsTable
        selected = []
        for row in range(table.rowCount):
            item = table.item(row, 0)
            if item is not None and item.checkState() == qt.Qt.Checked:
                selected.append(item.data(qt.Qt.UserRole))
        return selected

    def onSegmentSelectionChanged(self, item=None) -> None:
        self.updateExportButton()

    def updateTemplateCoverage(self, *args) -> None:
        self.ui.templateCoverageLabel.text = ""
        if (
            not self._parameterNode
            or not self._parameterNode.useTemplateFile
            or not self._parameterNode.segmentationNode
        ):
            return
        self.ui.templateCoverageLabel.text = self.logic.templateCoverageText(
            self._parameterNode.templatePath, self.logic.segmentInfos(self._parameterNode.segmentationNode)
        )

    def updateExportButton(self, caller=None, event=None) -> None:
        """Enable Export only when the inputs are valid; the tooltip says what is missing."""
        if not self._parameterNode:
            return
        problems = self.logic.missingInputs(self._parameterNode, self.selectedSegmentIds())
        self.ui.exportButton.enabled = not problems
        self.ui.exportButton.toolTip = (
            "\n".join(problems) if problems else _("Export the selected segments as DICOM SEG")
        )

    def onSaveTemplate(self) -> None:
        import qt

        path = qt.QFileDialog.getSaveFileName(
            slicer.util.mainWindow(), _("Save metainfo.json"), "metainfo.json", _("dcmqi metainfo (*.json)")
        )
        if not path:
            return
        with slicer.util.tryWithErrorDisplay(_("Failed to save the template."), waitCursor=True):
            infos = self.logic.segmentInfos(self._parameterNode.segmentationNode)
            self.logic.templateFromSegments(infos, self._parameterNode).save(path, overwrite=True)

    def onExport(self) -> None:
        parameters = self._parameterNode
        outputPath = self.logic.outputFilePath(parameters.outputPath, parameters.segmentationNode)
        if outputPath.exists() and not slicer.util.confirmYesNoDisplay(
            _("{path} exists already. Replace it?").format(path=outputPath)
        ):
            return
        self.ui.progressBar.value = 0
        self.ui.resultLabel.text = ""

        def progress(fraction, message):
            self.ui.progressBar.value = int(fraction * 100)
            self.ui.progressBar.setFormat(f"{message} (%p%)")
            slicer.app.processEvents()

        with slicer.util.tryWithErrorDisplay(_("Export to DICOM SEG failed."), waitCursor=True):
            summary = self.logic.exportFromParameters(
                parameters, self.selectedSegmentIds(), outputPath, overwrite=True, progress=progress
            )
            self.ui.resultLabel.text = summary.describe()


#
# SegExportLogic
#


class SegExportLogic(ScriptedLoadableModuleLogic):
    """Gathers the MRML inputs of an export into plain objects and calls the SegExportLib core."""

    def getParameterNode(self):
        return SegExportParameterNode(super().getParameterNode())

    # --- reference volume and its DICOM files -------------------------------------------------------

    def findReferenceVolume(self, segmentationNode):
        """The segmentation's reference-geometry volume, else a DICOM volume of the same study, else None."""
        if segmentationNode is None:
            return None
        reference = segmentationNode.GetNodeReference(segmentationNode.GetReferenceImageGeometryReferenceRole())
        if reference is not None and reference.IsA("vtkMRMLScalarVolumeNode"):
            return reference
        shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
        study = shNode.GetItemParent(shNode.GetItemByDataNode(segmentationNode))
        children = vtk.vtkIdList()
        shNode.GetItemChildren(study, children)
        for index in range(children.GetNumberOfIds()):
            node = shNode.GetItemDataNode(children.GetId(index))
            if node is not None and node.IsA("vtkMRMLScalarVolumeNode") and node.GetAttribute("DICOM.instanceUIDs"):
                return node
        return None

    def dicomSourceFiles(self, volumeNode) -> list:
        """Files of the volume's DICOM instances in the database; a clear error with the fix otherwise."""
        instanceUIDs = (volumeNode.GetAttribute("DICOM.instanceUIDs") or "").split()
        if not instanceUIDs:
            raise ValueError(
                _(
                    "Volume '{name}' was not loaded from DICOM, so a SEG cannot refer to it. Load the series from the "
                    "DICOM database (DICOM module), or export this volume to DICOM first and use the loaded copy."
                ).format(name=volumeNode.GetName())
            )
        if slicer.dicomDatabase is None or not slicer.dicomDatabase.isOpen:
            raise ValueError(_("The DICOM database is not open: open it in the DICOM module."))
        files = [slicer.dicomDatabase.fileForInstance(uid) for uid in instanceUIDs]
        missing = sum(1 for path in files if not path or not os.path.exists(path))
        if missing:
            raise ValueError(
                _(
                    "{missing} of {total} DICOM files of volume '{name}' are not in the DICOM database "
                    "(or were moved). "
                    "Import the series into the DICOM database again (DICOM module, Import) and reload it."
                ).format(missing=missing, total=len(files), name=volumeNode.GetName())
            )
        return files

    def referenceSeriesFolder(self, outputPath) -> pathlib.Path:
        """A new folder beside the SEG for the series written from a non-DICOM reference volume."""
        output = pathlib.Path(outputPath)
        candidate = output.parent / f"{output.stem}-reference-series"
        number = 2
        while candidate.exists():
            candidate = output.parent / f"{output.stem}-reference-series-{number}"
            number += 1
        return candidate

    def writeReferenceSeries(
        self, volumeNode, folder, patientName, patientID, studyDescription="", modality="CT", addToDicomDatabase=False
    ) -> list:
        """Write a volume that did not come from DICOM as a new DICOM series (through the core); return its files.

        The volume then refers to the new instances (DICOM.instanceUIDs), as if it had been loaded from them.
        """
        from SegExportLib.geometry import image_from_slicer_array
        from SegExportLib.volume_series import PatientInfo, StudyInfo, write_volume_series

        ijkToRAS = vtk.vtkMatrix4x4()
        volumeNode.GetIJKToRASMatrix(ijkToRAS)
        matrix = np.array([[ijkToRAS.GetElement(r, c) for c in range(4)] for r in range(4)])
        image = image_from_slicer_array(slicer.util.arrayFromVolume(volumeNode), matrix)
        files = write_volume_series(
            image,
            folder,
            PatientInfo(patientName, patientID),
            StudyInfo(description=studyDescription),
            modality=modality,
            series_description=volumeNode.GetName(),
        )
        if addToDicomDatabase and slicer.dicomDatabase is not None and slicer.dicomDatabase.isOpen:
            import ctk

            indexer = ctk.ctkDICOMIndexer()
            indexer.addDirectory(slicer.dicomDatabase, str(folder))
            indexer.waitForImportFinished()
            import pydicom

            uids = [str(pydicom.dcmread(str(path), stop_before_pixels=True).SOPInstanceUID) for path in files]
            volumeNode.SetAttribute("DICOM.instanceUIDs", " ".join(uids))
        logging.info("SegExport: wrote volume %s as a new %s series in %s", volumeNode.GetName(), modality, folder)
        return [str(path) for path in files]

    def referenceVolumeStatus(self, volumeNode) -> str:
        """One line for the panel: whether the volume can be referenced, or what to do."""
        if volumeNode is None:
            return _("Select the volume the segmentation was drawn on.")
        try:
            files = self.dicomSourceFiles(volumeNode)
        except ValueError as error:
            return str(error)
        return _("{count} DICOM instances found in the database.").format(count=len(files))

    # --- segments and template ---------------------------------------------------------------------

    def segmentInfos(self, segmentationNode) -> list:
        """Every segment as a SegExportLib SegmentInfo (name, colour, terminology, layer, empty or not)."""
        from SegExportLib.segments import ALGORITHM_NAME_TAG, ALGORITHM_TYPE_TAG, SegmentInfo, labels_present

        segmentation = segmentationNode.GetSegmentation()
        presentByLayer = {}
        infos = []
        for index in range(segmentation.GetNumberOfSegments()):
            segmentId = segmentation.GetNthSegmentID(index)
            segment = segmentation.GetSegment(segmentId)
            layer = segmentation.GetLayerIndex(segmentId)
            if layer not in presentByLayer:
                try:
                    layerArray = slicer.util.arrayFromSegmentInternalBinaryLabelmap(segmentationNode, segmentId)
                    presentByLayer[layer] = labels_present(layerArray) if layerArray is not None else set()
                except (AttributeError, ValueError):
                    presentByLayer[layer] = set()
            tags = {}
            for name in (ALGORITHM_TYPE_TAG, ALGORITHM_NAME_TAG):
                value = vtk.mutable("")
                if segment.GetTag(name, value):
                    tags[name] = str(value)
            terminology = vtk.mutable("")
            segment.GetTag(segment.GetTerminologyEntryTagName(), terminology)
            infos.append(
                SegmentInfo(
                    segment_id=segmentId,
                    name=segment.GetName(),
                    color=tuple(segment.GetColor()),
                    terminology=str(terminology),
                    tags=tags,
                    layer=layer,
                    label_value=segment.GetLabelValue(),
                    empty=segment.GetLabelValue() not in presentByLayer[layer],
                )
            )
        return infos

    def _seriesFields(self, parameters) -> dict:
        return {
            "series_description": parameters.seriesDescription or None,
            "series_number": parameters.seriesNumber,
            "content_creator_name": parameters.contentCreatorName or None,
            "body_part_examined": parameters.bodyPartExamined or None,
        }

    def templateFromSegments(self, infos, parameters, placement=None):
        """The template built from the segments' names, colours and terminology, with the panel's series fields."""
        from SegExportLib.segments import template_from_segments

        return template_from_segments(
            infos,
            parameters.algorithmType,
            parameters.algorithmName or None,
            placement,
            **self._seriesFields(parameters),
        )

    def templateCoverageText(self, templatePath, infos) -> str:
        """Which segments a metainfo.json describes (matched by SegmentLabel) and which it misses."""
        from SegExportLib import SegExportError, template
        from SegExportLib.segments import match_template

        try:
            loaded = template.from_dcmqi_metainfo(str(templatePath))
        except SegExportError as error:
            return str(error)
        covered, missing = match_template(loaded, infos)
        text = _("The template describes {covered} of {total} segments.").format(covered=len(covered), total=len(infos))
        if missing:
            text += " " + _("Not described: {names}.").format(names=", ".join(missing))
        return text

    def buildTemplate(self, parameters, infos, placement=None):
        """The template of an export: from the metainfo file (matched by name) or from the segments.

        ``placement`` maps segment IDs to their (layer, label) in the images to write.
        """
        from SegExportLib import template
        from SegExportLib.segments import match_template
        from SegExportLib.template import Template

        if not parameters.useTemplateFile:
            return self.templateFromSegments(infos, parameters, placement)
        loaded = template.from_dcmqi_metainfo(str(parameters.templatePath))
        covered, missing = match_template(loaded, infos)
        if missing and not parameters.skipMissingSegment:
            raise ValueError(
                _(
                    "The template does not describe the segments {names}: add them, or check 'Skip missing segment'."
                ).format(names=", ".join(missing))
            )
        described = []
        for number, info in enumerate(infos, start=1):
            if info.segment_id in covered:
                description = covered[info.segment_id]
                description.layer, description.label_id = placement[info.segment_id] if placement else (0, number)
                described.append(description)
        fields = {key: value for key, value in vars(loaded).items() if key != "segments"}
        # What the panel sets (when set) wins over the file's series fields.
        fields.update({key: value for key, value in self._seriesFields(parameters).items() if value})
        return Template(described, **fields)

    # --- labelmap -----------------------------------------------------------------------------------

    def _layerArrays(self, segmentationNode, referenceVolume, segmentIds):
        """One labelmap array per shared layer on the reference grid, with its label -> segment ID map."""
        segmentation = segmentationNode.GetSegmentation()
        byLayer = {}
        for segmentId in segmentIds:
            byLayer.setdefault(segmentation.GetLayerIndex(segmentId), []).append(segmentId)
        logic = slicer.modules.segmentations.logic()
        layers, labelMaps = [], []
        for layerIds in byLayer.values():
            labelmapNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
            try:
                idArray = vtk.vtkStringArray()
                for segmentId in layerIds:
                    idArray.InsertNextValue(segmentId)
                if not logic.ExportSegmentsToLabelmapNode(segmentationNode, idArray, labelmapNode, referenceVolume):
                    raise ValueError(_("Slicer could not export the segments to a labelmap on the reference volume."))
                layers.append(np.array(slicer.util.arrayFromVolume(labelmapNode)))
                # Without a colour table Slicer numbers the exported segments 1..n in the order given.
                labelMaps.append({index + 1: segmentId for index, segmentId in enumerate(layerIds)})
            finally:
                displayNode = labelmapNode.GetDisplayNode()
                colorNode = displayNode.GetColorNode() if displayNode is not None else None
                slicer.mrmlScene.RemoveNode(labelmapNode)
                if colorNode is not None and colorNode.GetName().endswith("_ColorTable"):
                    slicer.mrmlScene.RemoveNode(colorNode)
        return layers, labelMaps

    def checkTransforms(self, segmentationNode, referenceVolume) -> None:
        """Refuse when a parent transform makes the volume's grid differ from its DICOM files."""
        volumeTransform = referenceVolume.GetParentTransformNode()
        segmentationTransform = segmentationNode.GetParentTransformNode()
        if volumeTransform is not None:
            raise ValueError(
                _(
                    "Volume '{volume}' is under transform '{transform}', so its grid no longer matches its "
                    "DICOM files. "
                    "Remove the transform (or harden it into the segmentation only) before exporting."
                ).format(volume=referenceVolume.GetName(), transform=volumeTransform.GetName())
            )
        if segmentationTransform is not None:
            raise ValueError(
                _(
                    "Segmentation '{segmentation}' is under transform '{transform}': harden the transform on the "
                    "segmentation (Data module, right-click, Harden transform) so it lies in the volume's space."
                ).format(segmentation=segmentationNode.GetName(), transform=segmentationTransform.GetName())
            )

    def segmentationImages(self, segmentationNode, referenceVolume, segmentIds):
        """The selected segments as labelmap images (SimpleITK, LPS) on the reference grid.

        Returns (images, placement): one merged labelmap when no segments overlap, else one image per shared
        layer; ``placement`` gives each segment ID's (layer, label) in them, labels numbered in ``segmentIds`` order.
        """
        from SegExportLib.geometry import image_from_slicer_array
        from SegExportLib.segments import arrange_layers

        self.checkTransforms(segmentationNode, referenceVolume)
        layers, labelMaps = self._layerArrays(segmentationNode, referenceVolume, segmentIds)
        names = {sid: segmentationNode.GetSegmentation().GetSegment(sid).GetName() for sid in segmentIds}
        arrays, placement = arrange_layers(layers, labelMaps, segmentIds, names)
        ijkToRAS = vtk.vtkMatrix4x4()
        referenceVolume.GetIJKToRASMatrix(ijkToRAS)
        matrix = np.array([[ijkToRAS.GetElement(r, c) for c in range(4)] for r in range(4)])
        return [image_from_slicer_array(array, matrix) for array in arrays], placement

    # --- export -------------------------------------------------------------------------------------

    def outputFilePath(self, outputPath, segmentationNode) -> pathlib.Path:
        """The file to write: the path given, or a file named after the segmentation inside a chosen folder."""
        # An unset path parameter reads as "." (pathlib.Path()); fall back to Slicer's default scene folder.
        chosen = str(outputPath or "")
        path = pathlib.Path(chosen) if chosen not in ("", ".") else pathlib.Path(slicer.app.defaultScenePath)
        if path.is_dir() or not path.suffix:
            safeName = re.sub(r"[^\w.-]+", "_", segmentationNode.GetName() if segmentationNode else "segmentation")
            path = path / f"{safeName}.seg.dcm"
        return path

    def missingInputs(self, parameters, segmentIds) -> list:
        """What keeps the Export button disabled, each as a sentence (empty when ready)."""
        problems = []
        if not parameters.segmentationNode:
            problems.append(_("Select a segmentation."))
        if not parameters.referenceVolume:
            problems.append(_("Select the reference volume (the DICOM series the segmentation was drawn on)."))
        elif not (parameters.referenceVolume.GetAttribute("DICOM.instanceUIDs") or ""):
            if not parameters.writeReferenceSeries:
                problems.append(
                    _(
                        "The reference volume was not loaded from DICOM: tick 'write it as a new DICOM series', or "
                        "load the series the segmentation was drawn on from the DICOM database."
                    )
                )
            elif not (parameters.patientName.strip() and parameters.patientID.strip()):
                problems.append(_("Enter the patient name and ID for the new DICOM series."))
        if parameters.segmentationNode and not segmentIds:
            problems.append(_("Check at least one non-empty segment."))
        if parameters.useTemplateFile and not pathlib.Path(str(parameters.templatePath)).is_file():
            problems.append(_("Choose the metainfo.json template file."))
        if parameters.compression == "rle" and parameters.segmentationType != "LABELMAP":
            problems.append(_("RLE compression needs SEG type LABELMAP; for BINARY choose deflate."))
        if parameters.algorithmType != "MANUAL" and not parameters.algorithmName:
            problems.append(_("Name the algorithm (required for automatic and semi-automatic segmentations)."))
        return problems

    def exportFromParameters(self, parameters, segmentIds, outputPath, overwrite=False, progress=None):
        """Export as the panel is set up; returns the SegExportLib ExportSummary."""
        return self.export(
            parameters.segmentationNode,
            parameters.referenceVolume,
            outputPath,
            segmentIds=segmentIds,
            parameters=parameters,
            overwrite=overwrite,
            addToDicomDatabase=parameters.addToDicomDatabase,
            progress=progress,
        )

    def export(
        self,
        segmentationNode,
        referenceVolume,
        outputPath,
        segmentIds=None,
        parameters=None,
        overwrite=False,
        addToDicomDatabase=False,
        progress=None,
    ):
        """Export ``segmentIds`` (default: all non-empty segments) of ``segmentationNode`` as a SEG file."""
        from SegExportLib.export import export_seg

        if segmentationNode is None or referenceVolume is None:
            raise ValueError(_("Select a segmentation and its reference volume."))
        parameters = parameters or self.getParameterNode()
        infos = self.segmentInfos(segmentationNode)
        if segmentIds is None:
            segmentIds = [info.segment_id for info in infos if not info.empty]
        chosen = [info for info in infos if info.segment_id in set(segmentIds)]
        chosen.sort(key=lambda info: segmentIds.index(info.segment_id))
        if not chosen:
            raise ValueError(_("No segment to export: every selected segment is empty."))
        if not referenceVolume.GetAttribute("DICOM.instanceUIDs") and parameters.writeReferenceSeries:
            sourceFiles = self.writeReferenceSeries(
                referenceVolume,
                self.referenceSeriesFolder(outputPath),
                parameters.patientName,
                parameters.patientID,
                parameters.studyDescription,
                parameters.referenceModality,
                addToDicomDatabase,
            )
        else:
            sourceFiles = self.dicomSourceFiles(referenceVolume)
        if progress:
            progress(0.05, _("Collecting the segments"))
        images, placement = self.segmentationImages(
            segmentationNode, referenceVolume, [info.segment_id for info in chosen]
        )
        summary = export_seg(
            images[0] if len(images) == 1 else images,
            self.buildTemplate(parameters, chosen, placement),
            sourceFiles,
            outputPath,
            overwrite=overwrite,
            inplane_cropping=parameters.inplaneCropping,
            skip_empty_slices=parameters.skipEmptySlices,
            skip_missing_segment=parameters.skipMissingSegment,
            compression=parameters.compression,
            segmentation_type=parameters.segmentationType,
            progress=progress,
        )
        if addToDicomDatabase:
            import ctk

            indexer = ctk.ctkDICOMIndexer()
            indexer.addFile(slicer.dicomDatabase, str(summary.path), False)
            indexer.waitForImportFinished()
        logging.info("SegExport: %s", summary.describe())
        return summary


#
# SegExportTest
#


class SegExportTest(ScriptedLoadableModuleTest):
    """Builds a small CT as a real DICOM series, segments it, exports through the logic and checks the SEG."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_ExportThroughLogic()
        self.setUp()
        self.test_NonDicomReferenceVolume()

    def test_ExportThroughLogic(self):
        import tempfile

        from DICOMLib import DICOMUtils

        from SegExportLib import SegmentReader
        from SegExportLib.synthetic import make_ct_series

        self.delayDisplay("Writing a synthetic CT series")
        folder = tempfile.mkdtemp(prefix="SegExportTest-")
        series = make_ct_series(rows=40, columns=32, slices=6, spacing=(0.8, 0.8, 2.0))
        ctFiles = [str(path) for path in series.write(os.path.join(folder, "ct"))]
        seriesUID = series.datasets[0].SeriesInstanceUID

        with DICOMUtils.TemporaryDICOMDatabase(os.path.join(folder, "db")) as database:
            DICOMUtils.importDicom(os.path.join(folder, "ct"), database)
            loadedNodeIds = DICOMUtils.loadSeriesByUID([seriesUID])
            self.assertEqual(len(loadedNodeIds), 1)
            volume = slicer.mrmlScene.GetNodeByID(loadedNodeIds[0])

            self.delayDisplay("Creating overlapping and non-overlapping segments")
            segmentationNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
            segmentationNode.CreateDefaultDisplayNodes()
            segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(volume)
            shape = slicer.util.arrayFromVolume(volume).shape
            masks = {name: np.zeros(shape, dtype=np.uint8) for name in ("liver", "spleen", "tumour")}
            masks["liver"][1:4, 5:20, 4:15] = 1
            masks["spleen"][2:5, 25:35, 18:28] = 1
            masks["tumour"][2:3, 10:14, 8:12] = 1  # inside the liver
            colours = {"liver": (0.87, 0.51, 0.40), "spleen": (0.62, 0.42, 0.64), "tumour": (1.0, 0.0, 0.0)}
            ids = {}
            for name, mask in masks.items():
                ids[name] = segmentationNode.GetSegmentation().AddEmptySegment(name, name, colours[name])
                slicer.util.updateSegmentBinaryLabelmapFromArray(mask, segmentationNode, ids[name], volume)
            liverTerminology = (
                "Segmentation category and type - 3D Slicer General Anatomy list~SCT^123037004^Anatomical Structure"
                "~SCT^10200004^Liver~^^~Anatomic codes - DICOM master list~^^~^^"
            )
            segmentationNode.GetSegmentation().GetSegment(ids["liver"]).SetTag("TerminologyEntry", liverTerminology)

            logic = SegExportLogic()
            self.assertEqual(logic.findReferenceVolume(segmentationNode), volume)

            self.delayDisplay("Exporting liver and spleen")
            output = os.path.join(folder, "seg.dcm")
            summary = logic.export(segmentationNode, volume, output, segmentIds=[ids["liver"], ids["spleen"]])
            self.assertEqual(summary.segment_count, 2)
            result = SegmentReader().read(output, ctFiles)
            labels = [result.segment_infos[n].SegmentLabel for n in (1, 2)]
            self.assertEqual(labels, ["liver", "spleen"])
            liverType = result.segment_infos[1].SegmentedPropertyTypeCodeSequence[0]
            self.assertEqual((liverType.CodeValue, liverType.CodeMeaning), ("10200004", "Liver"))
            self.assertEqual(result.dataset.ReferencedSeriesSequence[0].SeriesInstanceUID, seriesUID)
            self.assertEqual(int(result.segment_data(1).sum()), int(masks["liver"].sum()))
            self.assertEqual(int(result.segment_data(2).sum()), int(masks["spleen"].sum()))
            np.testing.assert_array_equal(result.segment_data(1), masks["liver"])

            self.delayDisplay("Overlapping segments are exported as they are")
            overlapping = os.path.join(folder, "overlap.dcm")
            summary = logic.export(segmentationNode, volume, overlapping, segmentIds=[ids["liver"], ids["tumour"]])
            result = SegmentReader().read(overlapping, ctFiles)
            self.assertEqual(result.dataset.SegmentsOverlap, "YES")
            expectedLiver = slicer.util.arrayFromSegmentBinaryLabelmap(segmentationNode, ids["liver"], volume)
            expectedTumour = slicer.util.arrayFromSegmentBinaryLabelmap(segmentationNode, ids["tumour"], volume)
            self.assertTrue((expectedLiver & expectedTumour).any())
            np.testing.assert_array_equal(result.segment_data(1), expectedLiver)
            np.testing.assert_array_equal(result.segment_data(2), expectedTumour)
        self.delayDisplay("Test passed")

    def test_NonDicomReferenceVolume(self):
        import glob
        import tempfile

        from SegExportLib import SegmentReader

        self.delayDisplay("A volume that did not come from DICOM")
        folder = tempfile.mkdtemp(prefix="SegExportTest-")
        voxels = (np.arange(6 * 20 * 16).reshape(6, 20, 16) % 300 - 100).astype(np.int16)
        volume = slicer.util.addVolumeFromArray(
            voxels, ijkToRAS=[[0.8, 0, 0, 5], [0, 0.8, 0, -3], [0, 0, 2, 10], [0, 0, 0, 1]]
        )
        segmentationNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
        segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(volume)
        mask = np.zeros(voxels.shape, dtype=np.uint8)
        mask[1:4, 3:9, 2:7] = 1
        segmentId = segmentationNode.GetSegmentation().AddEmptySegment("lesion", "lesion", (1.0, 0.5, 0.0))
        slicer.util.updateSegmentBinaryLabelmapFromArray(mask, segmentationNode, segmentId, volume)

        logic = SegExportLogic()
        parameters = logic.getParameterNode()
        parameters.writeReferenceSeries = False
        parameters.segmentationNode, parameters.referenceVolume = segmentationNode, volume
        self.assertTrue(
            any("not loaded from DICOM" in problem for problem in logic.missingInputs(parameters, [segmentId]))
        )
        parameters.writeReferenceSeries = True
        parameters.patientName, parameters.patientID = "Test^Volume", "SEGEXPORT-TEST"
        self.assertEqual(logic.missingInputs(parameters, [segmentId]), [])

        output = os.path.join(folder, "seg.dcm")
        summary = logic.export(segmentationNode, volume, output, segmentIds=[segmentId], parameters=parameters)
        self.assertEqual(summary.segment_count, 1)
        seriesFiles = sorted(glob.glob(os.path.join(folder, "seg-reference-series", "*.dcm")))
        self.assertEqual(len(seriesFiles), 6)
        result = SegmentReader().read(output, seriesFiles)
        self.assertEqual(str(result.dataset.PatientID), "SEGEXPORT-TEST")
        np.testing.assert_array_equal(result.segment_data(1), mask)
        self.delayDisplay("Test passed")
