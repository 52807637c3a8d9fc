"""Pad-and-crop (chapter 6): the standard CIFAR augmentation, per image, in ``tf.data``.

:class:`RandomPadCrop` pads every image and crops a random window of the original size;
:func:`crop_augmentation` adds a random flip: the CPU preset's ``augment == "crop"``.
"""

from __future__ import annotations

import numbers

import keras
import tensorflow as tf


class RandomPadCrop:
    """Pad every image by ``padding`` pixels of zeros, then crop a random window of the
    original size from it, independently per image (chapter 6).

    This is the standard CIFAR augmentation (``torchvision``'s
    ``RandomCrop(32, padding=4)``): a shift of up to ``padding`` pixels in each
    direction, whole pixels only, the uncovered border black. Offsets are drawn from a
    seeded TensorFlow random generator, one pair per image, so two images of a batch
    (almost always) move differently. A ``tf.data`` map function on ``(B, H, W, C)``
    batches; it keeps the dtype.
    """

    def __init__(self, padding: int = 4, seed: int | None = None):
        if isinstance(padding, bool) or not isinstance(padding, numbers.Integral) \
                or padding < 0:
            raise ValueError(f"padding must be a non-negative integer, got {padding!r}.")
        self.padding = int(padding)
        self._rng = (tf.random.Generator.from_non_deterministic_state() if seed is None
                     else tf.random.Generator.from_seed(seed))

    def offsets(self, batch: int):
        """``(batch, 2)`` int32 (row, column) corners in the padded image, each in
        ``0..2 * padding``."""
        return self._rng.uniform((batch, 2), 0, 2 * self.padding + 1, dtype=tf.int32)

    def __call__(self, images):
        if self.padding == 0:
            return images
        return self.crop(images, self.offsets(tf.shape(images)[0]))

    def crop(self, images, corners):
        """Pad ``images`` (``(B, H, W, C)``) and cut each at its ``corners[b]`` (row,
        column in the padded image): the deterministic half of the augmentation."""
        p = self.padding
        shape = tf.shape(images)
        height, width = shape[1], shape[2]
        corners = tf.cast(corners, tf.int32)
        padded = tf.pad(images, [[0, 0], [p, p], [p, p], [0, 0]])
        rows = corners[:, :1] + tf.range(height)[None, :]  # (B, H)
        cols = corners[:, 1:] + tf.range(width)[None, :]  # (B, W)
        out = tf.gather(padded, rows, axis=1, batch_dims=1)  # (B, H, W + 2p, C)
        return tf.gather(out, cols, axis=2, batch_dims=1)  # (B, H, W, C)


def crop_augmentation(config):
    """Random pad-and-crop (:class:`RandomPadCrop`, ``config.crop_padding`` pixels)
    then a random flip, per image: the cheap standard CIFAR augmentation of the CPU
    preset (``config.augment == "crop"``). A function of a batch of images."""
    crop = RandomPadCrop(config.crop_padding, seed=config.seed + 5)
    flip = (keras.layers.RandomFlip(config.flip, seed=config.seed, dtype="float32",
                                    name="flip") if config.flip != "none" else None)

    def augment(images, training=True):
        images = crop(images)
        return flip(images, training=training) if flip is not None else images

    return augment
