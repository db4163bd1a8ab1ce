#!/usr/bin/env bash
# Install everything the tests need, then run the whole suite on both Slicer Python stacks:
#   Python 3.9  + pydicom 2.4.4 + numpy 1.26.4 + SimpleITK 2.3.1   (Slicer 5.6/5.8)
#   Python 3.12 + pydicom 3.0.2 + numpy 2.x    + SimpleITK 2.5     (Slicer 5.12)
# The 3.12 environment also holds the independent oracles (highdicom, dcmqi's segimage2itkimage),
# which both runs call as separate processes. Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venvs="$root/.venv-test"
mkdir -p "$venvs" test-results

log() { printf '\n== %s\n' "$*"; }

# --- system tools: dicom3tools (dciodvfy, dcentvfy) and dcmtk (dcmdump, dcmconv) -----------------
if ! command -v dciodvfy >/dev/null || ! command -v dcmconv >/dev/null; then
    log "installing dicom3tools and dcmtk (apt)"
    if [ "$(id -u)" -ne 0 ]; then
        echo "dciodvfy/dcmconv are missing and this is not root: install the Debian packages dicom3tools and dcmtk" >&2
        exit 2
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dicom3tools dcmtk >/dev/null
fi

# --- a real PACS for the upload tests: Orthanc with its DICOMweb plugin (started by the tests on loopback) ----
if [ ! -x /usr/sbin/Orthanc ] || [ ! -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ]; then
    log "installing orthanc and orthanc-dicomweb (apt)"
    if [ "$(id -u)" -ne 0 ]; then
        echo "Orthanc is missing and this is not root: install the Debian packages orthanc and orthanc-dicomweb" >&2
        exit 2
    fi
    apt-get update -qq
    # The package tries to start its system service; the tests start their own server instead.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends orthanc orthanc-dicomweb >/dev/null
fi
command -v gcc >/dev/null || { echo "gcc is needed to build the loopback-only bind shim for Orthanc" >&2; exit 2; }

# --- OHIF's SEG loader (dcmjs from the npm registry), run by ../shared/tools/ohif_read.js -------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing nodejs and npm (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -d "$venvs/ohif/node_modules/dcmjs" ]; then
    log "installing dcmjs 0.52.2 (npm)"
    mkdir -p "$venvs/ohif"
    npm install --silent --no-audit --no-fund --prefix "$venvs/ohif" dcmjs@0.52.2 >/dev/null
fi
export SEGEXPORT_OHIF_NODE_PATH="$venvs/ohif/node_modules"

# --- interpreters ---------------------------------------------------------------------------------
source scripts/find_python.sh
py39=$(find_python 3.9)
py312=$(find_python 3.12)

make_venv() {  # make_venv NAME PYTHON PACKAGES...
    local name=$1 python=$2; shift 2
    if [ ! -x "$venvs/$name/bin/python" ]; then
        "$python" -m venv "$venvs/$name"
    fi
    "$venvs/$name/bin/python" -m pip install -q --disable-pip-version-check "$@" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
    "$venvs/$name/bin/python" -c 'import pydicom, numpy, SimpleITK' # fail early if the install did not work
}

log "Python 3.9 environment (Slicer 5.8 stack)"
make_venv py39 "$py39" "pydicom==2.4.4" "numpy==1.26.4" "SimpleITK==2.3.1" "pytest>=7" "hypothesis>=6" "slicerio>=1.1" "PySide6-Essentials" \
    "dicomweb-client>=0.59" "pynetdicom>=2.0"
log "Python 3.12 environment (Slicer 5.12 stack) with the oracles"
make_venv py312 "$py312" "pydicom==3.0.2" "numpy>=2.0,<2.5" "SimpleITK>=2.5,<2.6" "pytest>=7" "hypothesis>=6" \
    "highdicom==0.28.2" "dcmqi==1.5.7" "ruff==0.17.6" "slicerio>=1.1" "PySide6-Essentials" \
    "dicomweb-client>=0.59" "pynetdicom>=2.0"
# The project itself (the segexport script; tests import the working tree's core first).
for stack in py39 py312; do
    "$venvs/$stack/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$root" 2>&1 \
        | grep -v "is ignored: it is neither a file nor a directory" || true
done

export QT_QPA_PLATFORM=offscreen
export SEGEXPORT_ORACLE_PYTHON="$venvs/py312/bin/python"
export SEGEXPORT_DCMQI_BIN_DIR="$venvs/py312/bin"

log "ruff"
"$venvs/py312/bin/ruff" check .
"$venvs/py312/bin/ruff" format --check .

status=0
for stack in py39 py312; do
    log "pytest on $stack"
    "$venvs/$stack/bin/python" -m pytest -p no:cacheprovider --junitxml="test-results/$stack.xml" "$@" || status=1
done

log "summary"
"$venvs/py312/bin/python" scripts/summarize_junit.py test-results/py39.xml test-results/py312.xml || status=1
exit $status
