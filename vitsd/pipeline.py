"""The training input pipeline: strong augmentation, CutMix or MixUp (taught in
chapter 8, "Going further").

The reference model augments inside the network (flip, rotation, zoom). The recipe of
the SPT/LSA paper, after DeiT, augments much harder, and some of it cannot live inside
the model: CutMix and MixUp blend *pairs* of examples and change the *labels*. So this
module builds a ``tf.data`` pipeline that yields ``(images, labels)`` batches:

    shuffle -> batch -> [flip, RandAugment, random erasing]     (config.augment == "strong")
                     -> [flip, rotation, zoom]                  (config.augment == "pipeline")
                     -> [pad-and-crop, flip]                    (config.augment == "crop")
                     -> [CutMix or MixUp, one of the two per batch]  (an alpha > 0)
                     -> prefetch

Everything is Keras preprocessing layers except the choice between CutMix and MixUp and
one correction to CutMix (:class:`PixelAreaCutMix`). The layers act on the raw 0..255
images, before the model's own normalisation.

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

import numbers

import keras
import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def reference_augmentation(config) -> keras.layers.Pipeline:
    """The reference flip, rotation and zoom (:func:`vitsd.model.augmentation_layers`)
    for the input pipeline (``config.augment == "pipeline"``). They act on the 32x32
    input images, where the reference model applies them after resizing to 72x72."""
    from vitsd.model import augmentation_layers

    return keras.layers.Pipeline(augmentation_layers(config), name="reference_augmentation")


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


@keras.saving.register_keras_serializable(package="vitsd")
class PixelAreaCutMix(keras.layers.CutMix):
    """``keras.layers.CutMix`` whose label weights are the pasted pixels' fraction.

    Keras places the pasted rectangle at fractional coordinates and weighs the labels
    by its fractional area, while the pixels pasted are the whole ones inside it: the
    two differ by up to about one row and one column of pixels (several percent of a
    32x32 image). Here the weight of the pasted image is the fraction of pixels really
    pasted (the correction timm applies too, ``correct_lam``).
    """

    def get_random_transformation(self, data, training=True, seed=None):
        transformation = super().get_random_transformation(data, training=training, seed=seed)
        if transformation is None:
            return None
        masks = self.backend.cast(transformation["batch_masks"], "float32")
        pasted = self.backend.numpy.mean(masks, axis=(1, 2, 3))
        transformation["mix_weight"] = 1.0 - pasted
        return transformation


class CutMixOrMixUp:
    """Per batch, CutMix or MixUp, one or the other (chapter 8).

    A ``tf.data`` map function: ``{"images": (B, H, W, C), "labels": (B, K) one-hot
    float}`` in, the same structure out (float32). With both alphas positive, each batch
    gets CutMix or MixUp with probability 1/2 each (a seeded TensorFlow random
    generator decides); with one alpha zero, always the other.

    * CutMix (:class:`PixelAreaCutMix`): each image gets a rectangle of another image
      of the batch pasted in; the labels are mixed by area. The pasted fraction
      ``1 - lam`` has ``lam ~ Beta(cutmix_alpha, cutmix_alpha)``. Keras' CutMix draws
      its Beta parameter uniformly from ``factor``, so ``factor=(alpha, alpha)`` fixes
      it; it accepts only ``0 < alpha <= 1``.
    * MixUp (``keras.layers.MixUp(alpha=mixup_alpha)``): each image is blended with
      another, ``lam * x_i + (1 - lam) * x_j``, the labels likewise, with one
      ``lam ~ Beta(alpha, alpha)`` per example.

    The partner of each example is a random permutation of the batch, so an example
    may, rarely, be mixed with itself.
    """

    def __init__(self, cutmix_alpha: float = 1.0, mixup_alpha: float = 0.8,
                 seed: int | None = None):
        for name, value in (("cutmix_alpha", cutmix_alpha), ("mixup_alpha", mixup_alpha)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not value >= 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
        if cutmix_alpha == 0 and mixup_alpha == 0:
            raise ValueError("CutMixOrMixUp needs cutmix_alpha > 0 or mixup_alpha > 0.")
        if cutmix_alpha > 1:
            raise ValueError(
                f"cutmix_alpha must be at most 1 (keras.layers.CutMix's limit), got "
                f"{cutmix_alpha!r}."
            )
        self.cutmix_alpha = float(cutmix_alpha)
        self.mixup_alpha = float(mixup_alpha)
        self.seed = seed

        def seed_plus(k):
            return None if seed is None else seed + k

        self.cutmix = None
        if cutmix_alpha > 0:
            a = self.cutmix_alpha
            self.cutmix = PixelAreaCutMix(factor=(a, a), seed=seed_plus(0), dtype="float32",
                                          name="cutmix")
        self.mixup = None
        if mixup_alpha > 0:
            self.mixup = keras.layers.MixUp(alpha=self.mixup_alpha, seed=seed_plus(1),
                                            dtype="float32", name="mixup")
        self._choice = None
        if self.cutmix is not None and self.mixup is not None:
            self._choice = (
                tf.random.Generator.from_non_deterministic_state() if seed is None
                else tf.random.Generator.from_seed(seed + 2)
            )

    @staticmethod
    def _apply(layer, images, labels):
        # A fresh dict for each call: Keras' layers write their results into it.
        out = layer({"images": images, "labels": labels}, training=True)
        return {"images": tf.cast(out["images"], tf.float32),
                "labels": tf.cast(out["labels"], tf.float32)}

    def __call__(self, batch: dict) -> dict:
        images, labels = batch["images"], batch["labels"]
        if self._choice is None:
            return self._apply(self.cutmix or self.mixup, images, labels)
        use_cutmix = self._choice.uniform(()) < 0.5
        return tf.cond(
            use_cutmix,
            lambda: self._apply(self.cutmix, images, labels),
            lambda: self._apply(self.mixup, images, labels),
        )


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

    ``training=True``: shuffle (seeded with ``config.seed``, a new order every epoch),
    batch, strong augmentation when ``config.augment == "strong"`` (with
    ``augment == "reference"`` the model augments itself), CutMix or MixUp when an alpha
    is positive (needs ``categorical``), prefetch. ``training=False``: batch and
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
        dataset = dataset.shuffle(len(x), seed=config.seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(config.batch_size).map(encode, num_parallel_calls=AUTOTUNE)
    if training:
        parallel = None if deterministic else AUTOTUNE
        if config.augment in ("strong", "pipeline", "crop"):
            augment = {"strong": strong_augmentation, "pipeline": reference_augmentation,
                       "crop": crop_augmentation}[config.augment](config)
            dataset = dataset.map(
                lambda images, labels: (augment(images, training=True), labels),
                num_parallel_calls=parallel,
            )
        if mixing:
            mix = CutMixOrMixUp(config.cutmix_alpha, config.mixup_alpha, seed=config.seed + 3)

            def mix_batch(images, labels):
                out = mix({"images": images, "labels": labels})
                return out["images"], out["labels"]

            dataset = dataset.map(mix_batch, num_parallel_calls=parallel)
    return dataset.prefetch(AUTOTUNE)
