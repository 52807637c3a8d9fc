"""What every figure module shares: sizes, colours and marks, the mapping of images to
displayable colours, grids of image panels and their captions."""

from __future__ import annotations

import math

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


def _wrap_caption(text: str, panel: float) -> str:
    """``text`` wrapped between words to the width of a ``panel``-inch image at 10 pt
    (about 11 characters per inch); explicit line breaks are kept."""
    import textwrap

    width = max(8, int(panel * 11))
    return "\n".join(textwrap.fill(line, width) or line for line in str(text).split("\n"))


def _caption_lines(captions) -> int:
    return max((str(c).count("\n") + 1 for c in captions if c), default=1)
