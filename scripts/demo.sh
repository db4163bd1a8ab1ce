#!/usr/bin/env bash
# The main job on sample data that needs no download: install SegExport with its command-line extras in a fresh
# environment, then turn the CT and the Slicer .seg.nrrd that ship inside slicerio into a new DICOM CT series and
# a SEG, read it back, validate it and draw it. Usage: bash scripts/demo.sh [OUTPUT_FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
"$python" -c 'import sys; assert sys.version_info >= (3, 9), "SegExport needs Python 3.9 or newer"'
if [ ! -x .venv-demo/bin/python ]; then
    "$python" -m venv .venv-demo
fi
.venv-demo/bin/python -m pip install -q --disable-pip-version-check ".[cli]" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
exec .venv-demo/bin/python examples/seg_nrrd_demo.py "${1:-demo-output}"
