"""Random erasing (chapter 8): a rectangle of an image painted over.

Keras' ``RandomErasing`` paints noise; :class:`ConstantErasing` paints the constant
colour of the official code of the SPT/LSA paper (:func:`official_erasing_fill`, from
the training images' :func:`channel_statistics`). :func:`erasing_layer` picks the one a
:class:`~vitsd.config.Config` asks for.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
import tensorflow as tf


def channel_statistics(x, chunk: int = 2048):
    """Per-channel mean and standard deviation of images ``(N, H, W, C)``, in 0..1 units
    (pixel values / 255), computed in float64 a chunk at a time: the statistics the
    official code normalises with (``utils/dataloader.py`` lines 19-20 give CIFAR-100's,
    ``(0.5070, 0.4865, 0.4409)`` and ``(0.2673, 0.2564, 0.2762)``)."""
    x = np.asarray(x)
    if x.ndim != 4 or not len(x):
        raise ValueError(f"x must be a non-empty batch of images (N, H, W, C), got {x.shape}.")
    total = np.zeros(x.shape[-1])
    squares = np.zeros(x.shape[-1])
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk].astype(np.float64) / 255.0
        total += part.sum(axis=(0, 1, 2))
        squares += np.square(part).sum(axis=(0, 1, 2))
    count = x.shape[0] * x.shape[1] * x.shape[2]
    mean = total / count
    return mean, np.sqrt(np.maximum(squares / count - mean**2, 0.0))


def official_erasing_fill(mean, std) -> np.ndarray:
    """The pixel colour (0..255) the official code's random erasing paints.

    ``main.py`` lines 206-214 place ``RandomErasing(..., mean=<dataset mean>)`` *after*
    ``Normalize(mean, std)``, and ``utils/random_erasing.py`` lines 37-39 write that
    mean (in 0..1 units) into the already normalised image. Normalised value ``mean``
    is the pixel ``255 * (mean + mean * std)``: for CIFAR-100 about (164, 156, 143), a
    light grey, not the mean colour (about (129, 124, 112)). vitsd erases raw pixels
    before the model normalises them, so it paints that pixel value.
    """
    mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    return 255.0 * (mean + mean * std)


class ConstantErasing:
    """Random erasing as the official code does it (``utils/random_erasing.py``),
    independently per image (chapter 8).

    With probability ``probability`` (``main.py`` line 100: 0.25) an image gets one
    rectangle of the constant colour ``fill``; otherwise it is unchanged. The rectangle
    is drawn as ``RandomErasing.__call__`` does (lines 21-44): up to ``attempts`` (100)
    times, an area ``U(area[0], area[1])`` times the image's (``sl=0.02``; ``sh=0.4``,
    ``main.py`` line 102) and an aspect ratio ``U(min_aspect, 1 / min_aspect)``
    (``r1=0.3``, line 104; uniform, not log-uniform), giving
    ``h = round(sqrt(area * ratio))`` rows and ``w = round(sqrt(area / ratio))``
    columns (Python's round, half to even); the first attempt with ``h < H`` and
    ``w < W`` is placed with its top-left corner uniform over the positions that fit.
    A ``tf.data`` map function on ``(B, H, W, C)`` float batches; returns float32.
    """

    def __init__(self, probability: float, fill, area=(0.02, 0.4), min_aspect: float = 0.3,
                 attempts: int = 100, seed: int | None = None):
        if isinstance(probability, bool) or not isinstance(probability, numbers.Real) \
                or not 0 <= probability <= 1:
            raise ValueError(f"probability must be in [0, 1], got {probability!r}.")
        if not 0 < area[0] <= area[1] < 1:
            raise ValueError(f"area must be (low, high) with 0 < low <= high < 1, got {area!r}.")
        if not 0 < min_aspect <= 1:
            raise ValueError(f"min_aspect must be in (0, 1], got {min_aspect!r}.")
        if isinstance(attempts, bool) or not isinstance(attempts, numbers.Integral) \
                or attempts < 1:
            raise ValueError(f"attempts must be a positive integer, got {attempts!r}.")
        self.probability = float(probability)
        self.fill = np.asarray(fill, np.float32).reshape(-1)
        self.area = (float(area[0]), float(area[1]))
        self.min_aspect = float(min_aspect)
        self.attempts = int(attempts)
        self._rng = (tf.random.Generator.from_non_deterministic_state() if seed is None
                     else tf.random.Generator.from_seed(seed))

    def uniforms(self, batch) -> dict:
        """The raw draws for ``batch`` images, all uniform in [0, 1), float64: ``gate``
        ``(B,)``, ``area`` and ``ratio`` ``(B, attempts)``, ``corner`` ``(B, 2)``."""
        rng = self._rng
        return {"gate": rng.uniform([batch], dtype=tf.float64),
                "area": rng.uniform([batch, self.attempts], dtype=tf.float64),
                "ratio": rng.uniform([batch, self.attempts], dtype=tf.float64),
                "corner": rng.uniform([batch, 2], dtype=tf.float64)}

    def rectangles(self, uniforms, height, width) -> dict:
        """The rectangle of each image from :meth:`uniforms`: ``erase`` ``(B,)`` bool
        and ``top``, ``left``, ``rows``, ``cols`` ``(B,)`` int32 (all 0 when nothing
        is erased). ``random.uniform(a, b)`` is ``a + (b - a) * u``, as in Python."""
        h_f, w_f = tf.cast(height, tf.float64), tf.cast(width, tf.float64)
        low, high = self.area
        u = {k: tf.cast(v, tf.float64) for k, v in uniforms.items()}
        erase = u["gate"] <= self.probability  # the official skips when uniform > p
        target = (low + (high - low) * u["area"]) * (h_f * w_f)
        r1 = self.min_aspect
        ratio = r1 + (1.0 / r1 - r1) * u["ratio"]
        rows = tf.round(tf.sqrt(target * ratio))  # half to even, as Python's round
        cols = tf.round(tf.sqrt(target / ratio))
        fits = (cols < w_f) & (rows < h_f)
        first = tf.argmax(tf.cast(fits, tf.int32), axis=1, output_type=tf.int32)
        rows = tf.gather(rows, first, batch_dims=1)
        cols = tf.gather(cols, first, batch_dims=1)
        erase = erase & tf.reduce_any(fits, axis=1)
        top = tf.floor(u["corner"][:, 0] * (h_f - rows + 1.0))
        left = tf.floor(u["corner"][:, 1] * (w_f - cols + 1.0))

        def as_int(v):
            return tf.where(erase, tf.cast(v, tf.int32), 0)

        return {"erase": erase, "top": as_int(top), "left": as_int(left),
                "rows": as_int(rows), "cols": as_int(cols)}

    def draw(self, batch, height, width) -> dict:
        """:meth:`rectangles` of fresh :meth:`uniforms`."""
        return self.rectangles(self.uniforms(batch), height, width)

    def apply(self, images, draws) -> tf.Tensor:
        images = tf.cast(images, tf.float32)
        shape = tf.shape(images)
        r = tf.range(shape[1])[None, :, None]
        c = tf.range(shape[2])[None, None, :]

        def col(v):
            return v[:, None, None]

        inside = ((r >= col(draws["top"])) & (r < col(draws["top"] + draws["rows"]))
                  & (c >= col(draws["left"])) & (c < col(draws["left"] + draws["cols"])))
        fill = tf.broadcast_to(tf.constant(self.fill), [shape[3]])
        return tf.where(inside[..., None], fill, images)

    def __call__(self, images, training: bool = True) -> tf.Tensor:
        if not training or self.probability == 0:
            return tf.cast(images, tf.float32)
        shape = tf.shape(images)
        return self.apply(images, self.draw(shape[0], shape[1], shape[2]))


def erasing_layer(config, fill):
    """The random-erasing step of ``config`` (None when off)."""
    p = float(config.random_erasing)
    if p == 0:
        return None
    if config.random_erasing_fill == "constant":
        if fill is None:
            raise ValueError("random_erasing_fill='constant' needs the fill colour "
                             "(official_erasing_fill of the training images).")
        return ConstantErasing(p, fill, seed=config.seed + 7)
    return keras.layers.RandomErasing(factor=(p, p), value_range=(0, 255), seed=config.seed + 2,
                                      dtype="float32", name="random_erasing")
