"""Subsets and splits that keep classes balanced (chapter 1, "Data").

:func:`stratified_subset` draws the ``limit`` images of a reduced run,
:func:`train_val_split` the validation (or hold-out test) split, and
:func:`training_fraction` a smaller training set for the dataset-size experiment. All
are seeded and deterministic and keep the examples in their original order.
"""

from __future__ import annotations

import numbers

import numpy as np

from vitsd.data.dataset import Dataset


def _check_limit(limit):
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}.")
    return int(limit)


def stratified_subset(x, y, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``limit`` examples with per-class counts as equal as possible.

    Each class gets ``limit // num_classes`` examples (classes with fewer examples give
    all they have and their share goes to the others); the remaining few go to
    randomly chosen classes. With ``limit < num_classes``, ``limit`` classes get one
    example each. The choice is seeded and deterministic; the kept examples stay in
    their original order. ``limit >= len(y)`` keeps everything.
    """
    limit = _check_limit(limit)
    if limit is None:
        raise ValueError("limit must be a positive integer, got None.")
    x, y = _check_xy(x, y)
    if limit >= len(y):
        return x.copy(), y.copy()
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    take = _equal_allocation(counts, limit, rng)
    keep = []
    for cls, k in zip(classes, take):
        if k:
            members = np.flatnonzero(y == cls)
            keep.append(rng.choice(members, size=int(k), replace=False))
    keep = np.sort(np.concatenate(keep))
    return x[keep], y[keep]


def train_val_split(x, y, fraction: float, seed: int):
    """Split off a stratified validation set: ``(x_train, y_train, x_val, y_val)``.

    About ``fraction`` of every class goes to validation (``round(fraction * N)`` in
    all, shared between classes by largest remainder) and every class keeps at least
    one training example. Seeded and deterministic; both parts keep the original order.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
        raise ValueError(f"fraction must be a number in [0, 1), got {fraction!r}.")
    if not 0.0 <= float(fraction) < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction!r}.")
    x, y = _check_xy(x, y)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    n_val = _proportional_allocation(counts, float(fraction), rng)
    is_val = np.zeros(len(y), dtype=bool)
    for cls, k in zip(classes, n_val):
        if k:
            members = np.flatnonzero(y == cls)
            is_val[rng.choice(members, size=int(k), replace=False)] = True
    return x[~is_val], y[~is_val], x[is_val], y[is_val]


def training_fraction(data: Dataset, fraction: float, seed: int = 0) -> Dataset:
    """``data`` with a stratified ``fraction`` of its training images and the *whole*
    test split (chapter 6's dataset-size experiment). ``fraction == 1`` keeps all."""
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) \
            or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}.")
    if fraction == 1:
        return data
    x, y = stratified_subset(data.x_train, data.y_train,
                             max(1, round(fraction * len(data.y_train))), seed)
    return Dataset(data.name, x, y, data.x_test, data.y_test, list(data.class_names))


def _check_xy(x, y):
    x = np.asarray(x)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            f"x and y must hold the same number of examples and y must be 1-D, "
            f"got x {x.shape} and y {y.shape}."
        )
    return x, y


def _equal_allocation(counts, total, rng):
    """Share ``total`` between classes as equally as their ``counts`` allow."""
    counts = np.asarray(counts, dtype=np.int64)
    take = np.zeros_like(counts)
    remaining = min(int(total), int(counts.sum()))
    while remaining > 0:
        open_ = np.flatnonzero(take < counts)
        share = remaining // len(open_)
        if share == 0:
            chosen = rng.choice(open_, size=remaining, replace=False)
            take[chosen] += 1
            break
        add = np.minimum(share, counts[open_] - take[open_])
        take[open_] += add
        remaining -= int(add.sum())
    return take


def _proportional_allocation(counts, fraction, rng):
    """``fraction`` of each class, rounded by largest remainder; each keeps one."""
    counts = np.asarray(counts, dtype=np.int64)
    exact = counts * fraction
    take = np.floor(exact).astype(np.int64)
    take = np.minimum(take, np.maximum(counts - 1, 0))
    extra = int(round(fraction * counts.sum())) - int(take.sum())
    if extra > 0:
        room = np.flatnonzero(take < counts - 1)
        # Largest remainder first; ties broken by a seeded random key.
        order = np.lexsort((rng.random(len(room)), -(exact[room] - take[room])))
        take[room[order[:extra]]] += 1
    return take
