"""What a chapter records in its own outputs (every chapter): values glued into the
prose (:func:`glue`), key numbers stored in an output's metadata for the book's tests
(:func:`record`, :func:`read_records`), and the chapters' execution times
(:func:`chapter_timings`, chapter 9).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from vitsd.book.display import RECORD_KEY, _display, _jsonable


def glue(name: str, value, display: bool = False) -> None:
    """``myst_nb.glue``: store ``value`` under ``name`` in the cell's output, for
    ``{glue:text}`name``` in the chapter's prose -- numbers in the text come from the
    outputs. Where myst-nb is not installed (Colab), it does nothing: the prose then
    shows the role, and the numbers are in the cells' outputs."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)


def record(**values) -> None:
    """Record key values of a chapter for the book's tests.

    Stores ``values`` (made JSON-ready: NumPy scalars and arrays become numbers and
    lists) in the metadata of one display output under :data:`RECORD_KEY`, where
    :func:`read_records` finds them in the executed notebook. The output itself shows
    nothing -- empty HTML and text -- in Jupyter and in the rendered book alike.
    """
    _display({"text/html": "", "text/plain": ""}, raw=True,
             metadata={RECORD_KEY: _jsonable(values)})


def read_records(notebook) -> dict:
    """All values recorded in an executed notebook (a path, a ``NotebookNode`` or the
    notebook's JSON dict), merged in cell order: :func:`record` values by name, and
    ``"run_card"`` for the last run card displayed."""
    if isinstance(notebook, (str, os.PathLike)):
        with open(notebook, encoding="utf-8") as f:
            notebook = json.load(f)
    merged = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) or []:
            found = (output.get("metadata") or {}).get(RECORD_KEY)
            if isinstance(found, Mapping):
                merged.update(found)
    return merged


def chapter_timings(folder=".") -> list:
    """One row per chapter notebook in ``folder`` (``NN_*.ipynb``), read from the
    ``metadata.vitsd.run`` that ``tools/build_book.py`` records: how long its recorded
    execution took, on which device, with which dataset and model size (the "Running
    this book" page)."""
    rows = []
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        try:
            meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        except (OSError, ValueError):
            continue
        run = (meta.get("vitsd") or {}).get("run") or {}
        params = run.get("parameters") or {}
        env = run.get("environment") or {}
        rows.append({
            "chapter": path.stem,
            "seconds": run.get("seconds"),
            "dataset": params.get("DATASET"),
            "size": params.get("SIZE"),
            "epochs": params.get("EPOCHS"),
            "device": env.get("device"),
            "backend": " ".join(str(v) for v in (env.get("backend"),
                                                 env.get("backend_version")) if v),
            "date": run.get("date"),
        })
    return rows


def timing_table(rows, keep=("chapter", "seconds")) -> tuple:
    """:func:`chapter_timings` rows narrowed for a phone's column: ``(rows, shared)``.
    Columns with one value in every row (the device, the backend, the date, often the
    dataset) are left out of the rows and returned in ``shared`` (``{column: value}``),
    for the prose; the columns in ``keep`` stay. Chapter names read as words
    (``"03 shifted patch tokenization"``), so that a narrow cell can wrap them."""
    rows = [dict(r) for r in rows]
    columns = list(rows[0]) if rows else list(keep)
    shared = {c: rows[0][c] for c in columns
              if c not in keep and rows and all(r[c] == rows[0][c] for r in rows)}
    narrow = [{c: _narrow_cell(c, r[c]) for c in columns if c not in shared} for r in rows]
    return narrow, shared


def _narrow_cell(column: str, value):
    """A cell as short as it can read: chapter names as words, a device without its
    trademark signs and "Processor" (``"CPU: Intel(R) Xeon(R) Processor (2 cores)"`` ->
    ``"Intel Xeon (2 cores)"``)."""
    if column == "chapter":
        return str(value).replace("_", " ")
    if column == "device" and isinstance(value, str):
        for noise in ("CPU: ", "(R)", "(TM)", " Processor", " CPU"):
            value = value.replace(noise, "")
        return " ".join(value.split())
    return value


def timing_note(shared) -> str:
    """One sentence saying what every recorded execution shares (:func:`timing_table`'s
    ``shared``): its dataset, device, backend and date, those that are shared."""
    parts = []
    if "dataset" in shared:
        parts.append(f"on the dataset {shared['dataset']}")
    if "device" in shared:
        parts.append(f"on {shared['device']}")
    if "backend" in shared:
        parts.append(f"with {shared['backend']}")
    if "date" in shared:
        parts.append(f"on {shared['date']}")
    if not parts:
        return "The executions differ in dataset, device, backend and date (see the table)."
    return "Every execution shown ran " + ", ".join(parts) + "."
