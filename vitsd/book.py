"""Helpers for the chapters of the vitsd book (``book/*.ipynb``).

The chapters stay lean -- prose, calls into vitsd, figures. What they need beyond the
teaching API of the package lives here, tested like the rest of it:

* :func:`setup` -- figures display as PNG images, TensorFlow's C++ log stays quiet;
* :func:`run_card` -- what produced the outputs below it: parameters, dataset,
  versions, backend, device, and (training chapters) the run records used;
* :func:`show_source` -- the real source of a vitsd object, syntax-highlighted, so the
  chapters show the package's code instead of pasting a copy of it;
* :data:`VARIANTS` and :func:`variant_switches` -- the four models compared;
* :func:`config_for`, :func:`run_folder`, :func:`train_variant` -- the runs of
  chapters 6 and 7, which share their run folders;
* :func:`results_rows`, :func:`table` and :func:`prediction_titles` -- tables read
  from run records, captions of predictions;
* :func:`record` and :func:`read_records` -- key values a chapter records in its
  outputs (in the metadata of an output that displays nothing), read back by the
  book's tests.

Every chapter has the same papermill parameters, with the defaults of :data:`DEFAULTS`:
the real run (CIFAR-100, 50 epochs, the reference configuration). The offline build
(``tools/build_book.py``) executes the chapters with smaller values.

This module imports neither Keras nor a backend at import time.
"""

from __future__ import annotations

import html
import inspect
import json
import math
import numbers
import os
import re
from collections.abc import Mapping
from pathlib import Path

#: The papermill parameters of every chapter and their defaults: the real thing -- the
#: project's published real-photo runs (CIFAR-10 photographs, the CPU-sized ViT of
#: ``recipe("cpu")``, 10 epochs), loaded rather than retrained unless ``TRAIN``.
DEFAULTS = {
    "DATASET": "cifar10-jpeg",
    "EPOCHS": 10,
    "LIMIT": None,
    "BATCH_SIZE": 128,
    "SEED": 1,
    "SIZE": "cpu",
    "RUNS_DIR": "runs/book",
    "TRAIN": False,
}

#: Chapters whose real run differs from :data:`DEFAULTS` (chapter 8 trains the paper's
#: recipe: 100 epochs, batch 128) and their extra parameters.
CHAPTER_DEFAULTS = {
    "08_going_further": {"DATASET": "cifar100", "EPOCHS": 100, "BATCH_SIZE": 128, "SEED": 42,
                         "SIZE": "reference", "RESULTS_DIR": "../results"},
}

#: ``SIZE`` values: the reference configuration (keras.io, 21.8M parameters), the
#: CPU-sized ViT of ``recipe("cpu")`` (the published runs), or a tiny one for the
#: offline build on ``sample``.
SIZES = ("reference", "cpu", "tiny")

#: The tiny configuration: a ViT that trains on the ``sample`` dataset in seconds per
#: epoch on a laptop CPU (32x32 inputs, 4x4 patches, 2 blocks of width 32).
TINY = dict(
    image_size=32, patch_size=4, projection_dim=32, num_layers=2, num_heads=2, key_dim=16,
    mlp_units=(64, 32), head_units=(64,), batch_size=64, attention_dropout=0.0,
    mlp_dropout=0.0, head_dropout=0.1, rotation=0.0, zoom=0.0,
)

#: Key of the output metadata under which :func:`record` stores its values.
RECORD_KEY = "vitsd_record"

#: The four variants the book compares (the ablation of the SPT/LSA paper), in order.
VARIANTS = ("vit", "spt", "lsa", "sl-vit")


