"""The book's from-scratch versions of the package's layers, in plain NumPy, shown next
to the layers they re-derive and tested equal to them (chapter 3).

* :func:`spt_patches` -- Shifted Patch Tokenization's flat patches in five lines:
  what :meth:`vitsd.ShiftedPatchTokenization.flat_patches` computes, before the layer
  normalisation and the projection.
"""

from __future__ import annotations

import numpy as np


def spt_patches(images, patch_size: int) -> np.ndarray:
    """The image and its four diagonal shifts by half a patch, stacked on the channels
    and cut into flat patches: ``(batch, patches, patch_size**2 * 5 * channels)``.

    ``images``: ``(batch, H, W, C)``, ``H`` and ``W`` divisible by ``patch_size``. The
    views come in the layer's order: the original, then the content moved left-up,
    left-down, right-up and right-down, zeros where it moved away.
    """
    images = _checked(images, patch_size)
    n, h, w, c = images.shape
    p = patch_size
    s = p // 2
    padded = np.pad(images, ((0, 0), (s, s), (s, s), (0, 0)))  # a border of s zeros
    views = [images] + [padded[:, s + dy:s + dy + h, s + dx:s + dx + w]  # view = image[y+dy, x+dx]
                        for dy, dx in ((s, s), (-s, s), (s, -s), (-s, -s))]
    stack = np.concatenate(views, axis=-1)  # (n, h, w, 5c)
    grid = stack.reshape(n, h // p, p, w // p, p, 5 * c).transpose(0, 1, 3, 2, 4, 5)
    return grid.reshape(n, (h // p) * (w // p), p * p * 5 * c)


def _checked(images, patch_size) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be a batch (batch, height, width, channels), got "
                         f"shape {images.shape}.")
    p = patch_size
    if isinstance(p, bool) or not isinstance(p, int) or p < 2:
        raise ValueError(f"patch_size must be an integer of at least 2, got {patch_size!r}.")
    _, h, w, _ = images.shape
    if h % p or w % p:
        raise ValueError(f"the image size ({h}x{w}) must be divisible by patch_size ({p}).")
    return images
