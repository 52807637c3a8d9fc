#!/usr/bin/env python
"""Build the vitsd book: execute every chapter with papermill, clean it, render HTML.

One command::

    python tools/build_book.py

executes the chapters of ``book/`` IN PLACE with the parameters of the offline build
(the synthetic ``sample`` dataset, the tiny model, a few epochs; the defaults below),
so that ``book/*.ipynb`` hold the outputs of one recorded execution, then renders the
book with ``jupyter-book build . -W`` into ``_build/html``.

For every chapter it

1. refuses to overwrite a notebook whose recorded run was bigger (another dataset
   than ``sample``, more epochs, more images, the reference model) unless ``--force``;
2. executes it with papermill in its own folder (the kernel's working directory),
   passing the parameters its ``parameters`` cell declares (``RUNS_DIR`` relative to
   that folder), with TensorFlow's C++ log silenced;
3. cleans it: papermill's timing metadata goes, TensorFlow/absl noise is stripped from
   stderr outputs (anything else on stderr is kept and reported), and the injected
   parameters cell becomes a hidden cell that applies the recorded parameters only when
   ``VITSD_BOOK_REPLAY`` is set -- as ``book/conftest.py`` does for
   ``pytest --nbval-lax book/`` -- so that a reader who opens the notebook (Colab,
   Jupyter) runs the defaults: the real experiment;
4. records in ``metadata.vitsd.run`` the command, the parameters and the environment
   (versions, backend, device: the chapter's run card) that produced it.

Options: ``--chapters 1 6`` (numbers or names), ``--force``, ``--no-html``, ``--out DIR``
(execute into DIR instead of ``book/``; the HTML is only built for ``book/``), and the
run parameters ``--dataset --epochs --limit --batch-size --seed --size --runs-dir``.
A GPU machine runs, for instance::

    python tools/build_book.py --dataset cifar100 --size reference --epochs 10 \\
        --limit 10000 --out book_gpu --no-html

Check the committed outputs with ``pytest --nbval-lax book/ -p no:cacheprovider``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"

#: The offline build: what the committed notebooks are executed with.
OFFLINE = {
    "DATASET": "sample",
    "EPOCHS": 6,
    "LIMIT": 1500,
    "BATCH_SIZE": 64,
    "SEED": 42,
    "SIZE": "tiny",
    "TRAIN": False,
}

#: The committed build (``--real``): CIFAR-100 and the CPU-sized ViT whose
#: runs are published under results/ (chapters 6 and 7 load them: TRAIN stays False).
#: These are the chapters' own defaults (vitsd.book.DEFAULTS), less the runs folder.
def _real() -> dict:
    sys.path.insert(0, str(ROOT))
    from vitsd.book import DEFAULTS

    return {k: v for k, v in DEFAULTS.items() if k != "RUNS_DIR"}


REAL = _real()
def _real_chapters() -> dict:
    from vitsd.book import CHAPTER_DEFAULTS, CPU_DEMOS

    return {stem: {**demo, "SEED": CHAPTER_DEFAULTS.get(stem, {}).get("SEED", REAL["SEED"])}
            for stem, demo in CPU_DEMOS.items()}


#: Per-chapter changes to :data:`REAL`: chapter 8 trains its paper-recipe demo run in
#: the notebook (nothing of it is published), so it stays short enough to re-execute:
#: the demonstration a reader without a GPU gets from the defaults
#: (``vitsd.book.CPU_DEMOS``: 2 epochs on 5,000 images, the recipe's model shrunk to
#: SIZE "tiny"; the run card and the chapter's prose say so), with the chapter's seed.
REAL_CHAPTERS = _real_chapters()

#: Environment of the executing kernels: no TensorFlow C++ INFO/WARNING lines, no
#: oneDNN banner (both are printed to stderr on import otherwise).
KERNEL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}

#: Environment variable under which the injected parameters apply on re-execution.
REPLAY_VARIABLE = "VITSD_BOOK_REPLAY"

#: stderr lines that are TensorFlow/absl/XLA start-up noise.
NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"  # glog INFO/WARNING lines
    r"|To enable the following instructions: .* in other operations, rebuild TensorFlow"
    r"|.*oneDNN custom operations are on"
    r"|.*cuda_(dnn|fft|blas)\.cc:\d+\] Unable to register"
    r"|.*computation placer already registered"
    r"|.*TF-TRT Warning: Could not find TensorRT"
    r"|.*This TensorFlow binary is optimized to use available CPU instructions"
    r"|.*Unable to register cu(DNN|FFT|BLAS) factory"
    r"|\s*$)"
)


class BuildError(RuntimeError):
    pass


# ------------------------------------------------------------------- chapters
def chapters(selection=None) -> list[Path]:
    """The chapter notebooks of ``book/`` in order, or those named in ``selection``
    (chapter numbers like ``6`` or ``06``, or names like ``06_training``)."""
    found = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
    if not selection:
        return found
    chosen = []
    for item in selection:
        item = str(item).removesuffix(".ipynb")
        match = [p for p in found
                 if (item.isdigit() and int(p.name[:2]) == int(item)) or p.stem == item]
        if not match:
            names = ", ".join(p.stem for p in found)
            raise BuildError(f"no chapter {item!r}; chapters are: {names}")
        chosen += [p for p in match if p not in chosen]
    return sorted(chosen)


def declared_parameters(notebook: Path) -> dict:
    """The parameters a notebook's ``parameters`` cell declares, with their defaults."""
    import papermill

    found = papermill.inspect_notebook(str(notebook))
    return {name: info["default"] for name, info in found.items()}


