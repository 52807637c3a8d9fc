"""Chapter 6's comparisons: models scored on the same test images, compared with one
method -- :func:`vitsd.book.stats.difference_ci`, a 95% interval over test images and
seeds -- and the training-set sizes of the dataset-size runs. NumPy and run records;
Keras only where a run trained in the chapter must predict its test images.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vitsd.book.runs import VARIANTS
from vitsd.book.stats import difference_ci, load_correctness

#: The order of the models in chapter 6's tables and figures: the four variants, then
#: the baselines.
ORDER = (*VARIANTS, "conv-vit", "resnet20")


def _ordered(models):
    rank = {m: i for i, m in enumerate(ORDER)}
    return sorted(models, key=lambda m: (rank.get(m, len(rank)), m))


def record_name(record: Mapping) -> str | None:
    """The name a run is published under (``"cpu-vit-s1"``), or None for a run trained
    here: from :func:`~vitsd.book.runs.variant_runs`' ``book`` entry, else from the
    campaign's own record (the runs of ``published.load_records``)."""
    book_info = record.get("book") or {}
    if book_info:
        return book_info.get("name") if book_info.get("source") == "published" else None
    return (record.get("campaign") or {}).get("name")


def run_correctness(records, data=None) -> np.ndarray:
    """Per-image test correctness of each run of ``records`` (the seeds of one model),
    as a boolean array ``(seeds, test images)``: the published file of a published run
    (:func:`~vitsd.book.stats.load_correctness`), else the run's model predicting
    ``data``'s test images (a run trained in the chapter)."""
    rows = []
    for record in records:
        name = record_name(record)
        if name is not None:
            rows.append(load_correctness(record["dataset"]["name"], [name])[0])
            continue
        if data is None:
            raise ValueError(f"the run {record.get('book', {}).get('name')!r} was trained "
                             "here, so its correctness needs data=: the dataset it was "
                             "trained on, to predict its test images.")
        from vitsd.book.runs import variant_model

        model = variant_model(record)
        batch = int(record["config"].get("batch_size", 256))
        predicted = model.predict(data.x_test, batch_size=batch, verbose=0).argmax(-1)
        rows.append(predicted == np.asarray(data.y_test).reshape(-1))
    if len({len(row) for row in rows}) != 1:
        raise ValueError("the runs were scored on different test sets: compare runs of "
                         "one dataset and one test split.")
    return np.stack(rows)


def comparison_rows(runs: Mapping, correct: Mapping, reference: str = "vit",
                    confidence: float = 0.95, resamples: int = 10_000) -> list:
    """Chapter 6's results table: one row per model of ``runs`` (``{model: [record per
    seed]}``) with its parameters, test top-1 per seed and mean (percent), and its
    difference from ``reference`` with the ``confidence`` interval of
    :func:`~vitsd.book.stats.difference_ci` (points), from ``correct`` (``{model:
    (seeds, images) array}``, as :func:`run_correctness` gives)."""
    if reference not in runs:
        raise ValueError(f"reference={reference!r} has no runs; the models are {list(runs)}.")
    rows = []
    for model in _ordered(runs):
        records = runs[model]
        top1 = [100 * r["test"]["top1"] for r in records]
        row = {"model": model,
               "parameters": (records[0].get("parameters") or {}).get("total"),
               "top-1 per seed": " / ".join(f"{v:.2f}" for v in top1),
               "mean": float(np.mean(top1))}
        if model != reference:
            ci = difference_ci(correct[model], correct[reference], confidence=confidence,
                               resamples=resamples)
            row.update({f"− {reference}": 100 * ci["difference"],
                        "95% CI": f"{100 * ci['low']:+.2f} to {100 * ci['high']:+.2f}",
                        "low": 100 * ci["low"], "high": 100 * ci["high"]})
        rows.append(row)
    return rows


def shown_columns(rows: list) -> list:
    """The rows of :func:`comparison_rows` without the interval's numeric ends (kept for
    gluing), as the chapter's table shows them."""
    return [{k: v for k, v in row.items() if k not in ("low", "high")} for row in rows]


def by_training_size(records, models=("vit", "sl-vit")) -> dict:
    """Dataset-size runs grouped as ``{training images: {model: [record, ...]}}``,
    smallest training set first; only ``models`` are kept, seeds in order."""
    groups = {}
    for record in records:
        if record.get("model") in models:
            size = int(record["splits"]["train"])
            groups.setdefault(size, {}).setdefault(record["model"], []).append(record)
    return {size: {m: sorted(groups[size][m], key=lambda r: r["config"]["seed"])
                   for m in models if m in groups[size]}
            for size in sorted(groups)}


