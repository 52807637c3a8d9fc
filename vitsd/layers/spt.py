"""Shifted Patch Tokenization, SPT (taught in chapter 3).

From "Vision Transformer for Small-Size Datasets" (Lee, Lee & Song, arXiv 2112.13492):
before cutting patches, the image is shifted diagonally by half a patch in four
directions. The original and the four shifted copies are stacked along the channels
(3 -> 15 channels), so every patch also sees the pixels of its neighbours: a wider
receptive field for each token. The 15-channel patches are flattened, layer-normalised
and linearly projected to tokens.

With ``vanilla=True`` the layer is plain ViT tokenization (patches -> projection), so
the two tokenizers are one argument apart. ``norm`` switches the LayerNorm over each
flat patch on or off independently of the shifts (default: on for SPT, off for plain
patches, as in the paper); chapter 6 measures what it costs.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from vitsd.layers.patches import extract_patches

#: The four diagonal shifts, in the order they are stacked after the original image.
#: Each name says where the image *content* moves: "left-up" moves it half a patch to
#: the left and half a patch up, filling the uncovered bottom and right with zeros.
SHIFTS = ("left-up", "left-down", "right-up", "right-down")

_DIRECTIONS = {  # name -> (vertical, horizontal) direction of the content
    "left-up": (-1, -1),
    "left-down": (1, -1),
    "right-up": (-1, 1),
    "right-down": (1, 1),
}


def shift_images(images, shift: int, direction: str):
    """Move ``(batch, H, W, C)`` image content by ``shift`` pixels diagonally.

    ``direction`` is one of :data:`SHIFTS`. Pixels moved out are dropped; the
    uncovered border is zero (the mean, once images are normalised).
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be one of {SHIFTS}, got {direction!r}.")
    if shift == 0:
        return images
    dy, dx = _DIRECTIONS[direction]
    _, height, width, _ = images.shape
    # Crop the part that stays in view, then pad on the side the content moved away from.
    top = shift if dy < 0 else 0
    left = shift if dx < 0 else 0
    kept = images[:, top : top + height - shift, left : left + width - shift, :]
    pad_top = shift if dy > 0 else 0
    pad_left = shift if dx > 0 else 0
    return ops.pad(
        kept,
        [[0, 0], [pad_top, shift - pad_top], [pad_left, shift - pad_left], [0, 0]],
    )


@keras.saving.register_keras_serializable(package="vitsd")
class ShiftedPatchTokenization(layers.Layer):
    """Images ``(batch, S, S, C)`` -> tokens ``(batch, (S/p)^2, projection_dim)``.

    SPT (default): concatenate the image with its four half-patch diagonal shifts
    (``5*C`` channels), cut patches, LayerNorm, project. ``vanilla=True``: cut patches
    of the image alone and project (no shifts, no LayerNorm), as the plain ViT does.
    ``norm`` (``None``: the default of the kind, ``not vanilla``) puts the LayerNorm
    over each flat patch before the projection, or leaves it out.
    """

    def __init__(
        self,
        patch_size: int,
        projection_dim: int,
        vanilla: bool = False,
        layer_norm_eps: float = 1e-6,
        norm: bool | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.patch_size = patch_size
        self.projection_dim = projection_dim
        self.vanilla = vanilla
        self.layer_norm_eps = layer_norm_eps
        if norm is not None and not isinstance(norm, bool):
            raise ValueError(f"norm must be true, false or None (the default), got {norm!r}.")
        self.norm = norm
        self.half_patch = patch_size // 2
        self.projection = layers.Dense(projection_dim, name="projection")
        use_norm = (not vanilla) if norm is None else norm
        self.layer_norm = (
            layers.LayerNormalization(epsilon=layer_norm_eps, name="layer_norm")
            if use_norm else None
        )

    def build(self, input_shape):
        _, height, width, channels = input_shape
        n = (height // self.patch_size) * (width // self.patch_size)
        depth = self.patch_size**2 * channels * (1 if self.vanilla else 1 + len(SHIFTS))
        if self.layer_norm is not None:
            self.layer_norm.build((None, n, depth))
        self.projection.build((None, n, depth))
        self.built = True

    def shifted_views(self, images):
        """The original plus the four shifted images, concatenated on channels."""
        return ops.concatenate(
            [images] + [shift_images(images, self.half_patch, d) for d in SHIFTS], axis=-1
        )

    def flat_patches(self, images):
        """What gets projected: flat (shifted) patches, ``(batch, N, p*p*C')``."""
        if not self.vanilla:
            images = self.shifted_views(images)
        return extract_patches(images, self.patch_size)

    def call(self, images):
        tokens = self.flat_patches(images)
        if self.layer_norm is not None:
            tokens = self.layer_norm(tokens)
        return self.projection(tokens)

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        return (b, (h // self.patch_size) * (w // self.patch_size), self.projection_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "patch_size": self.patch_size,
            "projection_dim": self.projection_dim,
            "vanilla": self.vanilla,
            "layer_norm_eps": self.layer_norm_eps,
            "norm": self.norm,
        }