def chapter_parameters(notebook: Path, params: dict, out_dir: Path, runs_dir: Path) -> dict:
    """The values passed to one chapter: ``params`` restricted to what it declares,
    ``RUNS_DIR`` relative to the folder it executes in."""
    declared = declared_parameters(notebook)
    chosen = {k: v for k, v in params.items() if k in declared}
    if "RUNS_DIR" in declared:
        chosen["RUNS_DIR"] = os.path.relpath(runs_dir, out_dir)
    return chosen


# ------------------------------------------------------------------ refusal
def _images(limit):
    return float("inf") if limit is None else limit


def bigger_reasons(old: dict, new: dict) -> list[str]:
    """Why the run recorded as ``old`` (a notebook's ``metadata.vitsd.run.parameters``)
    is bigger than the ``new`` one, i.e. worth more than what would replace it."""
    reasons = []
    old_ds, new_ds = old.get("DATASET"), new.get("DATASET")
    if old_ds is not None and old_ds != "sample" and old_ds != new_ds:
        reasons.append(f"it was executed on DATASET={old_ds!r}, this build uses {new_ds!r}")
    if "EPOCHS" in old and "EPOCHS" in new and old["EPOCHS"] > new["EPOCHS"]:
        reasons.append(f"it ran EPOCHS={old['EPOCHS']}, this build {new['EPOCHS']}")
    if "LIMIT" in old and "LIMIT" in new and _images(old["LIMIT"]) > _images(new["LIMIT"]):
        reasons.append(f"it used LIMIT={old['LIMIT']}, this build {new['LIMIT']}")
    if old.get("SIZE") == "reference" and new.get("SIZE") == "tiny":
        reasons.append("it trained the reference model, this build the tiny one")
    return reasons


def recorded_run(notebook: Path) -> dict | None:
    if not notebook.is_file():
        return None
    with open(notebook, encoding="utf-8") as f:
        meta = json.load(f).get("metadata", {})
    return (meta.get("vitsd") or {}).get("run")


def refusals(targets: dict, params: dict) -> list[str]:
    """Messages for the targets (``{target path: parameters}``) that hold a bigger run."""
    out = []
    for target, new in targets.items():
        run = recorded_run(target)
        if not run:
            continue
        reasons = bigger_reasons(run.get("parameters", {}), new)
        if reasons:
            out.append(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: "
                       + "; ".join(reasons))
    return out


# ------------------------------------------------------------------- cleaning
def strip_noise(text: str) -> tuple[str, list[str]]:
    """``text`` without TensorFlow noise lines, and the noise lines removed."""
    kept, removed = [], []
    for line in text.splitlines(keepends=True):
        (removed if NOISE.match(line.rstrip("\n")) else kept).append(line)
    return "".join(kept), [line.rstrip("\n") for line in removed if line.strip()]


