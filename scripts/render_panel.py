"""Render the SegExport panel (.ui) with example content to Resources/Screenshot.png, without Slicer.

Usage: python scripts/render_panel.py [OUTPUT.png]   (needs PySide6-Essentials)
The CTK/MRML widgets are Qt stand-ins (see Testing/support/qt_panel.py); the content is an example.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "Testing"))

from support.qt_panel import load_panel  # noqa: E402

EXAMPLE_SEGMENTS = [
    ("liver", (221, 130, 101), "Anatomical Structure", "Liver", ""),
    ("spleen", (157, 108, 162), "Anatomical Structure", "Spleen", ""),
    ("tumour", (255, 0, 0), "Morphologically Altered Structure", "Mass", ""),
    ("scribble", (128, 174, 128), "Tissue", "Tissue", "empty: nothing to export; no terminology: coded as Tissue"),
]


def render(output: Path) -> Path:
    from PySide6 import QtCore, QtGui, QtWidgets

    app, panel, _ = load_panel()

    def find(name: str) -> QtWidgets.QWidget:
        return panel.findChild(QtWidgets.QWidget, name)

    find("segmentationSelector").addItem("CT abdomen segmentation")
    find("referenceVolumeSelector").addItem("3: CT abdomen 2.5 mm")
    find("referenceStatusLabel").setText("120 DICOM instances found in the database.")
    for choice in ("CT", "MR"):
        find("referenceModalityComboBox").addItem(choice)
    # As the widget shows them: the new-series fields only when a non-DICOM volume is to be written.
    for name in ("patientName", "patientID", "studyDescription", "referenceModality"):
        for suffix in ("Label", "LineEdit", "ComboBox"):
            widget = find(name + suffix)
            if widget is not None:
                widget.setVisible(False)
    table = find("segmentsTable")
    table.setRowCount(len(EXAMPLE_SEGMENTS))
    for row, (name, colour, category, type_, status) in enumerate(EXAMPLE_SEGMENTS):
        check = QtWidgets.QTableWidgetItem()
        check.setCheckState(QtCore.Qt.Unchecked if status.startswith("empty") else QtCore.Qt.Checked)
        table.setItem(row, 0, check)
        table.setItem(row, 1, QtWidgets.QTableWidgetItem(name))
        swatch = QtWidgets.QTableWidgetItem()
        swatch.setBackground(QtGui.QBrush(QtGui.QColor(*colour)))
        table.setItem(row, 2, swatch)
        for column, text in ((3, category), (4, type_), (5, status)):
            table.setItem(row, column, QtWidgets.QTableWidgetItem(text))
    table.resizeColumnsToContents()
    table.setMinimumHeight(150)
    find("seriesDescriptionLineEdit").setText("CT abdomen segmentation")
    for choice in ("MANUAL", "SEMIAUTOMATIC", "AUTOMATIC"):
        find("algorithmTypeComboBox").addItem(choice)
    for choice in ("BINARY", "LABELMAP"):
        find("segmentationTypeComboBox").addItem(choice)
    for choice in ("none", "deflate", "rle"):
        find("compressionComboBox").addItem(choice)
    find("outputPathLineEdit").setText("/data/exports/CT_abdomen_segmentation.seg.dcm")
    find("exportButton").setEnabled(True)
    find("progressBar").setValue(100)
    find("resultLabel").setText("CT_abdomen_segmentation.seg.dcm: 3 segments in 142 frames, 412 KiB, 0.4 s")
    panel.resize(600, 980)
    panel.show()
    app.processEvents()
    output.parent.mkdir(parents=True, exist_ok=True)
    if not panel.grab().save(str(output)):
        raise OSError(f"could not save {output}")
    return output


if __name__ == "__main__":
    print(render(Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT / "Resources" / "Screenshot.png"))
