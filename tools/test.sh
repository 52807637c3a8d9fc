#!/usr/bin/env bash
# Set up, lint (ruff), then run every test: the package on the TensorFlow and JAX
# backends, then the book (papermill run of every chapter, HTML build, nbval over the
# committed chapters).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. tools/setup.sh
start=$SECONDS
echo "== lint (ruff; its rules and exceptions are in pyproject.toml)"
ruff check vitsd tools tests benchmarks book
PYTEST="python -m pytest -q -p no:cacheprovider"
# Every test runs on TensorFlow. On JAX runs a deliberate subset, the tests marked
# `backend`: what can differ between backends, each once --
#   * every layer against its NumPy reference (patches, shifts, SPT, LSA with its
#     diagonal mask under mixed precision, the temperature's gradient step, the conv
#     stem, BatchNorm in training mode, DropPath's random draws, attention scores);
#   * a model built, run, saved and reloaded in a fresh process with equal predictions,
#     and a mixed-precision build with float32 logits;
#   * the schedules driving Keras optimizers step by step;
#   * the tf.data pipeline around a JAX model: reference augmentation in tf.data,
#     CutMix/MixUp, the JAX-only equalisation workaround of RandAugment;
#   * one short end-to-end fit (the paper recipe on the sample: strong augmentation,
#     mixing, class token, stochastic depth, label smoothing, evaluation).
# Left to TensorFlow alone: data, plots, diagrams, config and book helpers (NumPy and
# files), and the longer fits of test_train.py (resume, determinism, CLI), whose code
# paths are Keras' own fit loop, already exercised on JAX by the short fit. JAX spends
# most of its time compiling: measured on a busy 2-core machine, the subset took 260 s
# (the fit 110 s, the save/reload 44 s), where all nine files took 450-780 s.

echo "== vitsd tests: all on TensorFlow, the backend-specific ones on JAX, side by side"
logs=$(mktemp -d)
KERAS_BACKEND=tensorflow $PYTEST tests -m "not book" >"$logs/tensorflow.log" 2>&1 &
tf_pid=$!
KERAS_BACKEND=jax $PYTEST tests -m "backend and not book" >"$logs/jax.log" 2>&1 &
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