def replay_cell_source(params: dict, command: str) -> str:
    """The hidden cell that replaces papermill's injected parameters."""
    lines = [
        "# Parameters of the recorded execution of this notebook, injected by",
        f"#     {command}",
        f"# They replace the defaults above only where {REPLAY_VARIABLE} is set -- as",
        "# book/conftest.py does for `pytest --nbval-lax book/`, to check the recorded",
        "# outputs. Opened anywhere else (Colab, Jupyter), the notebook runs its defaults.",
        "import os",
        "",
        f'if os.environ.get("{REPLAY_VARIABLE}"):',
    ]
    lines += [f"    {name} = {value!r}" for name, value in params.items()]
    return "\n".join(lines)


def clean(nb, params: dict, command: str, seconds: float) -> list[str]:
    """Clean an executed notebook in place; returns the stderr text that was kept."""
    from vitsd.book import read_records

    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    kept_stderr = []
    for cell in nb.cells:
        for key in ("execution", "papermill", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
        if "tags" in cell.metadata and not cell.metadata["tags"]:
            del cell.metadata["tags"]
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                text, _ = strip_noise(output.text)
                if not text.strip():
                    continue
                output.text = text
                kept_stderr.append(text)
            if (output.output_type == "stream" and outputs
                    and outputs[-1].output_type == "stream" and outputs[-1].name == output.name):
                outputs[-1].text += output.text  # one block per stream, as Jupyter shows it
                continue
            outputs.append(output)
        cell.outputs = outputs
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = replay_cell_source(params, command)
            cell.metadata["tags"] = ["injected-parameters", "remove-cell"]
            cell.id = "injected-parameters"
            cell.outputs = []
    card = read_records(nb).get("run_card", {})
    nb.metadata["vitsd"] = {
        "run": {
            "command": command,
            "parameters": params,
            "environment": card.get("environment"),
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
            "seconds": round(seconds, 1),
        }
    }
    return kept_stderr


# ------------------------------------------------------------------- execution
def execute(notebook: Path, target: Path, params: dict, command: str, timeout: int) -> float:
    """Execute ``notebook`` into ``target`` (atomically: on failure the target is left
    as it was) and clean it. Returns the seconds it took."""
    import nbformat
    import papermill

    os.environ.update(KERNEL_ENV)
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        executed = Path(tmp) / target.name
        try:
            papermill.execute_notebook(
                str(notebook), str(executed), parameters=params, cwd=str(target.parent),
                kernel_name="python3", progress_bar=False, log_output=False,
                request_save_on_cell_execute=False, execution_timeout=timeout,
            )
        except papermill.PapermillExecutionError as err:
            raise BuildError(f"{notebook.name} failed in cell {err.exec_count}: "
                             f"{err.ename}: {err.evalue}") from None
        seconds = time.perf_counter() - start
        nb = nbformat.read(executed, as_version=4)
        kept = clean(nb, params, command, seconds)
        for text in kept:
            print(f"  warning: {target.name} keeps stderr output:\n    "
                  + text.strip().replace("\n", "\n    "), flush=True)
        nbformat.validate(nb)
        partial = target.with_name(f".{target.name}.tmp")
        nbformat.write(nb, str(partial))
        os.replace(partial, target)
    return seconds


def build_html(output: Path | None = None) -> float:
    """``jupyter-book build . -W`` (warnings are errors). Returns the seconds it took."""
    start = time.perf_counter()
    # The jupyter-book beside this Python first (a venv that is not activated), then PATH.
    beside = Path(sys.executable).parent / "jupyter-book"
    exe = str(beside) if beside.is_file() else shutil.which("jupyter-book") or "jupyter-book"
    cmd = [exe, "build", str(ROOT), "-W", "--keep-going"]
    if output is not None:
        cmd += ["--path-output", str(output)]
    print("$", shlex.join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode:
        raise BuildError(f"jupyter-book build failed (exit status {result.returncode})")
    return time.perf_counter() - start


# ------------------------------------------------------------------------ CLI
def _limit(text: str):
    if text.lower() in ("none", "all"):
        return None
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'none', got {text!r}")
    return value


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="build_book.py",
        description="Execute the chapters of book/ with papermill and build the HTML book.",
    )
    p.add_argument("--real", action="store_true",
                   help="the committed build: " + " ".join(
                       f"{k}={v!r}" for k, v in REAL.items()) + " (CIFAR-100 "
                       "and the published runs; chapter 8: " + json.dumps(REAL_CHAPTERS) + ")")
    p.add_argument("--chapters", nargs="+", metavar="N",
                   help="chapters to execute (numbers like 6 or names like 06_training); "
                        "default all")
    p.add_argument("--dataset", default=OFFLINE["DATASET"],
                   help=f"DATASET of the chapters (default {OFFLINE['DATASET']!r})")
    p.add_argument("--epochs", type=int, default=OFFLINE["EPOCHS"],
                   help=f"EPOCHS (default {OFFLINE['EPOCHS']})")
    p.add_argument("--limit", type=_limit, default=OFFLINE["LIMIT"],
                   help=f"LIMIT, images per split, or 'none' (default {OFFLINE['LIMIT']})")
    p.add_argument("--batch-size", type=int, default=None,
                   help="BATCH_SIZE (default 64 for --size tiny, 256 for reference)")
    p.add_argument("--seed", type=int, default=OFFLINE["SEED"], help="SEED (default 42)")
    p.add_argument("--size", choices=("tiny", "cpu", "reference"), default=OFFLINE["SIZE"],
                   help=f"SIZE of the trained model (default {OFFLINE['SIZE']!r})")
    p.add_argument("--runs-dir", type=Path, default=None,
                   help="run folders of chapters 6 and 7 (default runs/book-<dataset>)")
    p.add_argument("--out", type=Path, default=None,
                   help="execute into this folder instead of book/ (no HTML is built)")
    p.add_argument("--force", action="store_true",
                   help="overwrite notebooks whose recorded run was bigger")
    p.add_argument("--no-html", action="store_true", help="do not run jupyter-book build")
    p.add_argument("--html-only", action="store_true",
                   help="only run jupyter-book build on the committed notebooks")
    p.add_argument("--timeout", type=int, default=3600,
                   help="seconds one cell may run (default 3600)")
    args = p.parse_args(argv)
    if args.epochs <= 0:
        p.error("--epochs must be positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.html_only:
        seconds = build_html()
        print(f"HTML built in {seconds:.0f} s: {ROOT / '_build' / 'html' / 'index.html'}")
        return 0
    out_dir = (args.out or BOOK).resolve()
    in_place = out_dir == BOOK.resolve()
    batch = args.batch_size or {"tiny": 64, "cpu": 128}.get(args.size, 256)
    params = {"DATASET": args.dataset, "EPOCHS": args.epochs, "LIMIT": args.limit,
              "BATCH_SIZE": batch, "SEED": args.seed, "SIZE": args.size, "TRAIN": False}
    per_chapter = {}
    if args.real:
        params, per_chapter = dict(REAL), REAL_CHAPTERS
    slug = re.sub(r"[^A-Za-z0-9_.]+", "_", Path(params["DATASET"]).name).strip("_")
    runs_dir = (args.runs_dir or ROOT / "runs" / f"book-{slug}").resolve()

    try:
        selected = chapters(args.chapters)
        targets = {out_dir / nb.name: chapter_parameters(
                       nb, {**params, **per_chapter.get(nb.stem, {})}, out_dir, runs_dir)
                   for nb in selected}
        refused = refusals(targets, params)
        if refused and not args.force:
            print("Refusing to overwrite notebooks that hold a bigger recorded run:",
                  file=sys.stderr)
            for line in refused:
                print(f"  {line}", file=sys.stderr)
            print("Pass --force to overwrite them, or --out DIR to execute elsewhere.",
                  file=sys.stderr)
            return 2
        if refused:
            print("--force: overwriting bigger recorded runs:\n  " + "\n  ".join(refused))

        options = (["--real"] if args.real else
                   [f"--{k.lower().replace('_', '-')}={v if v is not None else 'none'}"
                    for k, v in params.items() if k != "TRAIN"])
        command = shlex.join(["python", "tools/build_book.py", *options])
        total = time.perf_counter()
        print(f"Executing {len(selected)} chapter(s) into {out_dir} (runs in {runs_dir})",
              flush=True)
        for notebook in selected:
            target = out_dir / notebook.name
            chapter_params = targets[target]
            print(f"- {notebook.name} {json.dumps(chapter_params)}", flush=True)
            seconds = execute(notebook, target, chapter_params, command, args.timeout)
            print(f"  done in {seconds:.0f} s", flush=True)
        print(f"Executed in {time.perf_counter() - total:.0f} s", flush=True)
        if args.no_html:
            return 0
        if not in_place:
            print("HTML is only built for book/ (--out given): skipped.")
            return 0
        seconds = build_html()
        print(f"HTML built in {seconds:.0f} s: {ROOT / '_build' / 'html' / 'index.html'}")
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
