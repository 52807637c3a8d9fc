"""pytest configuration for re-executing the committed chapters with nbval:

    pytest --nbval-lax book/ -p no:cacheprovider

nbval runs every notebook of book/ in a fresh kernel (working directory: book/) and
compares the outputs of the cells tagged ``nbval-check-output`` (the cell tag nbval
reads in place of a ``# NBVAL_CHECK_OUTPUT`` comment) with the committed ones. The
kernels inherit this process's environment, set here:

* ``VITSD_BOOK_REPLAY=1`` makes each notebook's hidden "injected-parameters" cell apply
  the parameters its committed outputs were produced with (see tools/build_book.py);
  without it, a notebook runs its defaults -- the full CIFAR-100 experiment;
* chapters whose committed outputs come from the CIFAR-10 JPEG archive are skipped,
  with the reason, on a machine without it (``$VITSD_DATA`` or ``shared/data/``);
* TensorFlow's C++ log is silenced, as in the build (each chapter's ``book.setup()``
  drops TensorFlow's start-up lines; oneDNN stays on: switching it off is 1.6x slower).
"""

import os

os.environ["VITSD_BOOK_REPLAY"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


def _recorded_dataset(notebook: Path):
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return None
    return (((meta.get("vitsd") or {}).get("run") or {}).get("parameters") or {}).get("DATASET")


def _missing_data_reason(notebook: Path):
    """Why a committed chapter cannot be replayed here, or None: chapters recorded on
    the CIFAR-10 JPEG archive need it (it is not part of the project)."""
    if _recorded_dataset(notebook) != "cifar10-jpeg":
        return None
    from vitsd.data import DatasetError, find_cifar10_jpeg

    try:
        find_cifar10_jpeg()
    except DatasetError as err:
        return (f"{notebook.name}: its committed outputs come from the CIFAR-10 JPEG "
                f"archive, which is not on this machine, so nbval cannot replay them "
                f"({err})")
    return None


def pytest_collection_modifyitems(config, items):
    reasons = {}
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix != ".ipynb":
            continue
        if path not in reasons:
            reasons[path] = _missing_data_reason(path)
        if reasons[path]:
            item.add_marker(pytest.mark.skip(reason=reasons[path]))