def size_runs(dataset: str, size: str = "cpu") -> tuple:
    """The published runs of ``dataset`` for the dataset-size figure: ``(pool,
    fractions)`` -- ``{model: [record per seed]}`` on the whole training set, and the
    records of the runs on a fraction of it (``campaign.training_fraction`` below 1).
    Empty where nothing is published for ``dataset`` (the offline ``sample``)."""
    from vitsd.book.runs import campaign_runs
    from vitsd.sharing import published

    if not published.published_runs(str(dataset)):
        return {}, []
    return campaign_runs(published.load_records(str(dataset)), size=size, models=ORDER)


def last_epoch(records, metric: str = "accuracy") -> dict:
    """Training and validation ``metric`` at the last epoch, means over the seeds of
    ``records`` (percent for accuracies): ``{"train": ..., "validation": ...}``."""
    scale = 100 if "accuracy" in metric else 1
    return {"train": scale * float(history_means(records, metric)[-1]),
            "validation": scale * float(history_means(records, f"val_{metric}")[-1])}


def size_rows(groups: Mapping, data=None, better: str = "sl-vit", worse: str = "vit",
              confidence: float = 0.95, resamples: int = 10_000) -> list:
    """One row per training-set size of ``groups`` (:func:`by_training_size`): the
    training images, the epochs, each model's seeds and mean test top-1 (percent) and,
    where both models have runs, ``better`` minus ``worse`` with its interval (points),
    from the runs' per-image correctness (:func:`run_correctness`; ``data`` for runs
    trained here)."""
    rows = []
    for size, runs in groups.items():
        records = [r for rs in runs.values() for r in rs]
        row = {"training images": size,
               "epochs": ", ".join(str(e) for e in sorted({r["epochs_completed"]
                                                           for r in records}))}
        for model in (worse, better):
            if model in runs:
                row[f"{model} seeds"] = len(runs[model])
                row[f"{model} mean"] = 100 * float(np.mean([r["test"]["top1"]
                                                             for r in runs[model]]))
        if worse in runs and better in runs:
            ci = difference_ci(run_correctness(runs[better], data),
                               run_correctness(runs[worse], data),
                               confidence=confidence, resamples=resamples)
            row.update({"difference": 100 * ci["difference"], "low": 100 * ci["low"],
                        "high": 100 * ci["high"]})
        rows.append(row)
    return rows


def history_means(records, metric: str) -> np.ndarray:
    """The mean over ``records`` (seeds) of ``history[metric]``, epoch by epoch, over the
    epochs every record has."""
    histories = [r["history"][metric] for r in records]
    epochs = min(len(h) for h in histories)
    return np.mean([h[:epochs] for h in histories], axis=0)


def loss_gaps(runs: Mapping, reference: str = "vit", metric: str = "loss",
              models=("spt", "lsa", "sl-vit")) -> dict:
    """``{model: per-epoch mean of metric minus the reference's}`` (means over each
    model's seeds): how much worse (positive) a model fits its training images than
    ``reference``, epoch by epoch."""
    base = history_means(runs[reference], metric)
    gaps = {}
    for model in models:
        if model in runs:
            mine = history_means(runs[model], metric)
            epochs = min(len(mine), len(base))
            gaps[model] = mine[:epochs] - base[:epochs]
    return gaps


def final_values(runs: Mapping, metric: str = "loss") -> list:
    """One row per model: ``metric`` at the last epoch of each seed, and its range."""
    rows = []
    for model in _ordered(runs):
        values = [r["history"][metric][-1] for r in runs[model]]
        rows.append({"model": model, "per seed": " / ".join(f"{v:.3f}" for v in values),
                     "lowest": min(values), "highest": max(values)})
    return rows


#: How the chapters name the datasets in titles.
DATASET_TITLES = {"cifar100": "CIFAR-100", "cifar10-jpeg": "CIFAR-10 (JPEG)",
                  "cifar10": "CIFAR-10", "sample": "sample (synthetic)"}


def dataset_title(name: str) -> str:
    """``"CIFAR-100"`` for ``"cifar100"``; other names as they are."""
    return DATASET_TITLES.get(str(name), str(name))
