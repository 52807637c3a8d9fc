"""What a chapter displays (every chapter): :func:`setup` (figures as PNG images,
TensorFlow's C++ log quiet), :class:`Table` (:func:`table`), :class:`RunCard`
(:func:`run_card`: what produced the outputs below it) and :class:`Source`
(:func:`show_source`: the real source of a vitsd object, so the chapters show the
package's code instead of pasting a copy of it).

Imports neither Keras nor a backend at import time.
"""

from __future__ import annotations

import html
import inspect
import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path

from vitsd.book.runs import DEFAULTS


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

    from matplotlib.figure import Figure

    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Figure, partial(figure_png, dpi=dpi, base64=True))


def smallest_font_points(fig) -> float | None:
    """The size, in points, of the smallest visible non-empty text in ``fig``."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()
             and (t.axes is None or t.axes.get_visible())]
    return float(min(sizes)) if sizes else None


def figure_png(fig, dpi: int = 100, base64: bool = False):
    """``fig`` as a PNG (tight bounding box, as IPython draws figures), carrying its
    smallest font size in points and its dpi as PNG text chunks (``vitsd:min_font_pt``,
    ``vitsd:dpi``): ``tools/browser_check.py`` turns them into the CSS pixels the text
    takes on the rendered page. Returns bytes, or base64 text for IPython."""
    import base64 as b64
    import io

    fig.draw_without_rendering()  # tick labels get their text only when drawn
    smallest = smallest_font_points(fig)
    metadata = {"vitsd:dpi": str(dpi)}
    if smallest is not None:
        metadata["vitsd:min_font_pt"] = f"{smallest:g}"
    buffer = io.BytesIO()
    fig.canvas.print_figure(buffer, format="png", dpi=dpi, bbox_inches="tight",
                            facecolor="white", metadata=metadata)
    data = buffer.getvalue()
    return b64.b64encode(data).decode("ascii") if base64 else data


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
        # Four short columns fit a phone; the run's folder (or published name) may
        # break anywhere (book/_static/vitsd.css). Training time is in the records,
        # not here: on a shared machine it says more about the machine than the run.
        return [
            {"model": r["model"],
             "epochs": f"{r['epochs_completed']}/{r['epochs']}"
                       + ("" if r["status"] == "complete" else f" ({r['status']})"),
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
            runs = Table(self._run_rows(), title="Run records used", digits=1).html()
            out.append(f'<div class="vitsd-run-records">{runs}</div>')
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
    :func:`vitsd.training.runner.environment` (imports Keras and the backend). ``defaults``
    overrides entries of :data:`DEFAULTS` for a chapter whose own defaults differ
    (chapter 8: 100 epochs, batch 128).

    The card adds notes when the outputs come from the synthetic ``sample`` dataset and
    when parameters differ from :data:`DEFAULTS` (a reduced run). It is displayed as an
    HTML table, and records itself (parameters, environment, runs) in the output's
    metadata for the book's build and tests.
    """
    if environment is None:
        from vitsd.training.records import environment as current_environment

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
    """Syntax-highlighted source of a Python object, with where it comes from (and, when
    ``url`` is given, a link to the whole file at the book's release)."""

    def __init__(self, code: str, location: str, language: str = "python", url=None):
        from IPython.display import Code

        self.code = code
        self.location = location
        self.url = url
        self._display = Code(code, language=language)

    def _repr_html_(self):
        where = f"<code>{html.escape(self.location)}</code>"
        if self.url:
            where = f'<a href="{html.escape(self.url)}">{where}</a>'
        return f'<p class="vitsd-source">{where}</p>' + self._display._repr_html_()

    def _repr_latex_(self):
        return self._display._repr_latex_()

    def __repr__(self):
        return f"# {self.location}\n{self.code}"


#: The repository whose files the source displays link to, at the release's tag.
SOURCE_URL = "https://github.com/vitsd/vitsd/blob/{tag}/{path}#L{start}-L{end}"


def _lines(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def show_source(obj, docstring: bool = True, statement: str | None = None) -> Source:
    """The real source of a vitsd class, function or method (:func:`inspect.getsource`),
    syntax-highlighted, headed by its file and line numbers (``vitsd/layers/spt.py, lines
    58-124``), linked to that file at the release. Display it as a cell's result.

    Show a method (``show_source(LocalitySelfAttention.call)``) rather than a whole
    class to show the lines that matter; ``docstring=False`` leaves out the object's
    docstring (the prose around the display says it), keeping the line numbers true.
    ``statement`` shows only the first statement inside ``obj`` whose code starts with
    that text (``show_source(train, statement="net.fit(")``: the call, not the set-up
    around it).
    """
    try:
        lines, start = inspect.getsourcelines(obj)
        path = Path(inspect.getsourcefile(obj)).resolve()
    except (TypeError, OSError) as err:
        raise ValueError(f"no source available for {obj!r}: {err}") from None
    if statement is not None:
        lines, start = _statement_lines(lines, start, statement, obj)
        docstring = True  # a statement has none
    package_root = Path(__file__).resolve().parents[2]  # the folder that holds vitsd/
    try:
        shown = path.relative_to(package_root).as_posix()
    except ValueError:
        shown = path.name
    end = start + len(lines) - 1
    code = "".join(lines)
    location = f"{shown}, {_lines(start, end)}"
    if not docstring:
        code, removed = _without_docstring(lines)
        if removed:
            location += f" (docstring, {_lines(removed[0] + start, removed[1] + start)}, left out)"
    from vitsd import __version__

    url = SOURCE_URL.format(tag=f"v{__version__}", path=shown, start=start, end=end)
    return Source(code, location, url=url)


def _statement_lines(lines, start: int, text: str, obj) -> tuple:
    """The lines of the first statement (in source order) of ``lines`` whose source starts
    with ``text``, dedented as a block, and its first line number."""
    import ast
    import textwrap

    tree = ast.parse(textwrap.dedent("".join(lines)))
    found = sorted((node for node in ast.walk(tree) if isinstance(node, ast.stmt)),
                   key=lambda node: (node.lineno, node.col_offset))
    for node in found:
        first = lines[node.lineno - 1]
        if first.lstrip().startswith(text):
            chosen = lines[node.lineno - 1:node.end_lineno]
            return textwrap.dedent("".join(chosen)).splitlines(True), start + node.lineno - 1
    raise ValueError(f"no statement starting with {text!r} in the source of {obj!r}: pass "
                     "the first characters of one of its lines, e.g. 'net.fit('.")


def _without_docstring(lines):
    """``lines`` (a def or class) without its docstring: ``(code, (first, last))`` with
    the 0-based offsets of the removed lines, or ``(code, None)`` when it has none."""
    import ast
    import textwrap

    source = "".join(lines)
    tree = ast.parse(textwrap.dedent(source))
    node = tree.body[0]
    body = getattr(node, "body", [])
    if not (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)):
        return source, None
    first, last = body[0].lineno - 1, body[0].end_lineno - 1
    kept = lines[:first] + lines[last + 1:]
    return "".join(kept), (first, last)


#: Key of the output metadata under which :func:`record` stores its values.
RECORD_KEY = "vitsd_record"


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
