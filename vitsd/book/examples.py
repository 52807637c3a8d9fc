"""Galleries and example picking (chapters 1, 7 and 8): which images a figure shows and
how they are captioned, and chapter 7's look at two models image by image -- accuracy
per group of classes with its bootstrap interval, the classes they mix up, and how
flat their attention-rollout maps are. NumPy and run records only, no Keras.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def _readable(name: str) -> str:
    return str(name).replace("_", " ")


# --------------------------------------------------------------------- galleries
def one_per_class(labels, count: int):
    """Indices of the first image of each of the first ``count`` classes that occur in
    ``labels`` (in the order they first occur): a demonstration batch whose captions
    differ (chapter 8's mixing and augmentation figures), where ``x[:count]`` of a
    dataset sorted by class would be one class only."""
    labels = np.asarray(labels).reshape(-1)
    _, first = np.unique(labels, return_index=True)
    if count < 1 or count > len(first):
        raise ValueError(f"count must be between 1 and the {len(first)} classes present, "
                         f"got {count!r}.")
    return np.sort(first)[:count]


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
    gets wrong, each from a different class where possible, in class order:
    ``(right, wrong)``, deterministic."""
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


def rollout_captions(predicted_by: Mapping, actual, class_names) -> tuple:
    """Captions of chapter 7's rollout figure: ``(row_titles, captions_by)`` -- each
    photo's ``"true class\n<class>"``, and for each model of ``predicted_by`` (``{model:
    predicted labels of those photos}``) ``"✓ <model>\n<predicted class>"`` when right,
    ``"✗ <model>\n<predicted class>"`` when wrong (the marks
    :func:`vitsd.book.plots.plot_rollout_comparison` colours). Underscores become
    spaces."""
    actual = [int(a) for a in np.asarray(actual).reshape(-1)]
    titles = [f"true class\n{_readable(class_names[a])}" for a in actual]
    captions = {}
    for model, predicted in predicted_by.items():
        predicted = [int(p) for p in np.asarray(predicted).reshape(-1)]
        if len(predicted) != len(actual):
            raise ValueError(f"{model}: one prediction per photo ({len(actual)}) is needed, "
                             f"got {len(predicted)}.")
        captions[model] = [f"{'✓' if p == a else '✗'} {model}\n{_readable(class_names[p])}"
                           for p, a in zip(predicted, actual)]
    return titles, captions


def pick_disagreements(predicted_by: Mapping, actual) -> list:
    """Indices of up to four images for chapter 7's rollout figure, one of each kind
    where the data has one: both models right, only the first right, only the second
    right, both wrong (of ``predicted_by``'s first two models) -- each the first such
    image of a class not used yet. Deterministic."""
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


# ------------------------------------------------ chapter 7: where two models differ
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
    actual = np.asarray(actual).reshape(-1)
    names, group_of = class_groups(class_names)
    groups = np.asarray(group_of)[actual]
    models = list(predicted_by)
    rows = []
    for g, name in enumerate(names):
        members = groups == g
        if not members.any():
            continue
        row = {"group": _readable(name), "images": int(members.sum())}
        for model in models:
            row[model] = 100 * float(np.mean(np.asarray(predicted_by[model])[members]
                                             == actual[members]))
        row["difference"] = row[models[-1]] - row[models[0]]
        rows.append(row)
    return sorted(rows, key=lambda r: -r["difference"])


def group_differences(actual, correct_by: Mapping, class_names, confidence: float = 0.95,
                      resamples: int = 10_000, seed: int = 0) -> list:
    """Accuracy per group of classes (:func:`class_groups`) of two models over all their
    seeds, and the difference (last model minus first) with its bootstrap confidence
    interval (:func:`vitsd.book.stats.difference_ci` on that group's test images only).

    ``correct_by``: ``{model: (seeds, images) correctness}`` (two models, the same test
    images, e.g. from :func:`vitsd.book.comparison.run_correctness`), ``actual`` the
    images' labels. One row per
    group: ``group``, ``images``, each model's mean accuracy over its seeds, then
    ``difference``, ``low`` and ``high`` -- all in % (points) -- sorted by the
    difference, largest first."""
    from vitsd.book.stats import difference_ci

    actual = np.asarray(actual).reshape(-1)
    if len(correct_by) != 2:
        raise ValueError(f"correct_by must hold two models, got {list(correct_by)}.")
    (first, a), (last, b) = ((m, np.asarray(c, dtype=bool).reshape(-1, len(actual)))
                             for m, c in correct_by.items())
    names, group_of = class_groups(class_names)
    groups = np.asarray(group_of)[actual]
    rows = []
    for g, name in enumerate(names):
        members = groups == g
        if not members.any():
            continue
        ci = difference_ci(b[:, members], a[:, members], confidence=confidence,
                           resamples=resamples, seed=seed)
        rows.append({"group": _readable(name), "images": int(members.sum()),
                     first: 100 * float(a[:, members].mean()),
                     last: 100 * float(b[:, members].mean()),
                     "difference": 100 * ci["difference"], "low": 100 * ci["low"],
                     "high": 100 * ci["high"]})
    return sorted(rows, key=lambda r: -r["difference"])


def confused_pairs(actual, predicted_by: Mapping, class_names, count: int = 8) -> list:
    """The ``count`` pairs (true class, predicted class) that the models in
    ``predicted_by`` confuse most, by their mean share: one row per pair with ``true``,
    ``taken for`` and each model's share of the true class's images given that wrong
    label (%)."""
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
        row = {"true": _readable(class_names[i]), "taken for": _readable(class_names[j])}
        row.update({model: float(s[i, j]) for model, s in shares.items()})
        rows.append(row)
    return rows


# ------------------------------------------------------ chapter 7: rollout maps
def top_share(maps, top: float = 0.1) -> np.ndarray:
    """How peaked attention-rollout maps are: for each map of ``maps`` (``(B, g, g)``
    or ``(B, patches)``), the share of its weight on its brightest ``top`` of the patches
    (at least one patch), as a fraction. A flat map gives ``top``; a map with all its
    weight on those patches gives 1."""
    if not 0 < top <= 1:
        raise ValueError(f"top must be a fraction in (0, 1], got {top!r}.")
    maps = np.asarray(maps, dtype=np.float64)
    maps = maps.reshape(len(maps), -1)
    k = max(1, round(top * maps.shape[1]))
    brightest = -np.sort(-maps, axis=1)[:, :k]
    return brightest.sum(axis=1) / maps.sum(axis=1)


def map_facts(maps_by: Mapping, top: float = 0.1) -> dict:
    """Chapter 7's numbers of its rollout maps (``{model: (B, g, g) maps}``, the same B
    images for every model): per model, keyed by its position (``map0_top``,
    ``map1_top``, ...), the mean of :func:`top_share` over the images (%; a flat map
    gives ``100 * top``), ``map_corr``, the Pearson correlation of the first two
    models' maps of the same image, averaged over the images, and ``map_top``
    (``100 * top``)."""
    facts = {}
    flat = {m: np.asarray(v, float).reshape(len(v), -1) for m, v in maps_by.items()}
    for i, maps in enumerate(flat.values()):
        facts[f"map{i}_top"] = 100 * float(np.mean(top_share(maps, top)))
    a, b = list(flat.values())[:2] if len(flat) > 1 else (None, None)
    with np.errstate(invalid="ignore", divide="ignore"):  # a flat map has no correlation
        facts["map_corr"] = (float(np.mean([np.corrcoef(x, y)[0, 1] for x, y in zip(a, b)]))
                             if a is not None else float("nan"))
    facts["map_top"] = 100 * top
    return facts
