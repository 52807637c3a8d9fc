#!/usr/bin/env bash
# Create .venv (if missing) and install vitsd with everything its tests and book need.
# Source it (`. tools/setup.sh`) to keep the environment active, or run it once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.vitsd-installed
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements.txt
  .venv/bin/python -m pip install --quiet --no-deps -e .
  .venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
# TensorFlow's C++ log stays quiet. (Not TF_ENABLE_ONEDNN_OPTS=0: switching oneDNN off
# made CPU training 1.6x slower; vitsd.quiet drops TensorFlow's start-up lines instead.)
export TF_CPP_MIN_LOG_LEVEL=3 MPLBACKEND=Agg
