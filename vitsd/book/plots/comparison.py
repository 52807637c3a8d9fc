"""Chapter 6's figures: accuracy against the training-set size with the interval of the
difference, learning curves as small multiples (one panel per model, every seed), and
how much worse each variant fits its training images than vanilla ViT, epoch by epoch.

Like every figure of :mod:`vitsd.book.plots`, each function returns a
:class:`matplotlib.figure.Figure` built without ``pyplot``; text is 10 pt and figures
are at most 5.2 in wide (a phone's column).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

#: One colour per model, the same in every figure of chapter 6.
COLORS = {"vit": "C0", "spt": "C1", "lsa": "C4", "sl-vit": "C3", "resnet20": "C2",
          "conv-vit": "C5"}
_FONT = 10


def _color(model: str, k: int) -> str:
    return COLORS.get(model, f"C{k % 10}")


def plot_size_comparison(panels: Mapping, better: str = "sl-vit", worse: str = "vit",
                         extra: Mapping | None = None) -> Figure:
    """Test top-1 against the number of training images, one column per dataset, and
    under it ``better`` minus ``worse`` with its interval.

    ``panels``: ``{title: (groups, rows)}`` -- ``groups`` as
    :func:`vitsd.book.comparison.by_training_size` gives them (``{training images:
    {model: [record, ...]}}``), ``rows`` as :func:`~vitsd.book.comparison.size_rows`
    (``difference``, ``low``, ``high`` in points where both models have runs).
    ``extra``: ``{title: {model: [record, ...]}}`` -- other models drawn as dots only
    (a CNN baseline on the whole training set). Each run is a dot; a line joins each
    model's means; the x axes are logarithmic.
    """
    if not panels:
        raise ValueError("panels is empty: pass {title: (groups, rows)} for at least one "
                         "dataset.")
    extra = extra or {}
    fig = Figure(figsize=(5.2, 5.2), layout="constrained")
    axes = fig.subplots(2, len(panels), squeeze=False, sharex="col",
                        gridspec_kw={"height_ratios": (3, 2)})
    for column, (title, (groups, rows)) in enumerate(panels.items()):
        top, bottom = axes[0, column], axes[1, column]
        sizes = sorted(groups)
        models = [m for m in (worse, better) if any(m in groups[s] for s in sizes)]
        for k, model in enumerate(models):
            xs, means = [], []
            for size in sizes:
                records = groups[size].get(model, [])
                if not records:
                    continue
                values = [100 * r["test"]["top1"] for r in records]
                top.scatter([size] * len(values), values, color=_color(model, k), s=14,
                            alpha=0.6, linewidths=0)
                xs.append(size)
                means.append(float(np.mean(values)))
            top.plot(xs, means, color=_color(model, k), marker="o", markersize=4,
                     label=model)
        for k, (model, records) in enumerate((extra.get(title) or {}).items()):
            values = [100 * r["test"]["top1"] for r in records]
            size = int(records[0]["splits"]["train"])
            top.scatter([size] * len(values), values, color=_color(model, k + 2), s=22,
                        marker="D", label=model)
        with_gap = [r for r in rows if "difference" in r]
        bottom.axhline(0, color="0.5", linewidth=0.8)
        if with_gap:
            x = np.array([r["training images"] for r in with_gap])
            y = np.array([r["difference"] for r in with_gap])
            error = np.array([[r["difference"] - r["low"] for r in with_gap],
                              [r["high"] - r["difference"] for r in with_gap]])
            bottom.errorbar(x, y, yerr=error, fmt="o", color=_color(better, 1),
                            capsize=3, markersize=4)
        ticks = sizes
        for ax in (top, bottom):
            ax.set_xscale("log")
            ax.minorticks_off()
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=_FONT)
        bottom.set_xticks(ticks, [f"{t // 1000}k" if t >= 1000 else str(t) for t in ticks])
        bottom.set_xlim(min(ticks) / 1.5, max(ticks) * 1.5)
        top.set_title(title, fontsize=_FONT)
        bottom.set_xlabel("training images", fontsize=_FONT)
        if column == 0:
            top.set_ylabel("test top-1 (%)", fontsize=_FONT)
            bottom.set_ylabel(f"{better} − {worse}\n(points, 95% CI)", fontsize=_FONT)
        top.legend(frameon=False, fontsize=_FONT, loc="lower right")
    return fig


def plot_curves_by_model(runs: Mapping, metric: str = "accuracy", columns: int = 2) -> Figure:
    """Learning curves as small multiples: one panel per model (``runs``: ``{model:
    [record per seed]}``), every seed a thin line, training (solid, on augmented
    images) and validation (dashed) ``metric`` per epoch; the panels share their axes."""
    if not runs:
        raise ValueError("runs is empty: pass {model: [record, ...]}.")
    rows = -(-len(runs) // columns)
    fig = Figure(figsize=(5.2, 1.9 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False, sharex=True, sharey=True).ravel()
    scale = 100 if "accuracy" in metric or metric == "top5" else 1
    for k, (ax, (model, records)) in enumerate(zip(axes, runs.items())):
        for record in records:
            history = record["history"]
            for key, style in ((metric, "-"), (f"val_{metric}", "--")):
                values = scale * np.asarray(history.get(key) or [], dtype=float)
                ax.plot(np.arange(1, len(values) + 1), values, linestyle=style,
                        color=_color(model, k), linewidth=1, alpha=0.8)
        ax.set_title(f"{model} ({len(records)} seed{'s' if len(records) > 1 else ''})",
                     fontsize=_FONT)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=_FONT)
    for ax in axes[len(runs):]:
        ax.set_axis_off()
    for index in range(len(runs)):  # the lowest panel of each column gets the x axis
        if index + columns >= len(runs):
            axes[index].set_xlabel("epoch", fontsize=_FONT)
            axes[index].xaxis.set_tick_params(labelbottom=True)
    label = {"accuracy": "top-1 (%)", "loss": "loss"}.get(metric, metric)
    for ax in axes[::columns]:
        ax.set_ylabel(label, fontsize=_FONT)
    from matplotlib.lines import Line2D

    fig.legend(handles=[Line2D([], [], color="0.3", label="training (augmented)"),
                        Line2D([], [], color="0.3", linestyle="--", label="validation")],
               loc="outside upper center", ncols=2, frameon=False, fontsize=_FONT)
    return fig


def plot_loss_gaps(gaps: Mapping, reference: str = "vit") -> Figure:
    """``gaps``: ``{model: per-epoch difference of mean training loss from the
    reference}`` (:func:`vitsd.book.comparison.loss_gaps`), one line per model; above
    zero, the model fits its training images worse than ``reference``."""
    if not gaps:
        raise ValueError("gaps is empty: pass {model: per-epoch differences}.")
    fig = Figure(figsize=(5.2, 2.8), layout="constrained")
    ax = fig.subplots()
    ax.axhline(0, color="0.5", linewidth=0.8)
    for k, (model, values) in enumerate(gaps.items()):
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, color=_color(model, k), label=model)
    ax.set_xlabel("epoch", fontsize=_FONT)
    ax.set_ylabel(f"training loss − {reference}'s", fontsize=_FONT)
    ax.tick_params(labelsize=_FONT)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=_FONT)
    return fig