# ------------------------------------------------------------------------ setup
def setup(dpi: int = 100) -> None:
    """Prepare the running notebook: ``matplotlib`` figures display as PNG images, and
    TensorFlow's C++ INFO/WARNING lines are hidden (``TF_CPP_MIN_LOG_LEVEL=2`` unless
    already set; it must happen before the backend is imported), including the
    start-up lines it writes before its logging starts (:mod:`vitsd.quiet` imports
    Keras and its backend here, with standard error silenced).

    vitsd's plotting functions return :class:`matplotlib.figure.Figure` objects without
    going through ``pyplot``, so IPython has no image formatter for them until one is
    registered here. Outside IPython this only sets the environment variable.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from vitsd.quiet import import_keras_quietly

    import_keras_quietly()
    shell = _ipython()
    if shell is None:
        return
    from functools import partial

    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Figure, partial(print_figure, fmt="png", base64=True, dpi=dpi))


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the book only
        return None
    return get_ipython()


def _display(obj, **kwargs) -> None:
    from IPython.display import display

    display(obj, **kwargs)


# ----------------------------------------------------------------- displayables
class Table:
    """A small table that displays as HTML in notebooks and as aligned text elsewhere.

    ``rows`` are dicts (keyed by column) or sequences in the order of ``columns``.
    Integers get thousands separators, floats ``digits`` decimals (an int, or a dict
    column -> decimals with 4 for the others), ``None`` a dash, booleans yes/no.
    """

    def __init__(self, rows, columns=None, title: str | None = None, digits=4):
        rows = list(rows)
        if columns is None:
            columns = []
            for row in rows:
                if not isinstance(row, Mapping):
                    raise ValueError("columns are required when rows are not dicts.")
                columns += [c for c in row if c not in columns]
        self.columns = [str(c) for c in columns]
        self.title = title
        self.digits = digits
        self.rows = []
        for i, row in enumerate(rows):
            values = [row.get(c) for c in self.columns] if isinstance(row, Mapping) else list(row)
            if len(values) != len(self.columns):
                raise ValueError(
                    f"row {i} has {len(values)} values but there are {len(self.columns)} columns."
                )
            self.rows.append(values)

    def cell(self, value, column: str | None = None) -> str:
        """The text of one cell (of ``column``, which may set its own decimals)."""
        digits = self.digits
        if isinstance(digits, Mapping):
            digits = digits.get(column, 4)
        if value is None:
            return "–"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, numbers.Integral):
            return f"{int(value):,}"
        if isinstance(value, numbers.Real):
            return f"{float(value):.{digits}f}"
        return str(value)

    def text(self) -> str:
        cells = [[self.cell(v, c) for v, c in zip(row, self.columns)] for row in self.rows]
        widths = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in enumerate(self.columns)]

        def line(values):
            return "  ".join(v.ljust(w) if k == 0 else v.rjust(w)
                             for k, (v, w) in enumerate(zip(values, widths))).rstrip()

        out = [self.title] if self.title else []
        out += [line(self.columns), line(["-" * w for w in widths])]
        out += [line(r) for r in cells]
        return "\n".join(out)

    def html(self) -> str:
        """An HTML table; columns of numbers are right-aligned."""
        numeric = [
            all(isinstance(row[k], numbers.Number) and not isinstance(row[k], bool)
                for row in self.rows if row[k] is not None) and self.rows
            for k in range(len(self.columns))
        ]
        styles = [f"padding:0.2em 0.7em;text-align:{'right' if n else 'left'}" for n in numeric]
        head = "".join(f'<th style="{st}">{html.escape(c)}</th>'
                       for c, st in zip(self.columns, styles))
        body = "".join(
            "<tr>" + "".join(f'<td style="{st}">{html.escape(self.cell(v, c))}</td>'
                             for v, c, st in zip(row, self.columns, styles)) + "</tr>"
            for row in self.rows
        )
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return (f'<table class="vitsd-table">{caption}<thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>")

    def _repr_html_(self):
        return self.html()

    def __repr__(self):
        return self.text()


def table(rows, columns=None, title: str | None = None, digits=4) -> Table:
    """A :class:`Table` of ``rows`` (dicts or sequences): display it as a cell's result."""
    return Table(rows, columns, title=title, digits=digits)


