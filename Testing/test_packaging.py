"""The project's shape: the core stays pure, the Slicer CMake lists every core file, the module file parses."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
MODULE = PROJECT / "SegExport"
CORE = MODULE / "SegExportLib"
# What Slicer bundles (and the standard library) is all the core may import.
ALLOWED_THIRD_PARTY = {"numpy", "pydicom", "SimpleITK"}


OPTIONAL_EXTRAS = {"slicerio", "requests", "dicomweb_client", "pynetdicom"}
"""Imported only inside the functions that need them (the command line and PACS upload), never at module level."""


def imported_top_level_names(path: Path, module_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_only_what_slicer_bundles() -> None:
    stdlib = set(sys.stdlib_module_names) if hasattr(sys, "stdlib_module_names") else None
    for path in sorted(CORE.glob("*.py")):
        names = imported_top_level_names(path)
        assert not names & {"slicer", "qt", "vtk", "ctk", "jsonschema", "highdicom", "pydicom_seg"}, path.name
        assert not imported_top_level_names(path, module_level_only=True) & OPTIONAL_EXTRAS, path.name
        third_party = names - ALLOWED_THIRD_PARTY - OPTIONAL_EXTRAS - {"__future__"}
        if stdlib is not None:
            third_party -= stdlib
            assert not third_party, f"{path.name} imports {sorted(third_party)}"


def test_importing_the_core_and_its_command_loads_no_optional_package() -> None:
    code = (
        "import sys; import SegExportLib, SegExportLib.cli, SegExportLib.upload, SegExportLib.segnrrd; "
        # requests is left out: pydicom itself imports it when it is installed.
        f"print(sorted(set(sys.modules) & set({sorted(OPTIONAL_EXTRAS - {'requests'})!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(MODULE)},
    )
    assert result.stdout.strip() == "[]"


def test_cmake_lists_every_core_file() -> None:
    cmake = (MODULE / "CMakeLists.txt").read_text()
    listed = set(re.findall(r"\$\{MODULE_NAME\}Lib/([\w.]+\.py)", cmake))
    on_disk = {p.name for p in CORE.glob("*.py")}
    assert listed == on_disk, (
        f"missing from CMake: {sorted(on_disk - listed)}; listed but absent: {sorted(listed - on_disk)}"
    )
    for resource in re.findall(r"(Resources/\S+)", cmake):
        assert (MODULE / resource.replace("${MODULE_NAME}", "SegExport")).exists(), resource


def test_module_script_parses_on_python_3_9_syntax() -> None:
    source = (MODULE / "SegExport.py").read_text(encoding="utf-8")
    ast.parse(source, feature_version=(3, 9))
    for path in CORE.glob("*.py"):
        ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 9))


def test_every_core_module_uses_postponed_annotations() -> None:
    for path in CORE.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "def " in text or "class " in text:
            assert "from __future__ import annotations" in text, path.name


def test_version_is_single_sourced() -> None:
    import SegExportLib

    assert re.fullmatch(r"\d+\.\d+\.\d+", SegExportLib.__version__)
    assert 'version = { attr = "SegExportLib._version.__version__" }' in (PROJECT / "pyproject.toml").read_text()
