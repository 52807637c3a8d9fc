#!/usr/bin/env bash
# Set up, lint (ruff), then run every test: the package on the TensorFlow and JAX
# backends, then the book (papermill run on the sample dataset of the chapters that load
# or train on it, HTML build, nbval over the committed chapters).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. tools/setup.sh
start=$SECONDS
echo "== lint (ruff; its rules and exceptions are in pyproject.toml)"
ruff check vitsd tools tests benchmarks book
# --durations: the slowest tests of each run are listed at the end of its log.
PYTEST="python -m pytest -q -p no:cacheprovider --durations=30"
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

echo "== tests in two lanes side by side (2 cores):"
echo "   A: every package test on TensorFlow, then the installed-package check"
echo "   B: the backend-specific tests on JAX, then the book (papermill on sample, HTML),"
echo "      then nbval over the committed chapters"
logs=$(mktemp -d)
# CIFAR-100 unpacked once, into $logs/data: nbval replays eight chapters that each load
# it, and decompressing the .tar.xz costs each ~12 s on the 2-core CI machine (tar's own
# xz: ~15 s once, beside the JAX tests). The loaders find the folder first through
# $VITSD_DATA (vitsd.data.shared), and the installed-package check copies it where a
# reader's Keras would have unpacked it. The .tar.xz path stays tested in lane A
# (tests/data/test_cifar100_archive.py), which runs without $VITSD_DATA.
unpack_cifar100() {
  local archive
  archive=$(python -c 'from vitsd.data.shared import find_data_file as f
print(f("cifar-100-python.tar.xz") or "")') || return 0
  [ -n "$archive" ] || return 0
  mkdir -p "$logs/data.partial" && tar -xJf "$archive" -C "$logs/data.partial" \
    && mv "$logs/data.partial" "$logs/data" || echo "== unpacking $archive failed"
}
with_unpacked_data() {  # run "$@" with $VITSD_DATA at the unpacked copy, if there is one
  if [ -f "$logs/data/cifar-100-python/train" ]; then
    VITSD_DATA="$logs/data" "$@"
  else
    "$@"
  fi
}
(
  KERAS_BACKEND=tensorflow $PYTEST tests -m "not book" || exit 1
  # vitsd as readers install it: wheel + sdist from a clean copy, a fresh venv, the
  # published runs from a 127.0.0.1 server, chapter 7 alone as Colab meets it (~150 s).
  # In lane A since the chapters moved to measuring trained weights (chapters 3, 4)
  # made lane B the longer one.
  KERAS_BACKEND=tensorflow with_unpacked_data python tools/check_install.py || exit 3
) >"$logs/lane-a.log" 2>&1 &
a_pid=$!
(
  unpack_cifar100 & unpack_pid=$!
  KERAS_BACKEND=jax $PYTEST tests -m "backend and not book" || exit 1
  wait "$unpack_pid" || true
  if [ -d book ]; then
    KERAS_BACKEND=tensorflow $PYTEST tests -m book || exit 2
    KERAS_BACKEND=tensorflow with_unpacked_data $PYTEST --nbval-lax book/ || exit 2
  fi
) >"$logs/lane-b.log" 2>&1 &
b_pid=$!
a_rc=0; wait "$a_pid" || a_rc=$?
b_rc=0; wait "$b_pid" || b_rc=$?
echo "-- lane A: TensorFlow package tests, the installed package"; cat "$logs/lane-a.log"
echo "-- lane B: JAX backend tests, the book, nbval"; cat "$logs/lane-b.log"
rm -rf "$logs/data" "$logs/data.partial"
if [ "$a_rc" != 0 ] || [ "$b_rc" != 0 ]; then
  echo "== tests failed (lane A: $a_rc, lane B: $b_rc; 1 = package tests, 2 = book, 3 = installed package)"
  exit 1
fi
echo "== all tests passed in $((SECONDS - start)) s"
