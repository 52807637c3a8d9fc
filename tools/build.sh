#!/usr/bin/env bash
# Set up, check that every chapter runs on this machine, and render the book.
#
# With no options (a fresh machine, no network needed): execute every chapter on the
# built-in `sample` dataset at a reduced size into _build/offline-book/ -- the committed
# chapters in book/ hold the outputs of bigger, real runs and are never overwritten --
# then render the HTML of the committed book into _build/html.
# With options, they go to tools/build_book.py (see --help), e.g. `--real` re-executes
# the committed chapters in place from the published runs (needs the CIFAR-10 JPEG
# archive), `--force` overwrites bigger recorded runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. tools/setup.sh
if [ $# -eq 0 ]; then
  python tools/build_book.py --out _build/offline-book --no-html
  python tools/build_book.py --html-only
else
  python tools/build_book.py "$@"
fi
