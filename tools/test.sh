#!/usr/bin/env bash
# Set up and run every test: the package on the TensorFlow and JAX backends, then the
# book (papermill run of every chapter, nbval over the committed chapters, HTML build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. tools/setup.sh
start=$SECONDS
echo "== vitsd tests, TensorFlow backend"
KERAS_BACKEND=tensorflow python -m pytest -q -p no:cacheprovider tests -m "not book"
echo "== vitsd tests, JAX backend"
KERAS_BACKEND=jax python -m pytest -q -p no:cacheprovider tests -m "not book"
if [ -d book ]; then
  echo "== the book: chapters through papermill, HTML build"
  KERAS_BACKEND=tensorflow python -m pytest -q -p no:cacheprovider tests -m book
  echo "== the book: nbval over the committed chapters"
  KERAS_BACKEND=tensorflow python -m pytest -q -p no:cacheprovider --nbval-lax book/
fi
echo "== all tests passed in $((SECONDS - start)) s"