class RunCard:
    """What produced the outputs of a chapter; built by :func:`run_card`."""

    def __init__(self, parameters: dict, environment: dict, runs: list, notes: list):
        self.parameters = parameters
        self.environment = environment
        self.runs = runs
        self.notes = notes

    def as_dict(self) -> dict:
        return {"parameters": self.parameters, "environment": self.environment,
                "runs": self.runs, "notes": self.notes}

    def _items(self):
        p = {k.lower(): v for k, v in self.parameters.items()}
        env = self.environment
        items = []
        if "dataset" in p:
            items.append(("dataset", p["dataset"]))
        for key, label in (("epochs", "epochs"), ("limit", "limit (images per split)"),
                           ("batch_size", "batch size"), ("seed", "seed"),
                           ("size", "model size"), ("runs_dir", "runs folder")):
            if key in p:
                value = p[key]
                if key == "limit" and value is None:
                    value = "none (the whole dataset)"
                items.append((label, value))
        shown = {"dataset", "epochs", "limit", "batch_size", "seed", "size", "runs_dir"}
        items += [(k, v) for k, v in p.items() if k not in shown]
        items += [
            ("backend", f"{env.get('backend')} {env.get('backend_version') or ''}".strip()),
            ("device", env.get("device")),
            ("keras", env.get("keras")),
            ("vitsd", env.get("vitsd")),
            ("python", env.get("python")),
        ]
        return [(k, "–" if v is None else v) for k, v in items]

    def _run_rows(self):
        return [
            {"model": r["model"], "status": r["status"],
             "epochs": f"{r['epochs_completed']}/{r['epochs']}",
             "train seconds": r["train_seconds"],
             "this execution": ("loaded the published run" if r.get("source") == "published"
                                else "reused a finished run" if r["reused"] else "trained"),
             "run": r["run_dir"]}
            for r in self.runs
        ]

    def _repr_html_(self):
        rows = "".join(
            f"<tr><th style='text-align:left;padding:0.1em 0.7em'>{html.escape(str(k))}</th>"
            f"<td style='text-align:left;padding:0.1em 0.7em'>{html.escape(str(v))}</td></tr>"
            for k, v in self._items()
        )
        out = ['<table class="vitsd-run-card"><caption>Run card</caption>'
               f'<tbody>{rows}</tbody></table>']
        if self.runs:
            out.append(Table(self._run_rows(), title="Run records used", digits=1).html())
        out += [f"<p><strong>Note:</strong> {html.escape(n)}</p>" for n in self.notes]
        return "\n".join(out)

    def __repr__(self):
        width = max(len(k) for k, _ in self._items())
        out = ["Run card"] + [f"  {k.ljust(width)}  {v}" for k, v in self._items()]
        if self.runs:
            out += ["", Table(self._run_rows(), title="Run records used", digits=1).text()]
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def _repr_mimebundle_(self, include=None, exclude=None):
        data = {"text/html": self._repr_html_(), "text/plain": repr(self)}
        return data, {RECORD_KEY: {"run_card": _jsonable(self.as_dict())}}


def run_card(runs=None, environment: dict | None = None, defaults: Mapping | None = None,
             **parameters) -> RunCard:
    """The run card of a chapter: its parameters, the software and the device.

    Pass the chapter's parameters as keywords (``run_card(DATASET=DATASET, ...)``) and,
    in the training chapters, ``runs``: the run records used (``{name: record}`` or a
    list), as :func:`train_variant` returns them. ``environment`` defaults to
    :func:`vitsd.train.environment` (imports Keras and the backend). ``defaults``
    overrides entries of :data:`DEFAULTS` for a chapter whose own defaults differ
    (chapter 8: 100 epochs, batch 128).

    The card adds notes when the outputs come from the synthetic ``sample`` dataset and
    when parameters differ from :data:`DEFAULTS` (a reduced run). It is displayed as an
    HTML table, and records itself (parameters, environment, runs) in the output's
    metadata for the book's build and tests.
    """
    if environment is None:
        from vitsd.train import environment as current_environment

        environment = current_environment()
    params = {k: _jsonable(v) for k, v in parameters.items()}
    run_list = [] if runs is None else list(runs.values() if isinstance(runs, Mapping) else runs)
    summaries = [_run_summary(r) for r in run_list]
    chapter_defaults = {**DEFAULTS, **(defaults or {})}
    return RunCard(params, dict(environment), summaries,
                   _notes(params, summaries, chapter_defaults))


def _notes(params: dict, runs: list, defaults: Mapping = DEFAULTS) -> list:
    notes = []
    upper = {k.upper(): v for k, v in params.items()}
    datasets = {str(upper["DATASET"])} if "DATASET" in upper else set()
    datasets |= {r["dataset"].split(" ")[0] for r in runs}
    if "sample" in datasets:
        notes.append(
            "These outputs come from the built-in synthetic 'sample' dataset (10 classes "
            "of coloured shapes, generated offline), not from real photographs. They show "
            "what the code does; they say nothing about how well a ViT does on photos."
        )
    reduced = [k for k in defaults if k in upper and _smaller(k, upper[k], defaults[k])]
    if reduced:
        now = ", ".join(f"{k}={upper[k]!r}" for k in reduced)
        default = ", ".join(f"{k}={defaults[k]!r}" for k in reduced)
        notes.append(
            f"Reduced run: {now} instead of the defaults ({default}). Run the notebook "
            "with its default parameters for the full experiment."
        )
    return notes


