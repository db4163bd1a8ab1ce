#!/usr/bin/env bash
# The benchmark in one command: set up the peers' environments (once), generate the data (once), run every
# tool on every case and write bench/RESULTS.md. Arguments go to bench/run.py (see its --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/setup.sh
exec .venv-bench/peers/bin/python bench/run.py "$@"
