"""Figures for every chapter of the book (each function names the chapter it serves).

Chapter 1 "Data": :func:`plot_images`, :func:`plot_augmentations`.
Chapter 2 "Patches": :func:`plot_patch_grid`, :func:`plot_patches`.
Chapter 3 "Shifted Patch Tokenization": :func:`plot_shifted_views`.
Chapter 4 "Locality Self-Attention": :func:`plot_attention_matrices`,
:func:`plot_softmax_temperature`, :func:`plot_attention_profiles`.
Chapter 6 "Training and comparison": :func:`plot_history`, :func:`plot_learning_rate`,
:func:`plot_results_table`.
Chapter 7 "Looking inside": :func:`plot_attention_overlay`.
Chapter 8 "Going further": :func:`plot_augmented_batches`.

Every function builds and returns a :class:`matplotlib.figure.Figure` without going
through ``pyplot``: nothing is registered globally, nothing is shown, nothing needs
closing, and any backend (``Agg`` included) works. A notebook displays the returned
figure; a script calls ``fig.savefig(path)``.

Images may be ``uint8`` in 0..255 or floats in any range (for instance normalised
with the training mean and variance); :func:`to_display` maps either to ``[0, 1]``.
Tensors from TensorFlow or JAX are accepted wherever arrays are (``np.asarray``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure

#: Size in inches of one image panel in grids of images.
PANEL = 1.6
#: Widest image grid, in inches: at 100 dpi with 10 pt text, a figure this wide keeps
#: its text legible on a phone (tools/browser_check.py); at most this many per row.
_GRID_WIDTH = 5.2
_GRID_COLUMNS = 4
#: Size in inches of one chart panel (history, schedules, matrices).
CHART = (4.2, 3.2)

_OK_MARKS = ("✓", "✔")
_BAD_MARKS = ("✗", "✘")
_GREEN = "#1a7f37"
_RED = "#cf222e"
_OUTLINE = [patheffects.withStroke(linewidth=2.5, foreground="black")]


# ---------------------------------------------------------------------- helpers
def to_display(image) -> np.ndarray:
    """One image as ``float32`` in ``[0, 1]``, ready for ``imshow``.

    Integer images (``uint8``) are read as 0..255 and divided by 255. Float images are
    min-max scaled per image, which undoes any normalisation; a constant float image
    is only clipped to ``[0, 1]``. A trailing channel axis of size 1 is dropped.
    """
    image = np.asarray(image)
    if image.dtype == bool:
        out = image.astype(np.float32)
    elif np.issubdtype(image.dtype, np.integer):
        out = np.clip(image.astype(np.float32) / 255.0, 0.0, 1.0)
    else:
        out = image.astype(np.float32)
        finite = np.isfinite(out)
        lo = float(out[finite].min()) if finite.any() else 0.0
        hi = float(out[finite].max()) if finite.any() else 0.0
        out = np.where(finite, out, lo)
        out = (out - lo) / (hi - lo) if hi > lo else np.clip(out, 0.0, 1.0)
    if out.ndim == 3 and out.shape[-1] == 1:
        out = out[..., 0]
    return out


def upsample_map(attention_map, height: int, width: int | None = None) -> np.ndarray:
    """Bilinear upsampling of a 2-D map ``(g, g')`` to ``(height, width)`` (NumPy only).

    Sample positions are pixel centres (like ``align_corners=False``), so each map cell
    covers its patch and the edges are clamped.
    """
    m = np.asarray(attention_map, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"attention_map must be 2-D, got shape {m.shape}.")
    width = height if width is None else width
    return _interp_matrix(height, m.shape[0]) @ m @ _interp_matrix(width, m.shape[1]).T


def _interp_matrix(out_size: int, in_size: int) -> np.ndarray:
    """Matrix (out_size, in_size) of linear-interpolation weights along one axis."""
    pos = (np.arange(out_size) + 0.5) * in_size / out_size - 0.5
    pos = np.clip(pos, 0, in_size - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = pos - lo
    w = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    np.add.at(w, (rows, lo), 1 - frac)
    np.add.at(w, (rows, hi), frac)
    return w


def _as_image_list(images, name: str) -> list:
    if isinstance(images, (list, tuple)):
        out = [np.asarray(im) for im in images]
    else:
        arr = np.asarray(images)
        if arr.ndim in (2, 3) and not (arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4)):
            arr = arr[None]
        out = list(arr)
    for i, im in enumerate(out):
        if im.ndim not in (2, 3) or (im.ndim == 3 and im.shape[-1] not in (1, 3, 4)):
            raise ValueError(
                f"{name} must be images shaped (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); "
                f"item {i} has shape {im.shape}."
            )
    if not out:
        raise ValueError(f"{name} must hold at least one image.")
    return out


def _grid_figure(count: int, ncols: int, panel=PANEL, title=None, extra_height=0.0):
    """Figure with ``count`` image axes in rows of ``ncols``; unused cells removed."""
    ncols = max(1, min(ncols, count))
    nrows = math.ceil(count / ncols)
    height = nrows * (panel + 0.3) + (0.4 if title else 0.0) + extra_height
    fig = Figure(figsize=(ncols * panel, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.remove()
    if title:
        fig.suptitle(title, fontsize="large")
    return fig, list(axes[:count])


def _show(ax, image, title=None, **title_kwargs):
    """``imshow`` a display-ready image on ``ax`` without ticks."""
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, **{"fontsize": "medium", **title_kwargs})


def _draw_grid(ax, height: int, width: int, patch_size: int, color="white"):
    rows, cols = height // patch_size, width // patch_size
    for k in range(1, cols):
        ax.axvline(k * patch_size - 0.5, color=color, linewidth=0.8, alpha=0.9)
    for k in range(1, rows):
        ax.axhline(k * patch_size - 0.5, color=color, linewidth=0.8, alpha=0.9)
    return rows, cols


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def _label_text(label, class_names):
    arr = np.asarray(label)
    if arr.ndim == 1 and arr.size > 1:  # one-hot or probabilities
        arr = np.asarray(arr.argmax())
    if arr.ndim == 0 and np.issubdtype(arr.dtype, np.integer):
        index = int(arr)
        if class_names is not None and 0 <= index < len(class_names):
            return str(class_names[index])
        return str(index)
    value = arr.item() if arr.ndim == 0 else label
    if isinstance(value, bytes):
        value = value.decode()
    return str(value)


# --------------------------------------------------------------- chapter 1: data
def _wrap_caption(text: str, panel: float) -> str:
    """``text`` wrapped between words to the width of a ``panel``-inch image at 10 pt
    (about 11 characters per inch); explicit line breaks are kept."""
    import textwrap

    width = max(8, int(panel * 11))
    return "\n".join(textwrap.fill(line, width) or line for line in str(text).split("\n"))


def _caption_lines(captions) -> int:
    return max((str(c).count("\n") + 1 for c in captions if c), default=1)


def plot_images(images, labels=None, class_names=None, ncols: int = 4, title=None) -> Figure:
    """A grid of images with their class names as captions (chapter 1).

    ``labels`` may be integer class ids (looked up in ``class_names``), one-hot rows,
    or strings; ``None`` draws no captions. At most four images per row and 5.5 inches
    in all, so that the 10-point captions stay legible on a phone; a long caption
    wraps between words.
    """
    _check_positive_int(ncols, "ncols")
    images = _as_image_list(images, "images")
    if labels is not None:
        labels = list(np.asarray(labels)) if not isinstance(labels, (list, tuple)) else list(labels)
        if len(labels) != len(images):
            raise ValueError(
                f"labels must have one entry per image ({len(images)}), got {len(labels)}."
            )
    ncols = max(1, min(ncols, _GRID_COLUMNS, len(images)))
    panel = min(PANEL, _GRID_WIDTH / ncols)
    captions = [None if labels is None else _wrap_caption(_label_text(label, class_names), panel)
                for label in (labels if labels is not None else images)]
    rows = math.ceil(len(images) / ncols)
    extra = 0.17 * (_caption_lines(captions) - 1) * rows
    fig, axes = _grid_figure(len(images), ncols, panel=panel, title=title, extra_height=extra)
    for ax, image, caption in zip(axes, images, captions):
        _show(ax, to_display(image), caption)
    return fig


def plot_augmentations(image, augmented_list, title=None) -> Figure:
    """The original image followed by augmented versions of it, at most four to a row
    (chapter 1)."""
    augmented = _as_image_list(augmented_list, "augmented_list")
    original = _as_image_list(image, "image")
    if len(original) != 1:
        raise ValueError(f"image must be a single image, got {len(original)} images.")
    panels = original + augmented
    ncols = min(_GRID_COLUMNS, len(panels))
    fig, axes = _grid_figure(len(panels), ncols, panel=_GRID_WIDTH / _GRID_COLUMNS,
                             title=_wrap_caption(title, _GRID_WIDTH / 1.2) if title else None)
    for i, (ax, im) in enumerate(zip(axes, panels)):
        _show(ax, to_display(im), "original" if i == 0 else f"augmented {i}")
    return fig


def plot_augmented_batches(originals, batches, captions=None, row_titles=None,
                           title=None) -> Figure:
    """A batch of images in the first row, then one row per augmented version of the
    same batch (chapter 8): column ``j`` follows image ``j`` through every row, so one
    sees that each image of a batch gets its own operations. At most four columns:
    a batch of eight is drawn as two blocks of four columns, one below the other.

    ``batches``: a list of arrays shaped like ``originals`` ``(B, H, W, C)``;
    ``captions``: per augmented row, one string per image (or ``None``);
    ``row_titles``: one per row, the originals' row included (default "original",
    "pass 1", ...), written to the left of each row.
    """
    originals = _as_image_list(originals, "originals")
    batches = [_as_image_list(batch, f"batches[{i}]") for i, batch in enumerate(batches)]
    count = len(originals)
    for i, batch in enumerate(batches):
        if len(batch) != count:
            raise ValueError(
                f"batches[{i}] must hold one image per original ({count}), got {len(batch)}."
            )
    if captions is not None:
        captions = list(captions)
        if len(captions) != len(batches):
            raise ValueError(
                f"captions must have one row per batch ({len(batches)}), got {len(captions)}."
            )
        for i, row in enumerate(captions):
            if row is not None and len(row) != count:
                raise ValueError(
                    f"captions[{i}] must have one caption per image ({count}), got {len(row)}."
                )
    if row_titles is None:
        row_titles = ["original"] + [f"pass {i + 1}" for i in range(len(batches))]
    row_titles = list(row_titles)
    if len(row_titles) != len(batches) + 1:
        raise ValueError(
            f"row_titles must have one title per row ({len(batches) + 1}), got {len(row_titles)}."
        )
    rows = [originals] + batches
    # At most four columns, 10-point text, under 5.5 inches with the row titles (legible
    # on a phone): a wider batch is drawn in blocks of columns, one below the other.
    blocks = math.ceil(count / _GRID_COLUMNS)
    ncols = math.ceil(count / blocks)
    panel = min(PANEL, (_GRID_WIDTH - 0.3) / ncols)
    if captions is not None:
        captions = [None if row is None else [_wrap_caption(c, panel) if c else c for c in row]
                    for row in captions]
    lines = [0] + [0 if row is None else _caption_lines(row) for row in (captions or [])]
    lines += [0] * (len(rows) - len(lines))
    row_heights = [panel + 0.15 + 0.17 * n for n in lines]
    fig = Figure(figsize=(ncols * panel + 0.3,
                          blocks * sum(row_heights) + (0.4 if title else 0.0)),
                 layout="constrained")
    axes = fig.subplots(blocks * len(rows), ncols, squeeze=False,
                        gridspec_kw=dict(height_ratios=row_heights * blocks))
    for b in range(blocks):
        for r, row in enumerate(rows):
            line = axes[b * len(rows) + r]
            for k, ax in enumerate(line):
                j = b * ncols + k
                if j >= count:
                    ax.remove()
                    continue
                _show(ax, to_display(row[j]))
                if r and captions is not None and captions[r - 1] is not None \
                        and captions[r - 1][j]:
                    ax.set_title(captions[r - 1][j], fontsize="medium")
            line[0].set_ylabel(row_titles[r], fontsize="medium")
    if title:
        fig.suptitle(_wrap_caption(title, _GRID_WIDTH / 1.2), fontsize="large")
    return fig


# ------------------------------------------------------------ chapter 2: patches
def plot_patch_grid(image, patch_size: int) -> Figure:
    """The image with its patch grid drawn over it and a few patch indices (chapter 2).

    Patches are numbered row-major (left to right, then top to bottom), the order in
    which they become tokens.
    """
    _check_positive_int(patch_size, "patch_size")
    (image,) = _as_image_list(image, "image")
    height, width = image.shape[:2]
    if patch_size > min(height, width):
        raise ValueError(
            f"patch_size ({patch_size}) must not exceed the image size ({height}x{width})."
        )
    fig = Figure(figsize=(4.2, 4.2 * height / width + 0.4), layout="constrained")
    ax = fig.subplots()
    _show(ax, to_display(image))
    rows, cols = _draw_grid(ax, height, width, patch_size)
    if rows * cols <= 16:
        labelled = [(r, c) for r in range(rows) for c in range(cols)]
    else:
        labelled = {(0, 0), (0, 1), (0, 2), (0, cols - 1), (1, 0), (rows - 1, cols - 1)}
    fontsize = 10.0  # the smallest size a phone keeps legible (tools/browser_check.py)
    for r, c in sorted(labelled):
        ax.text(
            c * patch_size + (patch_size - 1) / 2, r * patch_size + (patch_size - 1) / 2,
            str(r * cols + c), color="white", ha="center", va="center",
            fontsize=fontsize, fontweight="bold", path_effects=_OUTLINE,
        )
    ax.set_title(
        f"{rows}x{cols} = {rows * cols} patches of {patch_size}x{patch_size} pixels",
        fontsize="medium",
    )
    return fig


def plot_patches(patches, patch_size: int, channels: int = 3) -> Figure:
    """Flattened patches ``(N, patch_size * patch_size * channels)`` as a grid of tiles.

    Each patch is a row-major, channels-last flattening of a square patch, as the
    patch-extraction layer produces it; the ``sqrt(N) x sqrt(N)`` tiles are drawn with
    gaps between them to show that the model sees separate pieces (chapter 2). A
    leading batch axis of size 1 is dropped. All tiles share one intensity scale
    (:func:`to_display` over all patches together).
    """
    _check_positive_int(patch_size, "patch_size")
    _check_positive_int(channels, "channels")
    patches = np.asarray(patches)
    if patches.ndim == 3 and patches.shape[0] == 1:
        patches = patches[0]
    dim = patch_size * patch_size * channels
    if patches.ndim != 2 or patches.shape[1] != dim:
        raise ValueError(
            f"patches must have shape (N, patch_size*patch_size*channels) = (N, {dim}), "
            f"got {patches.shape}."
        )
    n = patches.shape[0]
    grid = math.isqrt(n)
    if grid * grid != n or n == 0:
        raise ValueError(f"the number of patches must be a perfect square, got {n}.")
    tiles = to_display(patches.reshape(n, patch_size, patch_size, channels))
    side = min(6.0, max(2.5, 0.45 * grid))
    fig = Figure(figsize=(side, side + 0.35))
    axes = fig.subplots(grid, grid, squeeze=False, gridspec_kw=dict(wspace=0.12, hspace=0.12))
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.35 / (side + 0.35) - 0.02)
    for ax, tile in zip(axes.ravel(), tiles):
        _show(ax, tile)
    fig.suptitle(f"{n} patches of {patch_size}x{patch_size}", fontsize="large", y=0.995)
    return fig


# ----------------------------------------------- chapter 3: shifted patch tokens
def plot_shifted_views(
    views,
    names=("original", "left-up", "left-down", "right-up", "right-down"),
    patch_size=None,
) -> Figure:
    """The original image and its diagonally shifted copies, at most four to a row and
    5.5 inches wide (five views: rows of three), for phones (chapter 3).

    ``views`` is a sequence or array of images. As a convenience, one array of shape
    ``(H, W, len(names) * C)`` with ``C`` in 1 or 3 (the channel-wise concatenation that
    shifted patch tokenization builds) is split into its views. With ``patch_size`` the
    patch grid is drawn over every view. Float views share one intensity scale so the
    zero padding looks the same in each.
    """
    names = list(names)
    arr = None if isinstance(views, (list, tuple)) else np.asarray(views)
    if arr is not None and arr.ndim == 3 and arr.shape[-1] > 4:
        per_view = arr.shape[-1] // max(len(names), 1)
        if per_view not in (1, 3) or per_view * len(names) != arr.shape[-1]:
            raise ValueError(
                f"views of shape {arr.shape} cannot be split into {len(names)} views of 1 or "
                "3 channels; pass a list of images or matching names."
            )
        views = [arr[..., k * per_view:(k + 1) * per_view] for k in range(len(names))]
    views = _as_image_list(views, "views")
    if len(names) != len(views):
        raise ValueError(f"names must have one entry per view ({len(views)}), got {len(names)}.")
    if patch_size is not None:
        _check_positive_int(patch_size, "patch_size")
    same_shape = len({v.shape for v in views}) == 1
    if same_shape and not np.issubdtype(views[0].dtype, np.integer):
        shown = list(to_display(np.stack(views)))  # one scale for all views
    else:
        shown = [to_display(v) for v in views]
    ncols = math.ceil(len(views) / math.ceil(len(views) / _GRID_COLUMNS))
    fig, axes = _grid_figure(len(views), ncols, panel=min(2.0, _GRID_WIDTH / ncols))
    for ax, view, name in zip(axes, shown, names):
        _show(ax, view, name)
        if patch_size is not None:
            _draw_grid(ax, view.shape[0], view.shape[1], patch_size)
    return fig


# ------------------------------------------- chapter 4: locality self-attention
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


# --------------------------------------------------------- chapter 7: rollout
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


# ------------------------------------------------- chapter 6: training results
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