def _smaller(name: str, value, default) -> bool:
    """Whether parameter ``name`` at ``value`` makes a smaller run than ``default``."""
    if value == default:
        return False
    if name == "EPOCHS":
        return isinstance(value, int) and isinstance(default, int) and value < default
    if name == "LIMIT":
        return value is not None and (default is None or value < default)
    if name == "SIZE":
        return value == "tiny"
    if name == "DATASET":
        return value == "sample"
    if name == "BATCH_SIZE":
        return isinstance(value, int) and isinstance(default, int) and value < default
    return False


def _run_summary(record: Mapping) -> dict:
    book = record.get("book", {})
    ds = record.get("dataset", {})
    limit = ds.get("limit")
    return {
        "model": record.get("model"),
        "run_dir": book.get("run_dir") or book.get("name"),
        "source": book.get("source", "trained"),
        "reused": bool(book.get("reused")),
        "status": record.get("status"),
        "epochs_completed": record.get("epochs_completed"),
        "epochs": (record.get("config") or {}).get("epochs"),
        "dataset": f"{ds.get('name')} ({'all' if limit is None else f'limit {limit}'})",
        "train_seconds": (record.get("timing") or {}).get("train_seconds"),
    }


# ----------------------------------------------------------------------- source
class Source:
    """Syntax-highlighted source of a Python object, with where it comes from."""

    def __init__(self, code: str, location: str, language: str = "python"):
        from IPython.display import Code

        self.code = code
        self.location = location
        self._display = Code(code, language=language)

    def _repr_html_(self):
        return (f'<p class="vitsd-source"><code>{html.escape(self.location)}</code></p>'
                + self._display._repr_html_())

    def _repr_latex_(self):
        return self._display._repr_latex_()

    def __repr__(self):
        return f"# {self.location}\n{self.code}"


def show_source(obj) -> Source:
    """The real source of a vitsd class, function or method (:func:`inspect.getsource`),
    syntax-highlighted, headed by its file and line numbers (``vitsd/spt.py, lines
    58-124``). Display it as a cell's result."""
    try:
        lines, start = inspect.getsourcelines(obj)
        path = Path(inspect.getsourcefile(obj)).resolve()
    except (TypeError, OSError) as err:
        raise ValueError(f"no source available for {obj!r}: {err}") from None
    package_root = Path(__file__).resolve().parent.parent
    try:
        shown = path.relative_to(package_root).as_posix()
    except ValueError:
        shown = path.name
    end = start + len(lines) - 1
    return Source("".join(lines), f"{shown}, lines {start}-{end}")


# -------------------------------------------------------------------------- runs
def variant_switches(name: str) -> tuple:
    """``(spt, lsa)`` booleans of one of the :data:`VARIANTS`: whether the model uses
    shifted patch tokenization and locality self-attention."""
    from vitsd.config import model_switches

    if name not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {name!r}.")
    tokenizer, lsa = model_switches(name)
    return tokenizer == "spt", bool(lsa)


def config_for(size: str, **overrides):
    """The :class:`~vitsd.config.Config` for ``SIZE``: ``"reference"`` (the keras.io
    configuration, 21.8M parameters), ``"cpu"`` (``recipe("cpu")``, the published
    runs) or ``"tiny"`` (:data:`TINY`)."""
    from vitsd.config import Config, recipe

    if size not in SIZES:
        raise ValueError(f"SIZE must be one of {SIZES}, got {size!r}.")
    base = {"reference": Config, "tiny": lambda: Config(**TINY),
            "cpu": lambda: recipe("cpu")}[size]()
    return base.replace(**overrides) if overrides else base


#: Chapter 8 at ``SIZE == "tiny"``: the paper recipe with a CPU-sized model.
PAPER_TINY = dict(projection_dim=32, num_layers=2, num_heads=2, key_dim=16, mlp_units=(64, 32))


