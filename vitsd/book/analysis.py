"""Experiment analysis for the chapters (chapters 6 to 8): runs summarised over seeds,
gaps between two models weighed against their spread (the verdict phrases of the
prose), accuracy by training-set size, tables read from run records, and the
predictions picked for figures. NumPy and run records only, no Keras.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from vitsd.book.runs import VARIANTS


def standard_error(p: float, n: int) -> float:
    """The binomial standard error of an accuracy ``p`` (a fraction) measured on ``n``
    images, as a fraction."""
    return math.sqrt(p * (1 - p) / n)


def difference_standard_error(p: float, q: float, n: int) -> float:
    """The standard error of the difference of two accuracies ``p`` and ``q`` (fractions),
    each measured on ``n`` images, as a fraction (the two treated as independent)."""
    return math.sqrt((p * (1 - p) + q * (1 - q)) / n)


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


#: Short phrases for the kinds of :func:`gap_verdict`, for prose ("the gap is ...").
#: The standard error meant is that of a difference of two accuracies measured on the
#: test split (:func:`gap_verdict`'s ``sampling``).
VERDICT_PHRASES = {
    "single seed": "from a model with one seed, so it supports no conclusion",
    "within noise": "within the noise: no larger than the seed-to-seed spread or one "
                    "standard error of a difference of two test accuracies",
    "suggestive": "beyond the seed-to-seed spread and one standard error of a difference "
                  "of two test accuracies, but not beyond twice the standard error: "
                  "suggestive, not established",
    "established": "beyond both the seed-to-seed spread and twice the standard error of a "
                   "difference of two test accuracies",
}

#: One- to three-word forms of :data:`VERDICT_PHRASES`, for a table's verdict column.
VERDICT_SHORT = {
    "single seed": "one seed: no conclusion",
    "within noise": "within noise",
    "suggestive": "suggestive",
    "established": "established",
}


def gap_verdict(rows: list, better: str, worse: str) -> dict:
    """What two rows of :func:`seed_summary` allow to conclude: ``gap`` (points of
    test top-1, ``better`` minus ``worse``), ``noise`` (the two spreads added),
    ``sampling`` (the standard error of a difference of two accuracies measured on
    the same number of test images, ``sqrt(p(1-p)/n + q(1-q)/n)`` in points, as if
    independent; 0 when the test size is unknown), ``bar`` (what an established gap
    must exceed: the larger of ``noise`` and twice ``sampling``), ``z`` (the gap in units of
    ``sampling``), ``test images``, ``seeds`` (the fewer of the two) and ``kind``:
    ``"single seed"`` (either has one seed: no spread, no verdict), ``"within noise"``
    (``|gap| <= max(noise, sampling)``), ``"suggestive"`` (beyond that but
    ``|gap| <= max(noise, 2 sampling)``) or ``"established"`` (beyond both the seed noise
    and twice ``sampling``)."""
    by_model = {r["model"]: r for r in rows}
    a, b = by_model[better], by_model[worse]
    gap = a["top-1 mean"] - b["top-1 mean"]
    noise = a["± spread"] + b["± spread"]
    n = a.get("test images") or b.get("test images")
    sampling = 0.0
    if n:
        pa, pb = a["top-1 mean"] / 100, b["top-1 mean"] / 100
        sampling = 100 * difference_standard_error(pa, pb, n)
    seeds = min(len(a["seeds"].split(", ")), len(b["seeds"].split(", ")))
    bar = max(noise, 2 * sampling)  # what an established gap must exceed
    if seeds < 2:
        kind = "single seed"
    elif abs(gap) <= max(noise, sampling):
        kind = "within noise"
    elif abs(gap) <= bar:
        kind = "suggestive"
    else:
        kind = "established"
    return {"gap": gap, "noise": noise, "sampling": sampling, "bar": bar, "seeds": seeds,
            "kind": kind,
            "test images": n, "z": gap / sampling if sampling else float("nan")}


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
    error = (f"the standard error of a difference of two accuracies on "
             f"{v['test images']:,} test images is {sampling:.2f} points, so the bar is "
             f"twice it, {2 * sampling:.2f}") if v["test images"] else "test size unknown"
    verdict = {
        "within noise": (f"no larger than the seed-to-seed spread or one standard error "
                         f"({error}), so these runs do not separate the two"),
        "suggestive": (f"larger than the seed-to-seed spread and one standard error but "
                       f"not than twice it ({error}): suggestive, not established"),
        "established": (f"larger than the seed-to-seed spread and than twice the standard "
                        f"error ({error})"),
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


# ------------------------------------------------ chapter 6: tables and readings
def results_table(rows: list) -> list:
    """The narrow form of :func:`seed_summary`'s rows that chapter 6 displays (a phone's
    width): model, parameters, seeds, hold-out top-1 per seed, mean and spread (%).
    Constant columns (epochs, test images) and the wall time of a shared machine are
    left to the prose. A model with one seed has no spread: ``"–"``."""
    return [{"model": r["model"], "parameters": r["parameters"], "seeds": r["seeds"],
             "top-1 per seed": r["top-1 per seed"], "mean": r["top-1 mean"],
             # one seed has no spread: shown as a dash, not as 0.00
             "±": r["± spread"] if ", " in r["seeds"] else "–"} for r in rows]


def verdict_rows(rows: list, pairs) -> list:
    """One row per ``(better, worse)`` pair of :func:`seed_summary` rows present in
    ``rows``: the comparison, the gap of the means (points), the gap in standard errors
    of a difference, and :data:`VERDICT_SHORT` of :func:`gap_verdict`."""
    present = {r["model"] for r in rows}
    out = []
    for better, worse in pairs:
        if better in present and worse in present:
            v = gap_verdict(rows, better, worse)
            out.append({"comparison": f"{better} − {worse}", "gap": v["gap"],
                        "in s.e.": v["z"], "verdict": VERDICT_SHORT[v["kind"]]})
    return out


def comparison_facts(rows: list, better: str, worse: str, prefix: str,
                     seed_range: float = float("nan")) -> dict:
    """The numbers and words of one comparison for a chapter's prose, keyed
    ``<prefix>_<what>``: ``gap`` (points), ``noise`` (spreads added), ``se`` (standard
    error of a difference), ``bar`` (twice it), ``z`` (gap in standard errors),
    ``seeds``, ``verdict`` (:data:`VERDICT_PHRASES`), ``ranges`` (the gap in multiples
    of ``seed_range``, the largest seed-to-seed range measured), ``outlook``
    (:func:`gap_outlook`) and ``margin`` (:func:`verdict_margin`)."""
    v = gap_verdict(rows, better, worse)
    ranges = abs(v["gap"]) / seed_range if seed_range > 0 else float("nan")
    return {f"{prefix}_gap": v["gap"], f"{prefix}_noise": v["noise"],
            f"{prefix}_se": v["sampling"], f"{prefix}_bar": 2 * v["sampling"],
            f"{prefix}_z": abs(v["z"]), f"{prefix}_seeds": v["seeds"],
            f"{prefix}_verdict": VERDICT_PHRASES[v["kind"]], f"{prefix}_ranges": ranges,
            f"{prefix}_outlook": gap_outlook(v["gap"], v["z"], seed_range, v["seeds"]),
            f"{prefix}_margin": _margin_words(v)}


def seed_range(rows: list) -> float:
    """The largest seed-to-seed range -- best minus worst seed, points of test top-1 --
    among rows of :func:`seed_summary` with two seeds or more; ``nan`` when none has."""
    ranges = [2 * r["± spread"] for r in rows if ", " in r["seeds"]]
    return max(ranges) if ranges else float("nan")


def largest_seed_range(rows_by_source: Mapping) -> tuple:
    """The largest seed-to-seed range (:func:`seed_range`) over several tables of
    :func:`seed_summary` rows (``{source name: rows}``, the chapter's own first) and a
    clause saying where it was measured: ``(range, clause)``. Where the first source has
    no model with two seeds, the range is said to be borrowed from the others."""
    sources = list(rows_by_source)
    ranges = {name: seed_range(rows) for name, rows in rows_by_source.items()}
    measured = {name: r for name, r in ranges.items() if math.isfinite(r)}
    if not measured:
        return float("nan"), "no model has two seeds yet anywhere"
    largest = max(measured.values())
    where = max(measured, key=measured.get)
    if sources[0] not in measured:
        return largest, (f"borrowed from the {where} campaign, while every model on "
                         f"{sources[0]} has one seed")
    return largest, (f"the largest of those measured on {' and '.join(measured)}, "
                     f"found on {where}")


def gap_outlook(gap: float, z: float, seed_range: float, seeds: int = 1) -> str:
    """What a gap lets one expect from its size against ``seed_range`` (the largest
    seed-to-seed range measured, :func:`seed_range`) and ``z`` (the gap in standard
    errors of a difference). From one seed (``seeds`` is the fewer of the two models'):
    ``"unlikely to reverse"`` when it is at least four times the range and four standard
    errors, ``"more seeds will tell"`` when it is beyond the range, else that a seed
    alone could move a result that far. From two seeds or more the verdict
    (:func:`gap_verdict`) speaks, and the grade only says where the gap lies."""
    if not math.isfinite(seed_range) or seed_range <= 0:
        return "no seed-to-seed range has been measured yet to weigh it against"
    ratio = abs(gap) / seed_range
    far = ratio >= 4 and abs(z) >= 4
    if seeds >= 2:
        if far:
            return "far beyond what a seed has moved a result so far"
        # A gap between means of several seeds is weighed by their spreads (the
        # verdict), not by how far one seed moved one run.
        return ("a gap between means of several seeds: the verdict, which weighs it "
                "against their spreads, is the measure")
    if far:
        return "far beyond what a seed has moved a result so far, so unlikely to reverse"
    if ratio >= 1:
        return "beyond the largest seed range so far, but not far; more seeds will tell"
    return "within what a seed alone has moved a result; more seeds will tell if it is real"


def outlook_reading(rows: list, pairs, seed_range: float) -> str:
    """One clause per ``(better, worse)`` pair present in ``rows`` (:func:`seed_summary`)
    where either model has one seed: the gap, as a multiple of ``seed_range`` and of the
    standard error of a difference, and :func:`gap_outlook`'s grade -- chapter 6's one
    argument for a gap that has no verdict -- joined by semicolons; a clause saying so
    when every pair has two seeds or more."""
    present = {r["model"] for r in rows}
    parts = []
    for better, worse in pairs:
        if better in present and worse in present:
            v = gap_verdict(rows, better, worse)
            if v["seeds"] >= 2:
                continue
            times = (f"{abs(v['gap']) / seed_range:.1f} times that range"
                     if math.isfinite(seed_range) and seed_range > 0 else "no range")
            parts.append(f"{better} {v['gap']:+.2f} points ({times}, {abs(v['z']):.1f} "
                         f"s.e.: {gap_outlook(v['gap'], v['z'], seed_range, v['seeds'])})")
    return "; ".join(parts) or "here every model has two seeds or more, so none needs it"


def verdict_margin(rows: list, better: str, worse: str) -> str:
    """How far a gap lies from the bar of an established verdict (:func:`gap_verdict`:
    the larger of the two spreads added and twice the standard error), in words: a thin
    margin reads differently from a wide one."""
    return _margin_words(gap_verdict(rows, better, worse))


def _margin_words(v: dict) -> str:
    """:func:`verdict_margin`'s words for a verdict ``v`` of :func:`gap_verdict`."""
    if v["kind"] == "single seed":
        return "with one seed there is no spread to weigh it against"
    bar = v["bar"]
    margin = abs(v["gap"]) - bar
    if margin > 0:
        return f"it clears the higher of the two bars ({bar:.2f} points) by {margin:.2f}"
    return f"it falls {-margin:.2f} points short of the bar for established ({bar:.2f} points)"


def fit_rows(runs: Mapping) -> list:
    """Are the runs finished? One row per model (``{model: [record, ...]}``), means over
    its seeds, in points: ``train (aug.)`` -- training accuracy of the last epoch,
    measured on augmented images --, ``val`` -- validation accuracy of the last epoch --,
    ``train − val``, and ``late gain`` -- what validation accuracy gained over the second
    half of the run (last epoch minus the middle one). A model that has learned all it
    can from its data fits its training images well above new ones; one whose training
    accuracy is barely above (or below) validation, and whose validation accuracy was
    still climbing while the learning rate fell, is under-trained: the budget, not the
    architecture, limits it."""
    order = {m: i for i, m in enumerate(VARIANTS)}
    out = []
    for model in sorted(runs, key=lambda m: order.get(m, len(order))):
        histories = [r.get("history") or {} for r in runs[model]]
        if not all(h.get("accuracy") and h.get("val_accuracy") for h in histories):
            continue

        def mean(values):
            return 100 * sum(values) / len(values)

        train = mean([h["accuracy"][-1] for h in histories])
        val = mean([h["val_accuracy"][-1] for h in histories])
        late = mean([h["val_accuracy"][-1] - h["val_accuracy"][(len(h["val_accuracy"]) - 1) // 2]
                     for h in histories])
        out.append({"model": model, "train (aug.)": train, "val": val,
                    "train − val": train - val, "late gain": late})
    return out


def fit_facts(rows: list) -> dict:
    """Chapter 6's reading of :func:`fit_rows`: the smallest and largest ``train − val``
    and ``late gain`` over the models (``fit_min``, ``fit_max``, ``late_min``,
    ``late_max``) and ``fit_verdict``, a sentence: whether every model is still
    under-trained by the chapter's rule of thumb (training accuracy less than 10 points
    above validation)."""
    if not rows:
        return {"fit_min": float("nan"), "fit_max": float("nan"), "late_min": float("nan"),
                "late_max": float("nan"), "fit_verdict": "no run recorded its history"}
    gaps = [r["train − val"] for r in rows]
    late = [r["late gain"] for r in rows]
    under = [r["model"] for r in rows if r["train − val"] < 10]
    if len(under) == len(rows):
        verdict = "every model is still under-trained"
    elif under:
        verdict = f"{', '.join(under)} {'is' if len(under) == 1 else 'are'} still under-trained"
    else:
        verdict = "no model is under-trained by this measure"
    return {"fit_min": min(gaps), "fit_max": max(gaps), "late_min": min(late),
            "late_max": max(late), "fit_verdict": verdict}


def results_reading(rows: list, reference: str = "vit", others=("spt", "lsa", "sl-vit")) -> str:
    """A sentence that reads the comparisons of ``others`` with ``reference`` as the
    seeds allow (chapter 6): which gaps are established, which suggestive, which within
    the spread, and whether any rests on one seed only."""
    present = {r["model"] for r in rows}
    kinds = {}
    for other in others:
        if other in present and reference in present:
            v = gap_verdict(rows, other, reference)
            kinds.setdefault(v["kind"], []).append(f"{other} ({v['gap']:+.2f})")
    if not kinds:
        return f"there is nothing to compare with {reference}"
    parts = []
    if "single seed" in kinds:
        parts.append(f"{', '.join(kinds['single seed'])} rest on one seed, so they are "
                     "not yet a comparison: how far a seed alone moves a result is unknown")
    if "established" in kinds:
        parts.append(f"established: {', '.join(kinds['established'])}")
    if "suggestive" in kinds:
        parts.append(f"suggestive only: {', '.join(kinds['suggestive'])}")
    if "within noise" in kinds:
        parts.append(f"within the noise (the seed spread or one standard error): "
                     f"{', '.join(kinds['within noise'])}")
    return "; ".join(parts)


def dataset_size_summary(records, better: str = "sl-vit", worse: str = "vit") -> tuple:
    """Chapter 6's dataset-size experiment from its run records (the runs on fractions
    of the training pool and on the whole pool): ``(rows, facts)``. ``rows`` is the
    narrow table -- training images, each model's ``mean ± spread`` (%) and the gap
    with its :data:`VERDICT_SHORT` --, ``facts`` the numbers of the prose keyed
    ``size_<small|mid|full>_<images|epochs|gap|verdict|short>`` (``short``: the
    verdict's :data:`VERDICT_SHORT`), ``size_<small|full>_<vit|sl>_fit``
    (train − val at the last epoch) and ``size_small_validation`` (the validation images
    of the smallest runs). Empty rows and ``{}`` without records."""
    groups = by_training_size(list(records), models=(worse, better))
    groups = {size: runs for size, runs in groups.items() if worse in runs and better in runs}
    if not groups:
        return [], {}
    detail = dataset_size_rows(groups, better=better, worse=worse)
    rows, kinds = [], {}
    for row, (size, runs) in zip(detail, groups.items()):
        kind = gap_verdict(seed_summary(runs), better, worse)["kind"]
        kinds[size] = kind
        rows.append({"training images": size,
                     # "59.82 ±0.20": a narrow cell breaks before the spread, never in it
                     worse: f"{row[f'{worse} mean']:.2f} ±{row[f'{worse} ± spread']:.2f}",
                     better: f"{row[f'{better} mean']:.2f} ±{row[f'{better} ± spread']:.2f}",
                     "gap": row["gap"], "verdict": VERDICT_SHORT[kind]})
    nan = float("nan")
    facts = {"size_small_validation": detail[0].get("validation images") or 0}
    for key, row in (("small", detail[0]), ("mid", detail[len(detail) // 2]),
                     ("full", detail[-1])):
        facts[f"size_{key}_images"] = row["training images"]
        facts[f"size_{key}_gap"] = row.get("gap", nan)
        facts[f"size_{key}_verdict"] = VERDICT_PHRASES[kinds[row["training images"]]]
        facts[f"size_{key}_short"] = VERDICT_SHORT[kinds[row["training images"]]]
        facts[f"size_{key}_epochs"] = row["epochs"]
    for key, model in (("vit", worse), ("sl", better)):
        for size_key, row in (("small", detail[0]), ("full", detail[-1])):
            facts[f"size_{size_key}_{key}_fit"] = row.get(f"{model} train - val", nan)
    return rows, facts


# ------------------------------------------- chapter 7: where two models differ
def class_groups(class_names) -> tuple:
    """How chapter 7 groups a dataset's classes for a per-group table: CIFAR-100's 20
    superclasses when ``class_names`` are its 100 fine classes, else every class on its
    own. Returns ``(group_names, group_of)``, ``group_of[k]`` the group of class ``k``."""
    from vitsd.data.cifar import CIFAR100_SUPERCLASSES

    names = [str(c) for c in class_names]
    members = {c: i for i, group in enumerate(CIFAR100_SUPERCLASSES.values()) for c in group}
    if len(names) == len(members) and set(names) == set(members):
        return list(CIFAR100_SUPERCLASSES), [members[c] for c in names]
    return names, list(range(len(names)))


def group_accuracy(actual, predicted_by: Mapping, class_names) -> list:
    """Accuracy per group of classes (:func:`class_groups`) of each model in
    ``predicted_by`` (``{model: predicted labels}``), in %: one row per group with its
    ``images``, each model's accuracy and ``difference`` (last model minus first),
    sorted by the difference, largest first."""
    import numpy as np

    actual = np.asarray(actual).reshape(-1)
    names, group_of = class_groups(class_names)
    groups = np.asarray(group_of)[actual]
    models = list(predicted_by)
    rows = []
    for g, name in enumerate(names):
        members = groups == g
        if not members.any():
            continue
        row = {"group": name.replace("_", " "), "images": int(members.sum())}
        for model in models:
            row[model] = 100 * float(np.mean(np.asarray(predicted_by[model])[members]
                                             == actual[members]))
        row["difference"] = row[models[-1]] - row[models[0]]
        rows.append(row)
    return sorted(rows, key=lambda r: -r["difference"])


def group_facts(rows: list, first: str, last: str) -> dict:
    """Chapter 7's reading of :func:`group_accuracy`: ``groups`` (how many),
    ``group_images`` (images per group, the smallest), ``group_se`` (standard error of a
    difference of two accuracies on that many images, in points, at the mean accuracy,
    as if independent), ``group_overall`` (the overall difference, ``last`` minus
    ``first``: the groups' differences weighted by their images), ``groups_better``
    (groups where ``last`` is ahead), ``groups_beyond`` (groups whose difference departs
    from ``group_overall`` by more than twice ``group_se`` -- a uniform shift passes
    no group), ``groups_beyond_zero`` (the naive count, against zero), ``groups_chance``
    (how many would depart by chance alone, about 4.6%), ``groups_reading`` (a clause:
    whether ``groups_beyond`` is more than chance gives), the best and worst group of
    ``first`` (``best_group``, ``worst_group``, with ``best_group_acc``,
    ``worst_group_acc``) and the largest differences either way (``top_group``,
    ``top_group_diff``, ``bottom_group``, ``bottom_group_diff``)."""
    n = min(r["images"] for r in rows)
    p = sum(r[first] + r[last] for r in rows) / (200 * len(rows))
    se = 100 * difference_standard_error(p, p, n)
    overall = sum(r["images"] * r["difference"] for r in rows) / sum(r["images"] for r in rows)
    best = max(rows, key=lambda r: r[first])
    worst = min(rows, key=lambda r: r[first])
    beyond = sum(abs(r["difference"] - overall) > 2 * se for r in rows)
    chance = 0.0455 * len(rows)  # P(|z| > 2) when every group shifts like the whole
    reading = ("no more than chance alone would give, so no group stands out from the "
               "overall difference" if beyond <= max(1, 2 * chance)
               else "more than chance alone would give, so some groups likely depart from "
                    "the overall difference -- though not surely which ones")
    return {"groups": len(rows), "group_images": n, "group_se": se,
            "group_overall": overall,
            "groups_better": sum(r["difference"] > 0 for r in rows),
            "groups_beyond": beyond,
            "groups_beyond_zero": sum(abs(r["difference"]) > 2 * se for r in rows),
            "groups_chance": chance, "groups_reading": reading,
            "best_group": best["group"], "best_group_acc": best[first],
            "worst_group": worst["group"], "worst_group_acc": worst[first],
            "top_group": rows[0]["group"], "top_group_diff": rows[0]["difference"],
            "bottom_group": rows[-1]["group"], "bottom_group_diff": rows[-1]["difference"]}


def curve_facts(first: Mapping) -> dict:
    """Chapter 6's reading of its learning curves (``{model: record}`` with a history):
    ``curves_leader`` (the model with the best validation accuracy at the last epoch),
    ``curves_lead_from`` (the epoch, from 1, from which it stays ahead of every other
    model), ``curves_mid_epoch`` (halfway through the run, or ``curves_lead_from`` if
    later) and the leader's lead over the best other model then and at the end
    (``curves_lead_mid``, ``curves_lead_end``, points), ``curves_epochs``, and
    ``curves_others_range`` (how far apart the other models' last
    validation accuracies lie, points)."""
    import numpy as np

    val = {m: 100 * np.asarray(r["history"]["val_accuracy"], float) for m, r in first.items()}
    epochs = min(len(v) for v in val.values())
    val = {m: v[:epochs] for m, v in val.items()}
    leader = max(val, key=lambda m: val[m][-1])
    others = [m for m in val if m != leader]
    if not others:
        nan = float("nan")
        return {"curves_leader": leader, "curves_lead_from": 1, "curves_mid_epoch": 1,
                "curves_lead_mid": nan, "curves_lead_end": nan, "curves_others_range": nan,
                "curves_epochs": epochs}
    best_other = np.max([val[m] for m in others], axis=0)
    lead = val[leader] - best_other
    behind = np.flatnonzero(lead <= 0)
    lead_from = int(behind[-1]) + 2 if len(behind) else 1
    mid = min(epochs, max(lead_from, math.ceil(epochs / 2)))
    last = [val[m][-1] for m in others]
    return {"curves_leader": leader, "curves_lead_from": lead_from, "curves_epochs": epochs,
            "curves_mid_epoch": mid, "curves_lead_mid": float(lead[mid - 1]),
            "curves_lead_end": float(lead[-1]),
            "curves_others_range": float(max(last) - min(last))}


def map_facts(maps_by: Mapping, top: float = 0.1) -> dict:
    """Chapter 7's reading of its rollout maps (``{model: (B, g, g) maps}``, the same B
    images for every model): per model, keyed by its position (``map0_top``,
    ``map1_top``, ...), the share of a map's weight on its brightest ``top`` of the
    patches, averaged over the images (a flat map gives ``top``; %), and
    ``map_corr``, the Pearson correlation of two models' maps of the same image,
    averaged over the images (first two models)."""
    import numpy as np

    facts = {}
    flat = {m: np.asarray(v, float).reshape(len(v), -1) for m, v in maps_by.items()}
    for i, maps in enumerate(flat.values()):
        k = max(1, round(top * maps.shape[1]))
        ordered = np.sort(maps, axis=1)[:, ::-1]
        facts[f"map{i}_top"] = 100 * float(np.mean(ordered[:, :k].sum(1) / maps.sum(1)))
    a, b = list(flat.values())[:2] if len(flat) > 1 else (None, None)
    with np.errstate(invalid="ignore", divide="ignore"):  # a flat map has no correlation
        facts["map_corr"] = (float(np.mean([np.corrcoef(x, y)[0, 1] for x, y in zip(a, b)]))
                             if a is not None else float("nan"))
    facts["map_top"] = 100 * top
    return facts


def confused_pairs(actual, predicted_by: Mapping, class_names, count: int = 8) -> list:
    """The ``count`` pairs (true class, predicted class) that the models in
    ``predicted_by`` confuse most, by their mean share: one row per pair with ``true``,
    ``taken for`` and each model's share of the true class's images given that wrong
    label (%)."""
    import numpy as np

    actual = np.asarray(actual).reshape(-1)
    n = len(class_names)
    per_class = np.bincount(actual, minlength=n).astype(float)
    shares = {}
    for model, predicted in predicted_by.items():
        counts = np.zeros((n, n))
        np.add.at(counts, (actual, np.asarray(predicted).reshape(-1)), 1)
        np.fill_diagonal(counts, 0)
        shares[model] = 100 * counts / np.maximum(per_class, 1)[:, None]
    mean = sum(shares.values()) / len(shares)
    order = np.argsort(-mean, axis=None, kind="stable")[:count]
    rows = []
    for flat in order:
        i, j = divmod(int(flat), n)
        if mean[i, j] <= 0:
            break
        row = {"true": str(class_names[i]).replace("_", " "),
               "taken for": str(class_names[j]).replace("_", " ")}
        row.update({model: float(s[i, j]) for model, s in shares.items()})
        rows.append(row)
    return rows


def pick_disagreements(predicted_by: Mapping, actual) -> list:
    """Indices of up to four images for chapter 7's rollout figure, one of each kind
    where the data has one: both models right, only the first right, only the second
    right, both wrong (of ``predicted_by``'s first two models) -- each the first such
    image of a class not used yet. Deterministic."""
    import numpy as np

    actual = np.asarray(actual).reshape(-1)
    first, second = (np.asarray(p).reshape(-1) for p in list(predicted_by.values())[:2])
    a, b = first == actual, second == actual
    chosen, classes = [], set()
    for mask in (a & b, a & ~b, ~a & b, ~a & ~b):
        hits = np.flatnonzero(mask)
        pick = next((int(i) for i in hits if int(actual[i]) not in classes),
                    int(hits[0]) if len(hits) else None)
        if pick is not None:
            chosen.append(pick)
            classes.add(int(actual[pick]))
    return chosen


def campaign_runs(records: Mapping, size: str = "cpu", models=VARIANTS) -> tuple:
    """Split the published runs of one dataset (``{name: record}``, as
    :func:`vitsd.sharing.published.load_records` gives them) into ``(pool, fractions)``:
    ``pool`` -- ``{model: [record, ...]}`` of the runs on the whole training pool named
    ``<size>-<model>-s<seed>``, seeds in order --, and ``fractions`` -- the records of the
    dataset-size runs (``campaign.training_fraction`` below 1)."""
    import re

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
