#!/usr/bin/env bash
# The main job on generated sample data: install the core in a fresh environment, build a synthetic CT
# series and labelmap, export the SEG, read it back and validate it. Usage: bash scripts/demo.sh [OUTPUT]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
"$python" -c 'import sys; assert sys.version_info >= (3, 9), "SegExport needs Python 3.9 or newer"'
if [ ! -x .venv-demo/bin/python ]; then
    "$python" -m venv .venv-demo
fi
.venv-demo/bin/python -m pip install -q --disable-pip-version-check . 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
exec .venv-demo/bin/python examples/export_demo.py "${1:-demo-output}"
