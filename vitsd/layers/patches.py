"""Patches and their encoding (taught in chapter 2, "Patches").

The position embedding the encoder adds is :mod:`vitsd.layers.position`.

A ViT reads an image as a sequence: the image is cut into non-overlapping
``patch_size x patch_size`` squares, each square is flattened into a vector
(row by row, channels last), projected to ``projection_dim`` and given a learned
position embedding so that the transformer knows where each patch came from.

Everything here uses ``keras.ops`` only, so it runs on every Keras backend. (The
keras.io reference passes TensorFlow-style 4-element strides to
``extract_patches``, which fails on JAX; a reshape and a transpose do the same job
with an exactly known layout.)
"""

from __future__ import annotations

import keras
from keras import layers, ops

from vitsd.layers.position import PositionEmbedding


def extract_patches(images, patch_size: int):
    """Cut ``(batch, H, W, C)`` images into ``(batch, (H/p)*(W/p), p*p*C)`` patches.

    Patches are ordered row by row over the grid; inside a patch the values are
    ordered row, column, channel -- the layout of ``tf.image.extract_patches``.
    ``H`` and ``W`` must be static and divisible by ``patch_size``.
    """
    _, height, width, channels = images.shape
    if height is None or width is None or channels is None:
        raise ValueError(
            "extract_patches needs images with a static height, width and channels; "
            f"got shape {images.shape}. Resize to a fixed size first."
        )
    if height % patch_size or width % patch_size:
        raise ValueError(
            f"image height and width ({height}x{width}) must be divisible by "
            f"patch_size ({patch_size})."
        )
    rows, cols = height // patch_size, width // patch_size
    x = ops.reshape(images, (-1, rows, patch_size, cols, patch_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, rows * cols, patch_size * patch_size * channels))


@keras.saving.register_keras_serializable(package="vitsd")
class Patches(layers.Layer):
    """Layer form of :func:`extract_patches` (chapter 2)."""

    def __init__(self, patch_size: int, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = patch_size

    def call(self, images):
        return extract_patches(images, self.patch_size)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        p = self.patch_size
        return (b, (h // p) * (w // p), p * p * c)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size}


@keras.saving.register_keras_serializable(package="vitsd")
class PatchEncoder(layers.Layer):
    """Linear projection of flat patches plus a learned position embedding (chapter 2).

    This is the encoder of the classic ViT example: ``(batch, N, p*p*C)`` flat
    patches in, ``(batch, N, projection_dim)`` tokens out.
    """

    def __init__(self, num_patches: int, projection_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.num_patches = num_patches
        self.projection_dim = projection_dim
        self.projection = layers.Dense(projection_dim, name="projection")
        self.position = PositionEmbedding(num_patches, projection_dim, name="position")

    def build(self, input_shape):
        self.projection.build(input_shape)
        self.position.build((None, self.num_patches, self.projection_dim))
        self.built = True

    def call(self, patches):
        return self.position(self.projection(patches))

    def get_config(self):
        return {
            **super().get_config(),
            "num_patches": self.num_patches,
            "projection_dim": self.projection_dim,
        }
