"""Images, augmentations and patches (chapters 1, 2, 3 and 8)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from vitsd.book.plots._base import (
    _GRID_COLUMNS,
    _GRID_WIDTH,
    _OUTLINE,
    PANEL,
    _as_image_list,
    _caption_lines,
    _check_positive_int,
    _draw_grid,
    _grid_figure,
    _label_text,
    _show,
    _wrap_caption,
    to_display,
)


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
