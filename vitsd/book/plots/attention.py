"""Attention: matrices, the softmax temperature, rollout overlays and per-block
profiles (chapters 4 and 7)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from vitsd.book.plots._base import (
    _BAD_MARKS,
    _GREEN,
    _OK_MARKS,
    _RED,
    CHART,
    _as_image_list,
    _check_positive_int,
    _grid_figure,
    _show,
    to_display,
    upsample_map,
)


def plot_attention_matrices(matrices, titles=None, cmap: str = "viridis",
                            scale: str = "shared", mark_diagonal: bool = False,
                            ncols: int = 2) -> Figure:
    """Heatmaps of ``(N, N)`` attention matrices side by side.

    Rows are query tokens, columns key tokens (chapter 4). ``matrices`` is a sequence of
    2-D arrays or one array ``(k, N, N)`` (a single ``(N, N)`` matrix also works).
    ``scale="shared"``: one colour bar for all panels (their values compare directly);
    ``"per_panel"``: each panel its own colour bar, from its own minimum to maximum, so
    that a panel whose weights are all near 1/N still shows its structure -- and a
    zero diagonal stands out -- when another panel holds a large outlier.
    ``mark_diagonal`` outlines the diagonal cells (a token attending to itself).
    At most ``ncols`` panels a row, 2.6 inches each, with every text at 10 points or
    more: legible on a phone.
    """
    if scale not in ("shared", "per_panel"):
        raise ValueError(f"scale must be 'shared' or 'per_panel', got {scale!r}.")
    if isinstance(matrices, (list, tuple)):
        mats = [np.asarray(m, dtype=np.float64) for m in matrices]
    else:
        arr = np.asarray(matrices, dtype=np.float64)
        mats = [arr] if arr.ndim == 2 else list(arr)
    if not mats or any(m.ndim != 2 for m in mats):
        raise ValueError(
            "matrices must be 2-D arrays (query tokens x key tokens), got shapes "
            f"{[m.shape for m in mats]}."
        )
    titles = [None] * len(mats) if titles is None else list(titles)
    if len(titles) != len(mats):
        raise ValueError(f"titles must have one entry per matrix ({len(mats)}), got {len(titles)}.")

    def limits(group):
        low = min(float(np.nanmin(m)) for m in group)
        high = max(float(np.nanmax(m)) for m in group)
        return (low, high) if high > low else (low, low + 1.0)

    _check_positive_int(ncols, "ncols")
    shared = limits(mats)
    cols = min(ncols, len(mats))
    rows = math.ceil(len(mats) / cols)
    fig = Figure(figsize=(2.6 * cols + (0.4 if scale == "shared" else 0.0), 2.55 * rows),
                 layout="constrained")
    grid = fig.subplots(rows, cols, squeeze=False).ravel()
    for spare in grid[len(mats):]:
        spare.remove()
    axes = grid[:len(mats)]
    for ax, m, title in zip(axes, mats, titles):
        vmin, vmax = shared if scale == "shared" else limits([m])
        image = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        if mark_diagonal:
            n = min(m.shape)
            ax.plot(np.arange(n), np.arange(n), linestyle="none", marker="s",
                    markersize=max(2.0, 90.0 / max(m.shape)), markerfacecolor="none",
                    markeredgecolor="red", markeredgewidth=0.7)
        ax.set_xlabel("key token")
        ax.set_ylabel("query token")
        if title is not None:
            ax.set_title(str(title), fontsize="medium")
        if scale == "per_panel":
            fig.colorbar(image, ax=ax, shrink=0.85)
    if scale == "shared":
        fig.colorbar(image, ax=list(axes), shrink=0.85, label="attention weight")
    return fig


def _softmax(x):
    z = x - x.max()
    e = np.exp(z)
    return e / e.sum()


def plot_softmax_temperature(logits, temperatures, symbol: str = "T") -> Figure:
    """``softmax(logits / t)`` for each temperature ``t`` (chapter 4).

    A low temperature sharpens the distribution towards the largest logit; locality
    self-attention learns its temperature. Up to 16 logits are drawn as grouped bars,
    more as lines with markers. ``symbol`` names the temperature in the title and
    legend (chapter 4 writes ``"τ"``, LSA's learnable temperature).
    """
    logits = np.asarray(logits, dtype=np.float64).ravel()
    temperatures = [float(t) for t in np.atleast_1d(np.asarray(temperatures, dtype=np.float64))]
    if logits.size == 0:
        raise ValueError("logits must hold at least one value.")
    if not temperatures or any(not (t > 0 and math.isfinite(t)) for t in temperatures):
        raise ValueError(f"temperatures must be positive finite numbers, got {temperatures}.")
    x = np.arange(logits.size)
    fig = Figure(figsize=(max(CHART[0], 0.45 * logits.size + 1.5), CHART[1]), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(temperatures)
    for k, t in enumerate(temperatures):
        probs = _softmax(logits / t)
        label = f"{symbol} = {t:g}"
        if logits.size <= 16:
            ax.bar(x - 0.4 + width * (k + 0.5), probs, width=width, label=label, color=f"C{k}")
        else:
            ax.plot(x, probs, marker="o", markersize=3, label=label, color=f"C{k}")
    ax.set_xlabel("token")
    ax.set_ylabel("probability")
    ax.set_title(f"softmax(logits / {symbol})", fontsize="medium")
    if logits.size <= 16:
        ax.set_xticks(x)
    ax.set_ylim(0, None)
    ax.legend(frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_attention_overlay(
    images, maps, titles=None, ncols: int = 4, alpha: float = 0.5, cmap: str = "inferno"
) -> Figure:
    """Attention maps laid over their images (chapter 7).

    ``maps`` is ``(B, g, g)`` (or ``(B, g*g)``, e.g. straight from
    :func:`vitsd.inspection.rollout.attention_rollout`). Each map is upsampled bilinearly to the
    image size, min-max scaled to ``[0, 1]`` and drawn with transparency ``alpha``. A
    title starting with "✓" is coloured green, one starting with "✗" red.
    """
    _check_positive_int(ncols, "ncols")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}.")
    images = _as_image_list(images, "images")
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim == 1:
        maps = maps[None]
    if maps.ndim == 2:
        g = math.isqrt(maps.shape[1])
        if maps.shape[0] == len(images) and g * g == maps.shape[1]:
            maps = maps.reshape(-1, g, g)  # (B, N) token weights
        elif len(images) == 1:
            maps = maps[None]  # one (g, g) map
        else:
            raise ValueError(
                f"maps must be (B, g, g) or (B, g*g) with a square token count, got {maps.shape}."
            )
    if maps.ndim != 3 or maps.shape[0] != len(images):
        raise ValueError(
            f"maps must have shape (B, g, g) with one map per image ({len(images)}), "
            f"got {maps.shape}."
        )
    if titles is not None:
        titles = list(titles)
        if len(titles) != len(images):
            raise ValueError(
                f"titles must have one entry per image ({len(images)}), got {len(titles)}."
            )
    fig, axes = _grid_figure(len(images), ncols, panel=2.2)
    for i, (ax, image, m) in enumerate(zip(axes, images, maps)):
        shown = to_display(image)
        h, w = shown.shape[:2]
        up = upsample_map(m, h, w)
        lo, hi = up.min(), up.max()
        up = (up - lo) / (hi - lo) if hi > lo else np.zeros_like(up)
        _show(ax, shown)
        ax.imshow(up, cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0, interpolation="bilinear")
        if titles is not None:
            title = str(titles[i])
            style = {}
            if title.startswith(_OK_MARKS):
                style["color"] = _GREEN
            elif title.startswith(_BAD_MARKS):
                style["color"] = _RED
            ax.set_title(title, fontsize="medium", **style)
    return fig


def plot_rollout_comparison(images, maps_by_model, captions_by_model, row_titles=None,
                            alpha: float = 0.5, cmap: str = "inferno") -> Figure:
    """The same images under several models (chapter 7): one row per image -- the photo,
    then each model's attention map laid over it (as :func:`plot_attention_overlay`).

    ``maps_by_model``: ``{model: (B, g, g) maps}``; ``captions_by_model``: ``{model: B
    captions}``, each coloured green when it starts with "✓", red with "✗";
    ``row_titles``: B titles of the photos (e.g. the true class). 3 panels of 1.75 in
    per row at 10 pt: legible in a phone's column."""
    images = _as_image_list(images, "images")
    models = list(maps_by_model)
    if not models or set(models) != set(captions_by_model):
        raise ValueError("maps_by_model and captions_by_model must name the same models.")
    for model in models:
        if len(maps_by_model[model]) != len(images) or \
                len(captions_by_model[model]) != len(images):
            raise ValueError(f"{model}: one map and one caption per image "
                             f"({len(images)}) are needed.")
    if row_titles is not None and len(row_titles) != len(images):
        raise ValueError(f"row_titles must have one entry per image ({len(images)}).")
    ncols = 1 + len(models)
    panel = min(1.75, 5.4 / ncols)
    fig = Figure(figsize=(ncols * panel, len(images) * (panel + 0.45)), layout="constrained")
    axes = fig.subplots(len(images), ncols, squeeze=False)
    for r, image in enumerate(images):
        shown = to_display(image)
        h, w = shown.shape[:2]
        _show(axes[r, 0], shown)
        if row_titles is not None:
            axes[r, 0].set_title(str(row_titles[r]), fontsize=10)
        for c, model in enumerate(models, 1):
            up = upsample_map(np.asarray(maps_by_model[model][r], dtype=np.float64), h, w)
            lo, hi = up.min(), up.max()
            up = (up - lo) / (hi - lo) if hi > lo else np.zeros_like(up)
            _show(axes[r, c], shown)
            axes[r, c].imshow(up, cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0,
                              interpolation="bilinear")
            title = str(captions_by_model[model][r])
            style = {}
            if title.startswith(_OK_MARKS):
                style["color"] = _GREEN
            elif title.startswith(_BAD_MARKS):
                style["color"] = _RED
            axes[r, c].set_title(title, fontsize=10, **style)
    return fig


def plot_attention_profiles(spreads, reference=None) -> Figure:
    """How sharp and how far each block attends, one line per model (chapter 4).

    ``spreads``: ``{model: {"entropy": spread, "distance": spread}}``, each ``spread``
    a :func:`vitsd.inspection.locality.seed_spread` (``mean``, ``low``, ``high``: one
    value per block; ``seeds``). Top panel: the mean entropy of the attention rows
    (nats); bottom: the mean attention distance (patches). The line is the mean over
    seeds, the band the range from the lowest to the highest seed. ``reference``:
    optional ``{"entropy": value, "distance": value}``, drawn as a dotted grey line
    labelled "uniform attention".
    """
    if not spreads:
        raise ValueError("spreads is empty: pass {model: {'entropy': ..., 'distance': ...}}"
                         " with the seed_spread of each.")
    panels = (("entropy", "entropy (nats)"), ("distance", "distance (patches)"))
    fig = Figure(figsize=(5.2, 5.0), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    for ax, (key, label) in zip(axes, panels):
        for k, (model, by_key) in enumerate(spreads.items()):
            try:
                spread = by_key[key]
                mean, low, high = (np.asarray(spread[s], float) for s in ("mean", "low", "high"))
            except (KeyError, TypeError):
                raise ValueError(f"spreads[{model!r}] needs {key!r} with mean, low and high "
                                 "(vitsd.inspection.locality.seed_spread).") from None
            blocks = np.arange(len(mean))
            seeds = spread.get("seeds")
            name = f"{model} ({seeds} seeds)" if seeds and seeds > 1 else model
            ax.plot(blocks, mean, color=f"C{k}", marker="o", label=name)
            ax.fill_between(blocks, low, high, color=f"C{k}", alpha=0.2, linewidth=0)
        if reference and key in reference:
            ax.axhline(reference[key], color="0.5", linestyle=":", label="uniform attention")
        ax.set_ylabel(label, fontsize=10)
        ax.tick_params(labelsize=10)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("block", fontsize=10)
    axes[-1].set_xticks(np.arange(len(mean)))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=2, frameon=False,
               fontsize=10, title="line: mean over seeds; band: lowest to highest seed",
               title_fontsize=10)
    return fig
