"""Load SegExport's .ui in a real Qt (PySide6) with simple stand-ins for Slicer's CTK/MRML widget classes.

Slicer cannot be installed here; the stand-ins derive from the Qt class closest to the real one
(qMRMLNodeComboBox from QComboBox, ctkPathLineEdit from QLineEdit, ctkCollapsibleButton from
QGroupBox), so the panel's layout, widget names, types and properties can be checked and rendered.
"""

from __future__ import annotations

import os
from pathlib import Path

UI_FILE = Path(__file__).resolve().parents[2] / "SegExport" / "Resources" / "UI" / "SegExport.ui"
# Slicer custom widget class -> the Qt base its stand-in uses.
STAND_IN_BASES = {
    "qMRMLWidget": "QWidget",
    "ctkCollapsibleButton": "QGroupBox",
    "ctkPathLineEdit": "QLineEdit",
    "qMRMLNodeComboBox": "QComboBox",
}


def load_panel():  # type: ignore[no-untyped-def]
    """Return (QApplication, the loaded top-level widget, {class name: stand-in class})."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets
    from PySide6.QtCore import QFile, QIODevice
    from PySide6.QtUiTools import QUiLoader

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    loader = QUiLoader()
    stand_ins = {}
    for name, base in STAND_IN_BASES.items():
        stand_ins[name] = type(name, (getattr(QtWidgets, base),), {})
        loader.registerCustomWidget(stand_ins[name])
    ui_file = QFile(str(UI_FILE))
    if not ui_file.open(QIODevice.ReadOnly):
        raise OSError(f"cannot open {UI_FILE}")
    try:
        widget = loader.load(ui_file)
    finally:
        ui_file.close()
    if widget is None:
        raise RuntimeError(f"QUiLoader could not load {UI_FILE}: {loader.errorString()}")
    for box in widget.findChildren(stand_ins["ctkCollapsibleButton"]):
        box.setTitle(str(box.property("text") or ""))
    return app, widget, stand_ins
