"""Experiment analysis for the chapters (chapters 6 to 8): runs summarised over seeds,
gaps between two models weighed against their spread (the verdict phrases of the
prose), accuracy by training-set size, tables read from run records, and the
predictions picked for figures. NumPy and run records only, no Keras.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from vitsd.book.runs import VARIANTS


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


def one_per_class(labels, count: int):
    """Indices of the first image of each of the first ``count`` classes that occur in
    ``labels`` (in the order they first occur): a demonstration batch whose captions
    differ (chapter 8's mixing and augmentation figures), where ``x[:count]`` of a
    dataset sorted by class would be one class only."""
    import numpy as np

    labels = np.asarray(labels).reshape(-1)
    _, first = np.unique(labels, return_index=True)
    if count < 1 or count > len(first):
        raise ValueError(f"count must be between 1 and the {len(first)} classes present, "
                         f"got {count!r}.")
    return np.sort(first)[:count]


def _readable(name: str) -> str:
    return str(name).replace("_", " ")


def superclass_rows(class_names):
    """CIFAR-100's 20 superclasses and their five classes each, as table rows
    ``{"superclass", "its classes"}`` (chapter 1), when ``class_names`` are CIFAR-100's
    100 fine classes; ``None`` for a dataset without superclasses (``sample``,
    CIFAR-10). Underscores become spaces, so that a narrow table wraps the names."""
    from vitsd.data.cifar import CIFAR100_CLASSES, CIFAR100_SUPERCLASSES

    if tuple(class_names) != CIFAR100_CLASSES:
        return None
    return [{"superclass": _readable(group),
             "its classes": ", ".join(_readable(m) for m in members)}
            for group, members in CIFAR100_SUPERCLASSES.items()]


def superclass_gallery(labels, class_names, count: int = 20) -> tuple:
    """The photos of chapter 1's gallery: ``(indices, captions)``.

    With CIFAR-100's 100 fine classes, the first image of each of its 20 superclasses,
    in superclass order, captioned ``"superclass\n(class)"``; for a dataset without
    superclasses, the first image of each class (of the first ``count`` classes to
    occur), in class order, captioned by its class. Underscores become spaces."""
    import numpy as np

    from vitsd.data.cifar import CIFAR100_SUPERCLASSES, superclass_of

    labels = np.asarray(labels).reshape(-1)
    names = list(class_names)
    if superclass_rows(names) is not None:
        groups = np.array([superclass_of(k) for k in range(len(names))])[labels]
        group_names = list(CIFAR100_SUPERCLASSES)
    else:
        groups, group_names = labels, None
    present = np.unique(groups)
    picked = one_per_class(groups, len(present) if group_names else min(count, len(present)))
    picked = picked[np.argsort(groups[picked], kind="stable")]
    if group_names is None:
        return picked, [_readable(names[labels[i]]) for i in picked]
    return picked, [f"{_readable(group_names[groups[i]])}\n({_readable(names[labels[i]])})"
                    for i in picked]


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
    when wrong -- the marks :func:`vitsd.book.plots.plot_attention_overlay` colours."""
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
