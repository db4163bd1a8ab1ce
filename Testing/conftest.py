"""pytest setup for the SegExport suite.

- Puts the core (``SegExport/``) and the test support package on ``sys.path``.
- Fixtures for the external tools and data the tests check against; each skips with
  the reason when its tool or data is absent on a user's machine.
- On CI (``CI=true``) a skip is a failure: every check must really run there.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

TESTING_DIR = Path(__file__).resolve().parent
PROJECT_DIR = TESTING_DIR.parent
for path in (PROJECT_DIR / "SegExport", TESTING_DIR):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from support import oracles  # noqa: E402  (needs the path set above)

ON_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if ON_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped on CI, which must run every check: {reason}"
    return report


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``../shared`` folder beside the checkout (third-party data; never copied into the project)."""
    path = PROJECT_DIR.parent / "shared"
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the third-party test data lives beside the checkout")
    return path


@pytest.fixture(scope="session")
def testdata(shared_dir: Path) -> Path:
    path = shared_dir / "testdata"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def dciodvfy() -> str:
    """Path of dicom3tools' dciodvfy (Debian package dicom3tools)."""
    path = shutil.which("dciodvfy")
    if path is None:
        pytest.skip("dciodvfy is not installed (Debian package dicom3tools)")
    return path


@pytest.fixture(scope="session")
def dcmqi() -> Path:
    """Folder holding dcmqi's binaries (PyPI package dcmqi)."""
    folder = oracles.dcmqi_bin_dir()
    if folder is None:
        pytest.skip("dcmqi's segimage2itkimage is not available (pip install dcmqi, or set SEGEXPORT_DCMQI_BIN_DIR)")
    return folder


@pytest.fixture(scope="session")
def highdicom_oracle() -> str:
    """Interpreter that can run highdicom (this one, or SEGEXPORT_ORACLE_PYTHON)."""
    python = oracles.oracle_python()
    if python is None:
        pytest.skip("no Python with highdicom: pip install highdicom, or set SEGEXPORT_ORACLE_PYTHON")
    return python


@pytest.fixture(scope="session")
def ohif() -> object:
    """OHIF's SEG loader (dcmjs, from the npm registry) run by ../shared/tools/ohif_read.js."""
    found = oracles.ohif_reader()
    if found is None:
        pytest.skip("OHIF's loader needs node, ../shared/tools/ohif_read.js and dcmjs (SEGEXPORT_OHIF_NODE_PATH)")
    return found


@pytest.fixture(scope="session")
def slicerio_data() -> Path:
    """The sample files that ship inside slicerio: CTChest4.nrrd and two Slicer .seg.nrrd files on it."""
    try:
        import slicerio
    except ImportError:
        pytest.skip("slicerio is not installed (pip install slicerio)")
    return Path(slicerio.__file__).parent / "data"


@pytest.fixture(scope="module")
def orthanc(shared_dir: Path) -> object:
    """A throw-away Orthanc with DICOMweb on loopback (../shared/tools/orthanc_loopback.py), stopped afterwards."""
    tool = shared_dir / "tools" / "orthanc_loopback.py"
    if not tool.exists() or not Path("/usr/sbin/Orthanc").exists():
        pytest.skip("Orthanc is not installed (Debian packages orthanc, orthanc-dicomweb) or its launcher is absent")
    pytest.importorskip("dicomweb_client", reason="dicomweb-client is not installed")
    pytest.importorskip("pynetdicom", reason="pynetdicom is not installed")
    import importlib.util

    spec = importlib.util.spec_from_file_location("orthanc_loopback", tool)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = module.OrthancServer(extra_config={"DicomCheckCalledAet": True})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the hostile-input table: Testing/README.md after a whole-suite run, else test-results/ only."""
    from support import hostile

    if not hostile.ROWS:
        return
    options = session.config.option
    whole_suite = (
        not options.keyword
        and not options.markexpr
        and all(Path(argument).resolve() == TESTING_DIR for argument in session.config.args)
    )
    results = PROJECT_DIR / "test-results"
    results.mkdir(exist_ok=True)
    hostile.write_table(results / f"hostile-inputs-py{sys.version_info[0]}{sys.version_info[1]}.md")
    if whole_suite:
        hostile.write_table(TESTING_DIR / "README.md")


def pytest_terminal_summary(terminalreporter: object, exitstatus: int, config: pytest.Config) -> None:
    from support import hostile

    for category, tried, listing, note, _ in hostile.ROWS:
        terminalreporter.write_line(f"hostile inputs: {category}: {tried} tried ({listing}); {note}")  # type: ignore[attr-defined]
