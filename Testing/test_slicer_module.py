"""The Slicer module outside Slicer: the .ui loads in a real Qt, matches the code and the parameter node,
and every Slicer/MRML/CTK name the module calls exists in Slicer 5.8.1 and 5.12.3."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from pydicom.datadict import keyword_dict

MODULE_DIR = Path(__file__).resolve().parents[1] / "SegExport"
GLUE_FILES = [MODULE_DIR / "SegExport.py", MODULE_DIR / "DICOMSegExportPlugin.py"]

# Which widget classes Slicer's parameterNodeWrapper connects to which field types (guiConnectors.py, 5.8.1/5.12.3).
CONNECTABLE = {
    "bool": {"QCheckBox"},
    "str": {"QLineEdit", "QComboBox"},
    "int": {"QSpinBox", "QSlider"},
    "pathlib.Path": {"ctkPathLineEdit"},
    "vtkMRMLSegmentationNode": {"qMRMLNodeComboBox"},
    "vtkMRMLScalarVolumeNode": {"qMRMLNodeComboBox"},
}

# Names the module uses that the shared name lists do not hold, each checked in Slicer's own source
# at v5.8.1 and v5.12.3 (path given), or coming from VTK/Qt rather than Slicer.
VERIFIED_ELSEWHERE = {
    "qSlicerDICOMExportable": "Modules/Scripted/DICOMLib/Widgets/qSlicerDICOMExportable.h (class)",
    "connectGui": "Base/Python/slicer/parameterNodeWrapper/wrapper.py (checkedSetAttr connectGui)",
    "disconnectGui": "Base/Python/slicer/parameterNodeWrapper/wrapper.py (checkedSetAttr disconnectGui)",
    "setTag": "qSlicerDICOMExportable.h: Q_INVOKABLE void setTag(QString, QString)",
    "tag": "qSlicerDICOMExportable.h: Q_INVOKABLE QString tag(QString)",
    "ModifiedEvent": "VTK vtkCommand",
    "vtkCommand": "VTK",
    "vtkIdList": "VTK",
    "GetNumberOfIds": "VTK vtkIdList",
    "GetId": "VTK vtkIdList",
    "vtkStringArray": "VTK",
    "InsertNextValue": "VTK vtkStringArray",
    "vtkMatrix4x4": "VTK",
    "GetElement": "VTK vtkMatrix4x4",
    "mutable": "VTK Python (vtk.mutable)",
    "Qt": "Qt",
    "QTableWidgetItem": "Qt",
    "QBrush": "Qt",
    "QColor": "Qt",
    "QFileDialog": "Qt",
    "ItemIsUserCheckable": "Qt",
    "ItemIsEnabled": "Qt",
    "Checked": "Qt",
    "Unchecked": "Qt",
    "UserRole": "Qt",
    "DICOMUtils": "Modules/Scripted/DICOMLib/DICOMUtils.py (module)",
    "StartCloseEvent": "Libs/MRML/Core/vtkMRMLScene.h (enum; Slicer's module template observes it)",
    "EndCloseEvent": "Libs/MRML/Core/vtkMRMLScene.h (enum; Slicer's module template observes it)",
    "vtkMRMLSubjectHierarchyNode": "Libs/MRML/Core/vtkMRMLSubjectHierarchyNode.h (class)",
    "segmentations": "slicer.modules.segmentations: used as such in Base/Python/slicer/util.py",
    "dicomPlugins": "slicer.modules.dicomPlugins: Modules/Scripted/DICOMPlugins/DICOMScalarVolumePlugin.py",
    "util": "Base/Python/slicer/util.py (module)",
    "IsA": "VTK vtkObject",
    "Path": "Python pathlib",
}
# Python-side objects of the module itself, or of SegExportLib, reached as attributes.
OWN_NAMES = {"SegExportParameterNode", "SegExportLogic", "SegmentReader", "SegExportError"}
# DICOM attribute keywords read from pydicom datasets (the self-test checks the written SEG).
DICOM_KEYWORDS = set(keyword_dict)


def widget_names_used_by_code() -> set[str]:
    source = (MODULE_DIR / "SegExport.py").read_text()
    return set(re.findall(r"self\.ui\.(\w+)", source))


def parameter_fields() -> dict[str, str]:
    tree = ast.parse((MODULE_DIR / "SegExport.py").read_text())
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SegExportParameterNode")
    fields = {}
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign):
            annotation = statement.annotation
            if isinstance(annotation, ast.Subscript):  # Annotated[T, ...]
                annotation = annotation.slice.elts[0] if isinstance(annotation.slice, ast.Tuple) else annotation.slice
            fields[statement.target.id] = ast.unparse(annotation)  # type: ignore[union-attr]
    return fields


@pytest.fixture(scope="module")
def panel():  # type: ignore[no-untyped-def]
    pytest.importorskip("PySide6", reason="PySide6-Essentials (PyPI) provides the Qt to load the .ui")
    from support.qt_panel import load_panel

    return load_panel()


def test_every_widget_the_code_uses_exists(panel) -> None:  # type: ignore[no-untyped-def]
    from PySide6 import QtWidgets

    _, widget, _ = panel
    missing = [name for name in widget_names_used_by_code() if widget.findChild(QtWidgets.QWidget, name) is None]
    assert missing == []


def test_parameter_node_fields_are_bound_to_connectable_widgets(panel) -> None:  # type: ignore[no-untyped-def]
    from PySide6 import QtWidgets

    _, widget, _ = panel
    bound = {}
    for child in widget.findChildren(QtWidgets.QWidget):
        name = child.property("SlicerParameterName")
        if name:
            bound[name] = type(child).__name__
    fields = parameter_fields()
    assert set(bound) == set(fields), f"unbound fields: {set(fields) - set(bound)}; unknown: {set(bound) - set(fields)}"
    for name, field_type in fields.items():
        assert bound[name] in CONNECTABLE[field_type], f"{name}: {field_type} cannot bind to {bound[name]}"


def test_defaults_of_widgets_match_the_parameter_node(panel) -> None:  # type: ignore[no-untyped-def]
    _, widget, _ = panel
    from PySide6 import QtWidgets

    def find(name):  # type: ignore[no-untyped-def]
        return widget.findChild(QtWidgets.QWidget, name)

    assert find("skipEmptySlicesCheckBox").isChecked() is True
    assert find("inplaneCroppingCheckBox").isChecked() is False
    assert find("skipMissingSegmentCheckBox").isChecked() is False
    assert find("addToDatabaseCheckBox").isChecked() is True
    assert find("seriesNumberSpinBox").value() == 300
    assert "dcmqi" in find("compressionComboBox").toolTip()
    assert find("exportButton").isEnabled() is False
    assert "experimental" in find("inplaneCroppingCheckBox").text().lower()
    assert "viewers" in find("inplaneCroppingCheckBox").toolTip()
    assert find("segmentationSelector").property("nodeTypes") == ["vtkMRMLSegmentationNode"]
    assert find("referenceVolumeSelector").property("nodeTypes") == ["vtkMRMLScalarVolumeNode"]
    headers = [find("segmentsTable").horizontalHeaderItem(i).text() for i in range(6)]
    assert headers == ["Export", "Name", "Colour", "Category", "Type", "Status"]


def names_called_on_slicer(path: Path) -> set[str]:
    """Attribute names in ``path`` that are Slicer/MRML/CTK API: CamelCase methods and slicer.* members."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner = ast.unparse(node.value)
        if owner in (
            "slicer",
            "slicer.util",
            "slicer.app",
            "slicer.dicomDatabase",
            "slicer.modules",
            "DICOMUtils",
            "ctk",
        ) or (
            node.attr[:1].isupper()
            and not node.attr.isupper()
            and not owner.startswith(("SegExportLib", "np", "self.ui"))
        ):
            names.add(node.attr)
    return names


