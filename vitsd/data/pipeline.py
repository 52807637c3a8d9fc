"""The training input pipeline: strong augmentation, CutMix or MixUp (taught in
chapter 8, "Going further").

The reference model augments inside the network (flip, rotation, zoom). The recipe of
the SPT/LSA paper, after DeiT, augments much harder, and some of it cannot live inside
the model: CutMix and MixUp blend *pairs* of examples and change the *labels*. So this
module builds a ``tf.data`` pipeline that yields ``(images, labels)`` batches:

    shuffle [x repeated_augmentation passes] -> batch
      -> [flip, RandAugment, random erasing]                     (augment == "strong")
      -> [flip, rotation, zoom]                                  (augment == "pipeline")
      -> [pad-and-crop, flip]                                    (augment == "crop")
      -> [flip, pad-and-crop, AutoAugment, random erasing]       (augment == "autoaugment")
      -> [CutMix or MixUp, one of the two per batch]             (an alpha > 0)
      -> prefetch

The ``"autoaugment"`` chain is the official code's (``main.py`` lines 171-214), every
step drawn per image: :class:`vitsd.data.crop.RandomPadCrop`,
:class:`vitsd.data.auto_augment.CIFAR10Policy` and
:class:`vitsd.data.random_erasing.ConstantErasing`. Mixing is Keras' CutMix and MixUp
layers with one weight per example (``mix_lambda == "per_example"``,
:class:`vitsd.data.mixing.CutMixOrMixUp`), or the official code's one weight and one box
per batch (``"per_batch"``, :class:`vitsd.data.mixing.BatchMix`), on a
``mix_probability`` fraction of the batches. Passes and batching are
:mod:`vitsd.data.sampler`'s; the chains, :mod:`vitsd.data.augmentation`'s. Everything
acts on the raw 0..255 images, before the model's own normalisation.

Keras image preprocessing layers are safe inside ``tf.data`` on every backend: called
from a ``Dataset.map`` they see a TensorFlow graph and switch to TensorFlow ops for
that call, so the same pipeline feeds a JAX model. They must be grouped with
``keras.layers.Pipeline``, not ``keras.Sequential``: a Sequential model converts its
inputs to the backend's tensors, which on JAX fails inside ``tf.data``.

Randomness is seeded from ``config.seed`` and changes every epoch. The Keras layers
draw their seeds from a stateful counter, so batches augmented in parallel
(``num_parallel_calls=AUTOTUNE``, the default) take the draws in whatever order the
threads run; ``deterministic=True`` augments one batch at a time and makes the pipeline
reproducible (the same batches for the same seed, on TensorFlow and JAX alike).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from vitsd.data.augmentation import training_augmentation
from vitsd.data.mixing import BatchMix, CutMixOrMixUp
from vitsd.data.sampler import training_batches

AUTOTUNE = tf.data.AUTOTUNE


def make_dataset(
    x,
    y,
    config,
    num_classes: int,
    training: bool,
    categorical: bool,
    deterministic: bool = False,
) -> tf.data.Dataset:
    """``(images float32 0..255, labels)`` batches of ``config.batch_size``.

    ``x``: ``(N, H, W, C)`` images (uint8 or float), ``y``: ``(N,)`` integer labels.
    Labels come out one-hot float32 when ``categorical`` (see ``Config.soft_labels``),
    int64 otherwise.

    ``training=True``: shuffle (seeded with ``config.seed``, a new order every epoch;
    ``config.repeated_augmentation`` shuffled passes per epoch, :mod:`vitsd.data.sampler`),
    batch, augmentation when ``config.augment`` is ``"strong"``, ``"pipeline"``,
    ``"crop"`` or ``"autoaugment"`` (with ``augment == "reference"`` the model augments
    itself), CutMix or MixUp when an alpha is positive (needs ``categorical``),
    prefetch. The constant colour of ``random_erasing_fill == "constant"`` comes from
    ``x``'s channel statistics
    (:func:`vitsd.data.random_erasing.official_erasing_fill`). ``training=False``: batch and
    prefetch only, in the order given. ``deterministic=True`` runs the random steps one
    batch at a time, so that the same seed gives the same batches.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 4:
        raise ValueError(f"x must be images (N, height, width, channels), got shape {x.shape}.")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(
            f"y must hold one integer label per image ({len(x)}), got shape {y.shape}."
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}.")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}), got values {y.min()}..{y.max()}."
        )
    mixing = config.cutmix_alpha > 0 or config.mixup_alpha > 0
    if training and mixing and not categorical:
        raise ValueError(
            "CutMix/MixUp (cutmix_alpha or mixup_alpha > 0) mix labels, so they need "
            "categorical=True (one-hot labels)."
        )

    def encode(images, labels):
        images = tf.cast(images, tf.float32)
        if categorical:
            return images, tf.one_hot(labels, num_classes, dtype=tf.float32)
        return images, tf.cast(labels, tf.int64)

    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        dataset = training_batches(dataset, len(x), config)
    else:
        dataset = dataset.batch(config.batch_size)
    dataset = dataset.map(encode, num_parallel_calls=AUTOTUNE)
    if training:
        parallel = None if deterministic else AUTOTUNE
        if config.augment in ("strong", "pipeline", "crop", "autoaugment"):
            augment = training_augmentation(config, x)
            dataset = dataset.map(
                lambda images, labels: (augment(images, training=True), labels),
                num_parallel_calls=parallel,
            )
        if mixing:
            if config.mix_lambda == "per_batch":
                mix = BatchMix(config.cutmix_alpha, config.mixup_alpha,
                               probability=config.mix_probability, seed=config.seed + 3)
            else:
                mix = CutMixOrMixUp(config.cutmix_alpha, config.mixup_alpha,
                                    seed=config.seed + 3, probability=config.mix_probability)

            def mix_batch(images, labels):
                out = mix({"images": images, "labels": labels})
                return out["images"], out["labels"]

            dataset = dataset.map(mix_batch, num_parallel_calls=parallel)
    return dataset.prefetch(AUTOTUNE)
