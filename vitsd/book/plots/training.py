"""Training runs: learning curves, the learning-rate schedule, time to accuracy and
confusion matrices (chapters 6 and 8)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from vitsd.book.plots._base import (
    CHART,
    _check_positive_int,
)

_METRIC_TITLES = {
    "loss": "loss",
    "accuracy": "accuracy",
    "top5": "top-5 accuracy",
    "learning_rate": "learning rate",
}


def _history_of(record):
    if hasattr(record, "history") and isinstance(record.history, Mapping):  # keras History
        return dict(record.history)
    if isinstance(record, Mapping) and isinstance(record.get("history"), Mapping):
        return dict(record["history"])
    return None


def _runs(records) -> dict:
    """Normalise ``records`` to ``{name: history}``."""
    single = _history_of(records)
    if single is not None:
        name = records.get("name", records.get("model")) if isinstance(records, Mapping) else None
        return {str(name) if isinstance(name, str) else "": single}
    if isinstance(records, Mapping):
        if records and all(
            isinstance(v, (list, tuple, np.ndarray)) for v in records.values()
        ):  # a bare history dict
            return {"": dict(records)}
        runs = {}
        for name, rec in records.items():
            hist = _history_of(rec)
            if hist is None:
                raise ValueError(
                    f"records[{name!r}] is not a run record: expected a dict with a "
                    "'history' dict of per-epoch lists."
                )
            runs[str(name)] = hist
        if runs:
            return runs
    raise ValueError(
        "records must be a run record (a dict with a 'history' dict) or a dict "
        f"name -> run record, got {type(records).__name__}."
    )


def plot_history(records, metrics=("loss", "accuracy", "top5")) -> Figure:
    """Training curves, one subplot per metric (chapter 6).

    ``records`` is one run record (a dict whose ``"history"`` maps metric names to
    per-epoch lists, as ``keras.callbacks.History.history``) or a dict ``name -> run
    record`` to compare runs. Training values are solid lines, validation values
    (``"val_" + metric``) dashed, one colour per run. Metrics that no run recorded are
    skipped.
    """
    if isinstance(metrics, str):
        metrics = (metrics,)
    runs = _runs(records)
    present = [
        m for m in metrics
        if any(m in h or f"val_{m}" in h for h in runs.values())
    ]
    if not present:
        available = sorted({k for h in runs.values() for k in h})
        raise ValueError(
            f"none of metrics {tuple(metrics)} is in the history; available keys: {available}."
        )
    single = len(runs) == 1
    # One panel under the other, 5.2 in wide (a phone's column), text at 10 pt.
    fig = Figure(figsize=(5.2, 2.5 * len(present) + (0.3 if single else 0.9)),
                 layout="constrained")
    axes = fig.subplots(len(present), 1, squeeze=False, sharex=True).ravel()
    for ax, metric in zip(axes, present):
        for k, (name, hist) in enumerate(runs.items()):
            for key, style, kind in ((metric, "-", "train"), (f"val_{metric}", "--", "validation")):
                values = hist.get(key)
                if values is None or len(values) == 0:
                    continue
                values = np.asarray(values, dtype=np.float64).ravel()
                label = kind if single or not name else f"{name} ({kind})"
                ax.plot(np.arange(1, len(values) + 1), values, linestyle=style,
                        color=f"C{k}", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(_METRIC_TITLES.get(metric, metric.replace("_", " ")), fontsize=10)
        ax.tick_params(labelsize=10)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        if single:
            ax.legend(frameon=False, fontsize=10)
    if not single:
        # one legend for the figure: a colour per run, a line style per split
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=f"C{k}", label=name) for k, name in enumerate(runs)]
        handles += [Line2D([], [], color="0.4", linestyle="-", label="training (augmented)"),
                    Line2D([], [], color="0.4", linestyle="--", label="validation")]
        fig.legend(handles=handles, loc="outside upper center", ncols=3, frameon=False,
                   fontsize=10)
    return fig


def plot_time_to_accuracy(records, metric: str = "val_accuracy") -> Figure:
    """Validation accuracy against cumulative training time (chapter 8).

    ``records`` is a dict ``name -> run record``; the x axis is the running sum of each
    record's ``history["epoch_seconds"]`` in minutes, so runs of different speeds compare
    by wall-clock time. Runs without epoch times are skipped.
    """
    fig = Figure(figsize=CHART, layout="constrained")
    ax = fig.subplots()
    plotted = 0
    for k, (name, record) in enumerate(records.items()):
        history = record.get("history", {})
        seconds, values = history.get("epoch_seconds"), history.get(metric)
        if not seconds or not values:
            continue
        minutes = np.cumsum(np.asarray(seconds, dtype=np.float64)) / 60.0
        n = min(len(minutes), len(values))
        ax.plot(minutes[:n], np.asarray(values[:n], dtype=np.float64), marker="o",
                markersize=3, color=f"C{k}", label=name)
        plotted += 1
    if not plotted:
        raise ValueError(f"no record has both epoch_seconds and {metric!r} in its history.")
    ax.set_xlabel("training time (minutes)")
    ax.set_ylabel(_METRIC_TITLES.get(metric, metric.replace("_", " ")))
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize="small")
    return fig


def _to_float(value) -> float:
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, np.ndarray):
        return float(value.reshape(()))
    import keras  # lazily: only tensors need it

    return float(np.asarray(keras.ops.convert_to_numpy(value)).reshape(()))


def plot_learning_rate(schedule, total_steps: int, num_points: int = 200, title=None,
                       recorded=None, steps_per_epoch: int | None = None) -> Figure:
    """The learning rate ``schedule(step)`` over ``0..total_steps`` (chapter 6).

    ``recorded`` (with ``steps_per_epoch``): the learning rate a run applied in the last
    step of every epoch, as its history records it, drawn as dots at steps
    ``(e + 1) * steps_per_epoch - 1`` over the curve -- where the run followed the
    schedule, they sit on it.

    ``schedule`` is any callable from an integer step to a learning rate: a Python or
    NumPy number, or a Keras/TensorFlow/JAX scalar tensor (a
    ``keras.optimizers.schedules.LearningRateSchedule`` works). It is evaluated at up to
    ``num_points`` evenly spaced integer steps.
    """
    if not callable(schedule):
        raise ValueError(f"schedule must be callable step -> learning rate, got {schedule!r}.")
    _check_positive_int(total_steps, "total_steps")
    _check_positive_int(num_points, "num_points")
    if num_points < 2:
        raise ValueError(f"num_points must be at least 2, got {num_points}.")
    steps = np.unique(np.round(np.linspace(0, total_steps, num_points)).astype(int))
    values = np.array([_to_float(schedule(int(s))) for s in steps])
    fig = Figure(figsize=CHART, layout="constrained")
    ax = fig.subplots()
    ax.plot(steps, values, color="C0", label="schedule")
    if recorded is not None:
        _check_positive_int(steps_per_epoch, "steps_per_epoch")
        rates = np.asarray(recorded, dtype=np.float64).ravel()
        at = (np.arange(len(rates)) + 1) * steps_per_epoch - 1
        ax.plot(at, rates, linestyle="none", marker="o", markersize=4, color="C1",
                label="recorded, end of each epoch")
        ax.legend(frameon=False, fontsize=10)
    ax.set_xlabel("training step")
    ax.set_ylabel("learning rate")
    ax.set_title(title if title is not None else "learning-rate schedule", fontsize="medium")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    ax.set_xlim(0, total_steps)
    ax.set_ylim(0, None)
    ax.grid(alpha=0.3)
    return fig


def plot_confusion_matrix(actual, predicted, class_names, title=None) -> Figure:
    """The confusion matrix of a classifier, rows the true class, columns the predicted
    one, each row normalised to fractions of that class (chapter 7). The diagonal is the
    per-class accuracy; the numbers are printed in the cells."""
    n = len(class_names)
    counts = confusion_matrix(actual, predicted, n)
    rows = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(counts, rows, out=np.zeros((n, n)), where=rows > 0)
    fig = Figure(figsize=(0.55 * n + 2.2, 0.55 * n + 1.6), layout="constrained")
    ax = fig.subplots()
    ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if counts[i, j]:
                ax.text(j, i, f"{fractions[i, j]:.2f}".lstrip("0"), ha="center",
                        va="center", fontsize="x-small",
                        color="white" if fractions[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), [str(c) for c in class_names], rotation=60, ha="right",
                  fontsize="small")
    ax.set_yticks(range(n), [str(c) for c in class_names], fontsize="small")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title, fontsize="medium")
    return fig


def confusion_matrix(actual, predicted, num_classes: int) -> np.ndarray:
    """``counts[i, j]``: how many images of class ``i`` were predicted as ``j``."""
    actual = np.asarray(actual).ravel()
    predicted = np.asarray(predicted).ravel()
    if actual.shape != predicted.shape:
        raise ValueError(f"actual and predicted must have the same length, got "
                         f"{actual.size} and {predicted.size}.")
    for name, values in (("actual", actual), ("predicted", predicted)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} labels must be in [0, {num_classes}), got "
                             f"{values.min()}..{values.max()}.")
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (actual, predicted), 1)
    return counts
