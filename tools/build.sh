#!/usr/bin/env bash
# Set up and regenerate the whole book offline: execute every chapter on the built-in
# `sample` dataset at a reduced size (outputs into book/), then render the HTML into
# _build/html. Options are passed on to tools/build_book.py (see --help).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. tools/setup.sh
python tools/build_book.py "$@"
