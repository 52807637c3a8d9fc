"""The augmentation chains of the input pipeline, one per ``config.augment`` (chapters 6
and 8), each a function of a batch of raw 0..255 images:

    "pipeline"     the reference flip, rotation and zoom    (:func:`reference_augmentation`)
    "strong"       flip, RandAugment, random erasing        (:func:`strong_augmentation`)
    "crop"         pad-and-crop, flip                       (:mod:`vitsd.data.crop`)
    "autoaugment"  flip, pad-and-crop, AutoAugment, erasing (:func:`autoaugment_augmentation`)

:func:`training_augmentation` picks the chain of a config; :mod:`vitsd.data.pipeline`
maps it over the training batches.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from vitsd.data.crop import RandomPadCrop, crop_augmentation
from vitsd.data.random_erasing import (
    ConstantErasing,
    channel_statistics,
    erasing_layer,
    official_erasing_fill,
)


def reference_augmentation(config) -> keras.layers.Pipeline:
    """The reference flip, rotation and zoom (:func:`vitsd.models.vit.augmentation_layers`)
    for the input pipeline (``config.augment == "pipeline"``). They act on the 32x32
    input images, where the reference model applies them after resizing to 72x72."""
    from vitsd.models.vit import augmentation_layers

    return keras.layers.Pipeline(augmentation_layers(config), name="reference_augmentation")


def strong_augmentation(config) -> keras.layers.Pipeline:
    """Random flip, RandAugment and random erasing of raw 0..255 images (chapter 8).

    * ``RandomFlip(config.flip)`` unless ``flip == "none"``;
    * ``RandAugment``: ``config.randaugment_ops`` operations per image, drawn from 11
      (shear, translation, rotation, brightness, colour, contrast, sharpness,
      posterisation, solarisation, auto-contrast, equalisation), of strength
      ``config.randaugment_factor``;
    * ``RandomErasing`` when ``config.random_erasing > 0``: with that probability a
      random rectangle of each image is replaced by noise. (Keras reads a single
      ``factor`` as "a probability drawn from 0..factor"; the pair
      ``(p, p)`` makes it the fixed probability ``p`` of DeiT.)

    Returns a ``keras.layers.Pipeline`` (callable on a batch, in or out of
    ``tf.data``), in float32 whatever the global dtype policy.
    """
    seed = config.seed
    stack = []
    if config.flip != "none":
        stack.append(keras.layers.RandomFlip(config.flip, seed=seed, dtype="float32",
                                             name="flip"))
    rand_augment = keras.layers.RandAugment(
        value_range=(0, 255), num_ops=config.randaugment_ops,
        factor=config.randaugment_factor, seed=seed + 1, dtype="float32",
        name="rand_augment",
    )
    _fast_equalization_in_tf_data(rand_augment)
    stack.append(rand_augment)
    if config.random_erasing > 0:
        p = float(config.random_erasing)
        stack.append(
            keras.layers.RandomErasing(factor=(p, p), value_range=(0, 255), seed=seed + 2,
                                       dtype="float32", name="random_erasing")
        )
    return keras.layers.Pipeline(stack, name="strong_augmentation")


def _fast_equalization_in_tf_data(rand_augment) -> bool:
    """Work around a slow path of RandAugment's equalisation in ``tf.data`` on JAX.

    ``keras.layers.Equalization`` (Keras 3.15) picks its histogram code by the *global*
    backend: on JAX it counts each of the 256 bins with a separate comparison over the
    whole batch (``bincount`` cannot be jit-compiled there), even when the layer runs
    inside ``tf.data`` with TensorFlow ops, where ``bincount`` works. The result is the
    same, but the graph has tens of thousands of ops and a batch takes several times
    longer. This gives RandAugment's equalisation layer the ``bincount`` histogram
    whenever it runs with TensorFlow ops. Returns whether the fix was installed (not
    needed on the TensorFlow backend, nor where Keras lacks that private method).
    """
    equalization = getattr(rand_augment, "equalization", None)
    original = getattr(equalization, "_custom_histogram_fixed_width", None)
    if original is None or keras.backend.backend() == "tensorflow":
        return False

    def histogram(values, value_range, nbins):
        ops = equalization.backend
        if ops.name != "tensorflow":
            return original(values, value_range, nbins)
        # Keras' own TensorFlow branch of Equalization._custom_histogram_fixed_width.
        values = ops.cast(values, "float32")
        low = ops.cast(value_range[0], "float32")
        high = ops.cast(value_range[1], "float32")
        indices = ops.cast((values - low) * (nbins - 1) / (high - low), "int32")
        indices = ops.numpy.clip(indices, 0, nbins - 1)
        return ops.numpy.bincount(ops.numpy.reshape(indices, [-1]), minlength=nbins)

    equalization._custom_histogram_fixed_width = histogram
    return True


def autoaugment_augmentation(config, fill=None):
    """The official code's training transforms, per image (``main.py`` lines 171-214):
    random horizontal flip, pad-by-``crop_padding``-and-crop (:class:`RandomPadCrop`),
    AutoAugment's CIFAR-10 policy (:class:`vitsd.data.auto_augment.CIFAR10Policy`) and, with
    probability ``config.random_erasing``, random erasing -- :class:`ConstantErasing`
    painting ``fill`` (see :func:`official_erasing_fill`) when
    ``config.random_erasing_fill == "constant"``, Keras' noise otherwise. A function of
    a batch of raw 0..255 images (``config.augment == "autoaugment"``)."""
    flip, crop, policy, erasing = _autoaugment_parts(config, fill)

    def augment(images, training=True):
        if not training:
            return tf.cast(images, tf.float32)
        images = tf.cast(images, tf.float32)
        if flip is not None:
            images = flip(images, training=True)
        images = policy(crop(images))
        return erasing(images, training=True) if erasing is not None else images

    return augment


def _autoaugment_parts(config, fill):
    """The flip, crop, policy and erasing steps of the ``"autoaugment"`` chain."""
    from vitsd.data.auto_augment import CIFAR10Policy

    flip = (keras.layers.RandomFlip(config.flip, seed=config.seed, dtype="float32",
                                    name="flip") if config.flip != "none" else None)
    crop = RandomPadCrop(config.crop_padding, seed=config.seed + 5)
    policy = CIFAR10Policy(seed=config.seed + 6)
    return flip, crop, policy, erasing_layer(config, fill)


def autoaugment_views(images, config, passes: int = 2, fill=None):
    """``passes`` augmented versions of one batch, made by the steps of the
    ``"autoaugment"`` chain (:func:`autoaugment_augmentation`), each image with its own
    draws, and a caption per image naming the AutoAugment operations applied and
    whether a rectangle was erased (chapter 8's figure; flips and crops are visible in
    the images). ``fill`` defaults to :func:`official_erasing_fill` of ``images``.

    Returns ``(views, captions)``: a list of ``passes`` uint8 arrays shaped like
    ``images`` and a list of ``passes`` lists of strings. Runs eagerly.
    """
    images = np.asarray(images)
    if fill is None and config.random_erasing > 0 and config.random_erasing_fill == "constant":
        fill = official_erasing_fill(*channel_statistics(images))
    flip, crop, policy, erasing = _autoaugment_parts(config, fill)
    views, captions = [], []
    for _ in range(passes):
        x = tf.convert_to_tensor(images, tf.float32)
        if flip is not None:
            x = flip(x, training=True)
        x = crop(x)
        draws = policy.draw(len(images))
        x = policy.apply(x, draws)
        words = policy.describe(draws)
        if isinstance(erasing, ConstantErasing):
            shape = tf.shape(x)
            erased = erasing.draw(shape[0], shape[1], shape[2])
            x = erasing.apply(x, erased)
            words = [w + (", erased" if e else "")
                     for w, e in zip(words, np.asarray(erased["erase"]))]
        elif erasing is not None:
            x = erasing(x, training=True)
        views.append(np.clip(np.round(np.asarray(x)), 0, 255).astype(np.uint8))
        captions.append(words)
    return views, captions


def training_augmentation(config, x):
    """The map function of ``config.augment`` for training images ``x``."""
    constant = config.random_erasing > 0 and config.random_erasing_fill == "constant"
    fill = official_erasing_fill(*channel_statistics(x)) if constant else None
    if config.augment == "autoaugment":
        return autoaugment_augmentation(config, fill)
    if config.augment == "strong" and constant:
        strong = strong_augmentation(config.replace(random_erasing=0.0))
        erasing = erasing_layer(config, fill)
        return lambda images, training=True: erasing(strong(images, training=training),
                                                     training=training)
    return {"strong": strong_augmentation, "pipeline": reference_augmentation,
            "crop": crop_augmentation}[config.augment](config)
