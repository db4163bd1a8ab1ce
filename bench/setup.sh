#!/usr/bin/env bash
# Environments for the benchmark: the peers as their users install them.
#   .venv-bench/segexport Python 3.12: SegExport from this checkout, pydicom 3.0.2, numpy 2, SimpleITK 2.5
#   .venv-bench/peers     Python 3.12: pydicom 3.0.2, highdicom 0.28.2, dcmqi 1.5.7
#   .venv-bench/pydicomseg Python 3.9: pydicom-seg 0.4.1, which needs pydicom < 3, numpy < 2, jsonschema < 4
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/find_python.sh
quiet_pip() { "$1"/bin/python -m pip install -q --disable-pip-version-check "${@:2}" 2>&1 | grep -v "is ignored" || true; }
[ -x .venv-bench/peers/bin/python ] || "$(find_python 3.12)" -m venv .venv-bench/peers
quiet_pip .venv-bench/peers "pydicom==3.0.2" "highdicom==0.28.2" "dcmqi==1.5.7" "SimpleITK>=2.5,<2.6" "numpy>=2,<2.5"
# SegExport as its users install it: its own environment with only what it needs (the versions of the peers'),
# installed by pip from this checkout (bytecode compiled, like the peers'), every run.
[ -x .venv-bench/segexport/bin/python ] || "$(find_python 3.12)" -m venv .venv-bench/segexport
quiet_pip .venv-bench/segexport "pydicom==3.0.2" "SimpleITK>=2.5,<2.6" "numpy>=2,<2.5"
quiet_pip .venv-bench/segexport --no-deps --force-reinstall .
[ -x .venv-bench/pydicomseg/bin/python ] || "$(find_python 3.9)" -m venv .venv-bench/pydicomseg
quiet_pip .venv-bench/pydicomseg "pydicom-seg==0.4.1" "pydicom<3" "numpy<2" "SimpleITK" "jsonschema<4"
.venv-bench/peers/bin/python -c "import highdicom, pydicom; print('peers: highdicom', highdicom.__version__, 'pydicom', pydicom.__version__)"
.venv-bench/pydicomseg/bin/python -c "import pydicom_seg, pydicom; print('pydicom-seg', pydicom_seg.__version__, 'pydicom', pydicom.__version__)"
