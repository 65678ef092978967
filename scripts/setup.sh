#!/usr/bin/env bash
# Create ./.venv and install vidsearch (editable) with FAISS for CPU, the test and the docs extras. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# torch is pinned to 2.13.0 (CPU build) in pyproject.toml: an unpinned torch would pull CUDA wheels.
.venv/bin/python -m pip install --quiet -e ".[cpu,test,docs]"