def test_every_slicer_name_exists_in_both_releases(shared_dir: Path) -> None:
    lists = shared_dir / "slicer-api"
    ctk_names = set((lists / "ctk.txt").read_text().split())
    releases = {tag: set((lists / f"{tag}.txt").read_text().split()) | ctk_names for tag in ("v5.8.1", "v5.12.3")}
    for path in GLUE_FILES:
        for name in sorted(names_called_on_slicer(path)):
            if name in VERIFIED_ELSEWHERE or name in OWN_NAMES or name in DICOM_KEYWORDS:
                continue
            for tag, names in releases.items():
                assert name in names, f"{path.name} uses {name!r}, which Slicer {tag} does not define"


def test_the_export_plugin_does_not_take_slicers_own_plugin_name() -> None:
    source = (MODULE_DIR / "DICOMSegExportPlugin.py").read_text()
    assert 'dicomPlugins["DICOMSegExportPlugin"]' in source
    assert "class DICOMSegmentationPlugin" not in source and 'dicomPlugins["DICOMSegmentationPlugin"]' not in source
    for path in GLUE_FILES:
        ast.parse(path.read_text(), feature_version=(3, 9))


def test_the_panel_renders_to_a_screenshot(panel, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("render_panel", MODULE_DIR.parent / "scripts" / "render_panel.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    output = module.render(tmp_path / "panel.png")
    from PySide6 import QtGui

    image = QtGui.QImage(str(output))
    assert image.width() >= 400 and image.height() >= 800
