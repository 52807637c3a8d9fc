#!/usr/bin/env bash
# Set up and run every test: the package on the TensorFlow and JAX backends, then the
# book (papermill run of every chapter, HTML build, nbval over the committed chapters).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. tools/setup.sh
start=$SECONDS
PYTEST="python -m pytest -q -p no:cacheprovider"
# The JAX run covers every test that touches model, training or input-pipeline code;
# the rest (data files, plots, rollout in NumPy, config, book helpers) does not depend
# on the backend and runs once, on TensorFlow.
JAX_TESTS="tests/test_layers.py tests/test_model.py tests/test_schedule.py
  tests/test_schedule_triangular.py tests/test_explain.py tests/test_recipe.py
  tests/test_stem.py tests/test_pipeline.py tests/test_train.py tests/test_hub.py"

echo "== vitsd tests, TensorFlow and JAX backends side by side (JAX spends most of its"
echo "   time compiling on one core)"
logs=$(mktemp -d)
KERAS_BACKEND=tensorflow $PYTEST tests -m "not book" >"$logs/tensorflow.log" 2>&1 &
tf_pid=$!
# shellcheck disable=SC2086
KERAS_BACKEND=jax $PYTEST $JAX_TESTS -m "not book" >"$logs/jax.log" 2>&1 &
jax_pid=$!
tf_rc=0; wait "$tf_pid" || tf_rc=$?
jax_rc=0; wait "$jax_pid" || jax_rc=$?
echo "-- TensorFlow backend"; cat "$logs/tensorflow.log"
echo "-- JAX backend"; cat "$logs/jax.log"
if [ "$tf_rc" != 0 ] || [ "$jax_rc" != 0 ]; then
  echo "== package tests failed (TensorFlow: $tf_rc, JAX: $jax_rc)"
  exit 1
fi

if [ -d book ]; then
  echo "== the book: chapters through papermill, HTML build"
  KERAS_BACKEND=tensorflow $PYTEST tests -m book
  echo "== the book: nbval over the committed chapters"
  KERAS_BACKEND=tensorflow $PYTEST --nbval-lax book/
fi
echo "== all tests passed in $((SECONDS - start)) s"