def paper_config(size: str, **overrides):
    """The paper recipe (:func:`vitsd.config.recipe`) for ``SIZE`` (chapter 8):
    ``"reference"`` is the recipe at full size, ``"tiny"`` shrinks the model to
    :data:`PAPER_TINY` and keeps everything else."""
    from vitsd.config import recipe

    if size not in SIZES:
        raise ValueError(f"SIZE must be one of {SIZES}, got {size!r}.")
    base = recipe("paper") if size == "reference" else recipe("paper", **PAPER_TINY)
    # SIZE="cpu" runs the tiny paper model too: the full one trains at ~63 img/s here.
    return base.replace(**overrides) if overrides else base


def run_folder(runs_dir, model: str, *, dataset, size: str, epochs: int, limit=None,
               batch_size: int | None = None, seed: int = 42, config=None) -> Path:
    """The folder of one run:
    ``<runs_dir>/<dataset>-<size>-e<epochs>-<limit>-b<batch>-s<seed>-c<config>/<model>``.

    Every parameter that changes the run is in the name -- ``c<config>`` is a short
    fingerprint of the configuration of ``size`` (or of ``config``, when given), so that
    a changed default makes a new run instead of a clash with the old one -- and
    chapters 6 and 7 find each other's runs.
    """
    import hashlib

    from vitsd.config import model_switches

    model_switches(model)  # validates the name
    if config is None:
        if size not in SIZES:
            raise ValueError(f"SIZE must be one of {SIZES}, got {size!r}.")
        config = config_for(size)
    name = Path(os.fspath(dataset)).name or "dataset"
    slug = re.sub(r"[^A-Za-z0-9_.]+", "_", name).strip("_") or "dataset"
    batch = config.batch_size if batch_size is None else batch_size
    fingerprint = hashlib.sha256(
        json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
    part = (f"{slug}-{size}-e{epochs}-{'all' if limit is None else limit}-b{batch}-s{seed}"
            f"-c{fingerprint}")
    return Path(runs_dir) / part / model


def train_variant(model: str, *, dataset, size: str, epochs: int, limit=None,
                  batch_size: int | None = None, seed: int = 42, runs_dir="runs/book",
                  verbose="auto", data=None) -> dict:
    """Train one model variant with the chapter's parameters -- or return its finished
    run, when :func:`run_folder` already holds it -- and return its run record.

    The record is :func:`vitsd.train.train`'s, plus a ``"book"`` entry (not saved):
    ``run_dir`` and ``reused`` (whether a finished run was returned without training).
    """
    from vitsd.train import RECORD, train

    folder = run_folder(runs_dir, model, dataset=dataset, size=size, epochs=epochs,
                        limit=limit, batch_size=batch_size, seed=seed)
    reused = False
    if (folder / RECORD).is_file():
        try:
            reused = json.loads((folder / RECORD).read_text()).get("status") == "complete"
        except (OSError, json.JSONDecodeError):
            reused = False
    record = train(model, dataset=dataset, out=folder, epochs=epochs, limit=limit,
                   batch_size=batch_size, seed=seed, config=config_for(size),
                   verbose=verbose, data=data)
    return {**record, "book": {"run_dir": folder.as_posix(), "reused": reused}}


def load_data(dataset, limit=None, seed: int = 42):
    """``vitsd.load_dataset(dataset, limit, seed)``, except that the CIFAR-10 JPEG
    archive, where it is absent (Colab, a fresh machine), is replaced by CIFAR-10 from
    ``keras.datasets`` (downloaded; its test split as hold-out), with a printed note."""
    from vitsd.data import DatasetError, load_dataset

    try:
        return load_dataset(dataset, limit=limit, seed=seed)
    except DatasetError:
        if str(dataset) != "cifar10-jpeg":
            raise
        print("The CIFAR-10 JPEG archive is not on this machine: using CIFAR-10 from "
              "keras.datasets instead (its official test split as the hold-out).")
        return load_dataset("cifar10", limit=limit, seed=seed)


def example_index(data, prefer=("horse", "deer", "dog", "cat")) -> int:
    """The index of the training image the chapters use as their running example: the
    first image of the first class in ``prefer`` that the dataset has, else image 0."""
    import numpy as np

    for name in prefer:
        if name in data.class_names:
            return int(np.flatnonzero(data.y_train == data.class_names.index(name))[0])
    return 0


def published_name(model: str, size: str, seed: int) -> str:
    """The name under which :mod:`vitsd.published` keeps the run of ``model`` at
    ``SIZE`` and ``SEED``, e.g. ``"cpu-sl-vit-s1"`` (``tools/campaign.py`` names)."""
    return f"{size}-{model}-s{seed}"


def published_seeds(model: str, *, dataset, size: str, manifest_path=None) -> list:
    """The seeds of ``model`` published for ``DATASET`` and ``SIZE``, sorted."""
    from vitsd.published import published_runs

    prefix = f"{size}-{model}-s"
    return sorted(int(name[len(prefix):]) for name in published_runs(str(dataset), manifest_path)
                  if name.startswith(prefix) and name[len(prefix):].isdigit())


def variant_runs(model: str, *, dataset, size: str, epochs: int, limit=None,
                 batch_size: int | None = None, seed: int = 42, runs_dir="runs/book",
                 train: bool = False, verbose="auto", data=None) -> list:
    """The run records of one variant for chapters 6-8: **load, else train**.

    Unless ``train`` is true, the runs published for ``dataset`` and ``size`` (every
    seed, see :mod:`vitsd.published`) are loaded; with ``train``, or when none is
    published, one run is trained (or resumed) with :func:`train_variant`. Each record
    gets a ``"book"`` entry: ``source`` (``"published"`` or ``"trained"``), ``name``,
    and for trained runs ``run_dir`` and ``reused``.
    """
    from vitsd.published import load_record

    seeds = [] if train or limit is not None else published_seeds(
        model, dataset=dataset, size=size)
    if seeds:
        runs = []
        for s in seeds:
            name = published_name(model, size, s)
            record = load_record(name, str(dataset))
            runs.append({**record, "book": {"source": "published", "name": name,
                                            "reused": True}})
        return runs
    record = train_variant(model, dataset=dataset, size=size, epochs=epochs, limit=limit,
                           batch_size=batch_size, seed=seed, runs_dir=runs_dir,
                           verbose=verbose, data=data)
    record["book"].update(source="trained", name=f"{model} (trained here)")
    return [record]


def variant_model(record: Mapping):
    """The trained Keras model behind a record from :func:`variant_runs`: the published
    weights, or the run folder's ``model.keras``."""
    book_info = record.get("book") or {}
    if book_info.get("source") == "published":
        from vitsd.published import load_model

        return load_model(book_info["name"], record["dataset"]["name"])[0]
    from vitsd.model import load_model

    return load_model(Path(book_info["run_dir"]) / "model.keras")


def seed_summary(runs: Mapping) -> list:
    """Rows of chapter 6's results table: one per variant (``runs``: ``{model: [record,
    ...]}``), the hold-out top-1 and top-5 of each seed, their mean and spread (half the
    range between the best and the worst seed), parameters and training minutes."""
    order = {m: i for i, m in enumerate(VARIANTS)}
    rows = []
    for model in sorted(runs, key=lambda m: order.get(m, len(order))):
        records = runs[model]
        top1 = [r["test"]["top1"] for r in records]
        top5 = [r["test"]["top5"] for r in records]
        minutes = [(r.get("timing") or {}).get("train_seconds", 0.0) / 60 for r in records]
        rows.append({
            "model": model,
            "seeds": ", ".join(str(r["config"]["seed"]) for r in records),
            "top-1 per seed": " / ".join(f"{100 * v:.2f}" for v in top1),
            "top-1 mean": 100 * sum(top1) / len(top1),
            "± spread": 100 * (max(top1) - min(top1)) / 2,
            "top-5 mean": 100 * sum(top5) / len(top5),
            "parameters": (records[0].get("parameters") or {}).get("total"),
            "train minutes": sum(minutes) / len(minutes),
            "test images": (records[0].get("splits") or {}).get("test"),
        })
    return rows


#: Short phrases for the kinds of :func:`gap_verdict`, for prose.
VERDICT_PHRASES = {
    "single seed": "from one seed each, so it supports no conclusion",
    "within spread": "within the seed-to-seed spread",
    "suggestive": "beyond the seed-to-seed spread but within twice the hold-out's "
                  "sampling error: suggestive, not established",
    "established": "beyond both the seed-to-seed spread and twice the hold-out's "
                   "sampling error",
}


def gap_verdict(rows: list, better: str, worse: str) -> dict:
    """What two rows of :func:`seed_summary` allow to conclude: ``gap`` (points of
    hold-out top-1, ``better`` minus ``worse``), ``noise`` (the two spreads added),
    ``sampling`` (the hold-out's standard error of a difference of two accuracies, in
    points; 0 when the test size is unknown), ``seeds`` and ``kind``: ``"single
    seed"`` (either has one seed), ``"within spread"`` (``|gap| <= noise``),
    ``"suggestive"`` (``|gap| <= 2 sampling``) or ``"established"``."""
    by_model = {r["model"]: r for r in rows}
    a, b = by_model[better], by_model[worse]
    gap = a["top-1 mean"] - b["top-1 mean"]
    noise = a["± spread"] + b["± spread"]
    n = a.get("test images") or b.get("test images")
    sampling = 0.0
    if n:
        pa, pb = a["top-1 mean"] / 100, b["top-1 mean"] / 100
        sampling = 100 * math.sqrt((pa * (1 - pa) + pb * (1 - pb)) / n)
    seeds = len(a["seeds"].split(", "))
    if min(seeds, len(b["seeds"].split(", "))) < 2:
        kind = "single seed"
    elif abs(gap) <= noise:
        kind = "within spread"
    elif abs(gap) <= 2 * sampling:
        kind = "suggestive"
    else:
        kind = "established"
    return {"gap": gap, "noise": noise, "sampling": sampling, "seeds": seeds, "kind": kind}


def compare(rows: list, better: str, worse: str) -> str:
    """One sentence that compares two rows of :func:`seed_summary`, drawing only the
    conclusion the seeds allow (:func:`gap_verdict`): a gap smaller than the two spreads
    together is called within the seed-to-seed spread."""
    v = gap_verdict(rows, better, worse)
    gap, noise, sampling, seeds = v["gap"], v["noise"], v["sampling"], v["seeds"]
    if v["kind"] == "single seed":
        return (f"{better} vs {worse}: {gap:+.2f} points of hold-out top-1 from one seed "
                "each: how much a seed alone moves the result is unknown, so these runs "
                "support no conclusion about the two.")
    verdict = {
        "within spread": "within the seed-to-seed spread, so these runs do not separate "
                         "the two",
        "suggestive": ("larger than the seed-to-seed spread but within twice the "
                       f"hold-out's sampling error of a difference ({sampling:.2f} "
                       "points): suggestive, not established"),
        "established": ("larger than the seed-to-seed spread and than twice the "
                        f"hold-out's sampling error of a difference ({sampling:.2f} "
                        "points)"),
    }[v["kind"]]
    return (f"{better} vs {worse}: {gap:+.2f} points of hold-out top-1 (means over "
            f"{seeds} seed{'s' if seeds != 1 else ''}); the spreads add up to {noise:.2f} "
            f"points, so the gap is {verdict}.")


def by_training_size(records, models=("vit", "sl-vit")) -> dict:
    """Chapter 6's dataset-size runs grouped as ``{training images: {model: [record,
    ...]}}``, smallest training set first; only ``models`` are kept."""
    groups = {}
    for record in records:
        if record.get("model") in models:
            size = int(record["splits"]["train"])
            groups.setdefault(size, {}).setdefault(record["model"], []).append(record)
    return {size: {m: groups[size][m] for m in models if m in groups[size]}
            for size in sorted(groups)}


def dataset_size_rows(groups: Mapping, better: str = "sl-vit", worse: str = "vit") -> list:
    """Rows of chapter 6's dataset-size table from :func:`by_training_size`: per training
    set, its size and share of the largest, the epochs, the validation images (which
    pick each run's kept epoch), each model's hold-out top-1
    mean and spread over its seeds (as :func:`seed_summary`), the gap between the
    means of ``better`` and ``worse``, and -- where the records hold their history --
    each model's *train - val*: training minus validation accuracy at the last epoch,
    in points, averaged over the seeds (how far the model fits images it trains on
    better than new ones; the training accuracy is measured on augmented images)."""
    largest = max(groups)
    rows = []
    for size, runs in groups.items():
        summary = {r["model"]: r for r in seed_summary(runs)}
        records = [r for rs in runs.values() for r in rs]
        epochs = sorted({r["config"]["epochs"] for r in records})
        row = {"training images": size, "share": size / largest,
               "epochs": ", ".join(str(e) for e in epochs),
               "validation images": (records[0].get("splits") or {}).get("validation")}
        for model in (worse, better):
            if model in summary:
                row[f"{model} mean"] = summary[model]["top-1 mean"]
                row[f"{model} ± spread"] = summary[model]["± spread"]
                row[f"{model} seeds"] = len(runs[model])
                histories = [r.get("history") or {} for r in runs[model]]
                if all(h.get("accuracy") and h.get("val_accuracy") for h in histories):
                    row[f"{model} train - val"] = 100 * sum(
                        h["accuracy"][-1] - h["val_accuracy"][-1] for h in histories
                    ) / len(histories)
        if worse in summary and better in summary:
            row["gap"] = summary[better]["top-1 mean"] - summary[worse]["top-1 mean"]
        rows.append(row)
    return rows


def results_rows(records) -> list:
    """One row per run record (``{name: record}`` or a list): the results table of
    chapter 6 -- parameters, epochs, best epoch, best validation and test accuracies,
    training time. Rows follow the order vit, spt, lsa, sl-vit."""
    items = list(records.items()) if isinstance(records, Mapping) else [
        (r.get("model"), r) for r in records
    ]
    order = {m: i for i, m in enumerate(VARIANTS)}
    items.sort(key=lambda kv: order.get(kv[0], len(order)))
    rows = []
    for name, rec in items:
        history = rec.get("history") or {}
        val = history.get("val_accuracy") or []
        test = rec.get("test") or {}
        rows.append({
            "model": name,
            "parameters": (rec.get("parameters") or {}).get("total"),
            "epochs": rec.get("epochs_completed"),
            "best epoch": rec.get("best_epoch"),
            "best val top-1": max(val) if val else None,
            "test top-1": test.get("top1"),
            "test top-5": test.get("top5"),
            "train seconds": (rec.get("timing") or {}).get("train_seconds"),
        })
    return rows


def pick_examples(predicted, actual, per_kind: int = 4) -> tuple:
    """Indices of up to ``per_kind`` images a model gets right and up to ``per_kind`` it
    gets wrong (chapter 7), each from a different class where possible, in class order:
    ``(right, wrong)``, deterministic."""
    import numpy as np

    predicted, actual = np.asarray(predicted), np.asarray(actual)
    if predicted.shape != actual.shape:
        raise ValueError(f"predicted and actual must have the same shape, got "
                         f"{predicted.shape} and {actual.shape}.")
    chosen = {True: [], False: []}
    for correct in (True, False):
        hits = np.flatnonzero((predicted == actual) == correct)
        seen = set()
        for i in hits:  # first pass: one image per class
            if len(chosen[correct]) < per_kind and int(actual[i]) not in seen:
                seen.add(int(actual[i]))
                chosen[correct].append(int(i))
        for i in hits:  # then fill up from any class
            if len(chosen[correct]) < per_kind and int(i) not in chosen[correct]:
                chosen[correct].append(int(i))
    return np.array(sorted(chosen[True]), int), np.array(sorted(chosen[False]), int)


def prediction_titles(predicted, actual, class_names) -> list:
    """Captions for predictions (chapter 7): ``"✓ cat"`` when right, ``"✗ dog (is cat)"``
    when wrong -- the marks :func:`vitsd.plots.plot_attention_overlay` colours."""
    predicted, actual = list(predicted), list(actual)
    if len(predicted) != len(actual):
        raise ValueError(
            f"predicted and actual must have the same length, got {len(predicted)} and "
            f"{len(actual)}."
        )
    titles = []
    for p, a in zip(predicted, actual):
        p, a = int(p), int(a)
        if p == a:
            titles.append(f"✓ {class_names[a]}")
        else:
            titles.append(f"✗ {class_names[p]} (is {class_names[a]})")
    return titles


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


# ----------------------------------------------------------------------- records
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


def _jsonable(value):
    """``value`` with NumPy/tensor scalars and arrays, tuples and paths made JSON-ready."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return _jsonable(value.tolist())
    try:
        import numpy as np

        return _jsonable(np.asarray(value).tolist())
    except Exception:  # noqa: BLE001 - fall back to the text of the object
        return str(value)
