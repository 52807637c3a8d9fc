"""The runs the chapters show (chapters 6 to 8): the book's papermill parameters and
their defaults, the four variants compared, the config of each ``SIZE``, the run
folders the chapters share, and the published runs loaded in their place.

Imports neither Keras nor a backend at import time.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

#: The papermill parameters of every chapter and their defaults: the real thing -- the
#: project's published CIFAR-100 runs (the official 50,000/10,000 split, the CPU-sized
#: ViT of ``recipe("cpu")``, 25 epochs: ``tools/campaign.py``), loaded rather than
#: retrained unless ``TRAIN``.
DEFAULTS = {
    "DATASET": "cifar100",
    "EPOCHS": 25,
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
                         "SIZE": "reference", "RESULTS_DIR": "../results",
                         "FULL_ON_CPU": False},
}

#: What a chapter whose real run needs a GPU runs instead, opened with its defaults on a
#: runtime without one (:func:`plan_chapter`): chapter 8's paper recipe for 2 epochs on
#: 5,000 images with its model shrunk to ``SIZE`` "tiny" -- the committed render's run
#: (``tools/build_book.py --real``), a few minutes on a 2-core CPU.
CPU_DEMOS = {
    "08_going_further": {"EPOCHS": 2, "LIMIT": 5000, "SIZE": "tiny"},
}


def plan_chapter(chapter: str, full_on_cpu: bool = False, *, device="auto", **parameters):
    """The run chapter ``chapter`` makes with its ``parameters`` (the parameters cell's
    values): :func:`vitsd.training.device.plan_run` between the chapter's defaults
    (:data:`DEFAULTS` and :data:`CHAPTER_DEFAULTS`) and its :data:`CPU_DEMOS` entry --
    without an accelerator, the untouched defaults become the demonstration unless
    ``full_on_cpu`` (the parameter ``FULL_ON_CPU``)."""
    from vitsd.training.device import plan_run

    if chapter not in CPU_DEMOS:
        raise ValueError(f"chapter {chapter!r} has no CPU demonstration; chapters with one: "
                         f"{sorted(CPU_DEMOS)}.")
    full = {**DEFAULTS, **CHAPTER_DEFAULTS.get(chapter, {})}
    return plan_run(parameters, full, CPU_DEMOS[chapter], full_on_cpu=full_on_cpu,
                    device=device, switch="FULL_ON_CPU")


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


#: The four variants the book compares (the ablation of the SPT/LSA paper), in order.
VARIANTS = ("vit", "spt", "lsa", "sl-vit")


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
    from vitsd.config import Config
    from vitsd.training.recipes import recipe

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
    from vitsd.training.recipes import recipe

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

    The record is :func:`vitsd.training.runner.train`'s, plus a ``"book"`` entry (not saved):
    ``run_dir`` and ``reused`` (whether a finished run was returned without training).
    """
    from vitsd.training.records import RECORD
    from vitsd.training.runner import train

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


def example_index(data, prefer=(("fox", 2), "horse", "deer", "dog", "cat")) -> int:
    """The index of the training image the chapters use as their running example: the
    first image of the first class in ``prefer`` that the dataset has, else image 0.

    An entry ``(name, k)`` takes the ``k``-th image of that class (counting from 0;
    the last one if the class has fewer). The default takes CIFAR-100's third fox, a
    close-up that fills the frame (the first two are a small fox in the grass and a
    curled-up one); CIFAR-10 has horses, ``sample`` none of these classes."""
    import numpy as np

    for entry in prefer:
        name, k = (entry, 0) if isinstance(entry, str) else entry
        if name in data.class_names:
            members = np.flatnonzero(np.asarray(data.y_train) == data.class_names.index(name))
            if members.size:
                return int(members[min(int(k), members.size - 1)])
    return 0


def published_name(model: str, size: str, seed: int) -> str:
    """The name under which :mod:`vitsd.sharing.published` keeps the run of ``model`` at
    ``SIZE`` and ``SEED``, e.g. ``"cpu-sl-vit-s1"`` (``tools/campaign.py`` names)."""
    return f"{size}-{model}-s{seed}"


def published_seeds(model: str, *, dataset, size: str, manifest_path=None) -> list:
    """The seeds of ``model`` published for ``DATASET`` and ``SIZE``, sorted."""
    from vitsd.sharing.published import published_runs

    prefix = f"{size}-{model}-s"
    return sorted(int(name[len(prefix):]) for name in published_runs(str(dataset), manifest_path)
                  if name.startswith(prefix) and name[len(prefix):].isdigit())


def variant_runs(model: str, *, dataset, size: str, epochs: int, limit=None,
                 batch_size: int | None = None, seed: int = 42, runs_dir="runs/book",
                 train: bool = False, verbose="auto", data=None) -> list:
    """The run records of one variant for chapters 6-8: **load, else train**.

    Unless ``train`` is true, the runs published for ``dataset`` and ``size`` (every
    seed, see :mod:`vitsd.sharing.published`) are loaded; with ``train``, or when none is
    published, one run is trained (or resumed) with :func:`train_variant`. Each record
    gets a ``"book"`` entry: ``source`` (``"published"`` or ``"trained"``), ``name``,
    and for trained runs ``run_dir`` and ``reused``.
    """
    from vitsd.sharing.published import load_record

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
        from vitsd.sharing.published import load_model

        return load_model(book_info["name"], record["dataset"]["name"])[0]
    from vitsd.models import load_model

    return load_model(Path(book_info["run_dir"]) / "model.keras")


def campaign_runs(records: Mapping, size: str = "cpu", models=VARIANTS) -> tuple:
    """Split the published runs of one dataset (``{name: record}``, as
    :func:`vitsd.sharing.published.load_records` gives them) into ``(pool, fractions)``:
    ``pool`` -- ``{model: [record, ...]}`` of the runs on the whole training pool named
    ``<size>-<model>-s<seed>``, seeds in order --, and ``fractions`` -- the records of the
    dataset-size runs (``campaign.training_fraction`` below 1)."""

    pool, fractions = {}, []
    for name in sorted(records):
        record = records[name]
        if (record.get("campaign") or {}).get("training_fraction", 1) < 1:
            fractions.append(record)
            continue
        for model in models:
            if re.fullmatch(rf"{re.escape(size)}-{re.escape(model)}-s(\d+)", name):
                pool.setdefault(model, []).append(record)
    for model in pool:
        pool[model].sort(key=lambda r: r["config"]["seed"])
    order = {m: i for i, m in enumerate(models)}
    return dict(sorted(pool.items(), key=lambda kv: order[kv[0]])), fractions
