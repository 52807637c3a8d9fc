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
step drawn per image: :class:`RandomPadCrop`, :class:`vitsd.autoaugment.CIFAR10Policy`
and :class:`ConstantErasing`. Mixing is Keras' CutMix and MixUp layers with one weight
per example (``mix_lambda == "per_example"``, :class:`CutMixOrMixUp`), or the official
code's one weight and one box per batch (``"per_batch"``, :class:`BatchMix`), on a
``mix_probability`` fraction of the batches. Passes and batching are
:mod:`vitsd.sampler`'s. Everything acts on the raw 0..255 images, before the model's
own normalisation.

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

from vitsd.sampler import training_batches

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


def autoaugment_augmentation(config, fill=None):
    """The official code's training transforms, per image (``main.py`` lines 171-214):
    random horizontal flip, pad-by-``crop_padding``-and-crop (:class:`RandomPadCrop`),
    AutoAugment's CIFAR-10 policy (:class:`vitsd.autoaugment.CIFAR10Policy`) and, with
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
    from vitsd.autoaugment import CIFAR10Policy

    flip = (keras.layers.RandomFlip(config.flip, seed=config.seed, dtype="float32",
                                    name="flip") if config.flip != "none" else None)
    crop = RandomPadCrop(config.crop_padding, seed=config.seed + 5)
    policy = CIFAR10Policy(seed=config.seed + 6)
    return flip, crop, policy, _erasing(config, fill)


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


def _erasing(config, fill):
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


def _check_mixing(cutmix_alpha, mixup_alpha, probability, owner: str) -> None:
    """The mixing classes' arguments: both alphas non-negative numbers, at least one
    positive, and the probability of mixing a batch in (0, 1]."""
    for name, value in (("cutmix_alpha", cutmix_alpha), ("mixup_alpha", mixup_alpha)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
    if cutmix_alpha == 0 and mixup_alpha == 0:
        raise ValueError(f"{owner} needs cutmix_alpha > 0 or mixup_alpha > 0.")
    if isinstance(probability, bool) or not isinstance(probability, numbers.Real) \
            or not 0 < probability <= 1:
        raise ValueError(f"probability must be in (0, 1], got {probability!r}.")


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
    may, rarely, be mixed with itself. With ``probability < 1`` only that fraction of
    the batches is mixed; the others pass unchanged (float32).
    """

    def __init__(self, cutmix_alpha: float = 1.0, mixup_alpha: float = 0.8,
                 seed: int | None = None, probability: float = 1.0):
        _check_mixing(cutmix_alpha, mixup_alpha, probability, "CutMixOrMixUp")
        if cutmix_alpha > 1:
            raise ValueError(
                f"cutmix_alpha must be at most 1 (keras.layers.CutMix's limit), got "
                f"{cutmix_alpha!r}."
            )
        self.cutmix_alpha = float(cutmix_alpha)
        self.mixup_alpha = float(mixup_alpha)
        self.probability = float(probability)
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
        self._gate = None
        if self.probability < 1:
            self._gate = (
                tf.random.Generator.from_non_deterministic_state() if seed is None
                else tf.random.Generator.from_seed(seed + 4)
            )

    @staticmethod
    def _apply(layer, images, labels):
        # A fresh dict for each call: Keras' layers write their results into it.
        out = layer({"images": images, "labels": labels}, training=True)
        return {"images": tf.cast(out["images"], tf.float32),
                "labels": tf.cast(out["labels"], tf.float32)}

    def _mix(self, images, labels) -> dict:
        if self._choice is None:
            return self._apply(self.cutmix or self.mixup, images, labels)
        use_cutmix = self._choice.uniform(()) < 0.5
        return tf.cond(
            use_cutmix,
            lambda: self._apply(self.cutmix, images, labels),
            lambda: self._apply(self.mixup, images, labels),
        )

    def __call__(self, batch: dict) -> dict:
        images, labels = batch["images"], batch["labels"]
        if self._gate is None:
            return self._mix(images, labels)
        return tf.cond(
            self._gate.uniform(()) < self.probability,
            lambda: self._mix(images, labels),
            lambda: {"images": tf.cast(images, tf.float32),
                     "labels": tf.cast(labels, tf.float32)},
        )


class BatchMix:
    """CutMix or MixUp with one mixing weight per batch, as the official code mixes
    (``main.py`` lines 298-363, ``utils/mix.py``; chapter 8).

    A ``tf.data`` map function like :class:`CutMixOrMixUp`: ``{"images", "labels"
    (one-hot)}`` in and out, float32. Per batch:

    * with probability ``1 - probability`` the batch passes unchanged
      (``r < args.mix_prob``, ``--mix_prob 0.5``);
    * otherwise CutMix or MixUp, with odds 1/2 each when both alphas are positive
      (``switching_prob < 0.5``), else the one that is;
    * the partner of every example is a random permutation of the batch
      (``torch.randperm``), and one weight ``lam ~ Beta(alpha, alpha)`` serves the
      whole batch (``np.random.beta``; ``--alpha 1``, ``--beta 1``);
    * MixUp: ``lam * x + (1 - lam) * x[perm]``;
    * CutMix (``rand_bbox``): one box for the whole batch, sides
      ``int(side * sqrt(1 - lam))``, centre uniform over the pixels, half-sides
      ``side // 2`` each way, clipped to the image; the pasted pixels of ``x[perm]``
      decide the weight, ``lam = 1 - box area / image area``;
    * labels ``lam * y + (1 - lam) * y[perm]``: with label smoothing, the loss of the
      official ``mixup_criterion`` (linear in the target).
    """

    def __init__(self, cutmix_alpha: float = 1.0, mixup_alpha: float = 1.0,
                 probability: float = 0.5, seed: int | None = None):
        _check_mixing(cutmix_alpha, mixup_alpha, probability, "BatchMix")
        self.cutmix_alpha = float(cutmix_alpha)
        self.mixup_alpha = float(mixup_alpha)
        self.probability = float(probability)
        self._rng = (tf.random.Generator.from_non_deterministic_state() if seed is None
                     else tf.random.Generator.from_seed(seed))

    def _beta(self, alpha: float) -> tf.Tensor:
        seeds = self._rng.make_seeds(2)
        a = tf.random.stateless_gamma([], seeds[:, 0], alpha=alpha, dtype=tf.float64)
        b = tf.random.stateless_gamma([], seeds[:, 1], alpha=alpha, dtype=tf.float64)
        return a / (a + b)

    def draw(self, batch) -> dict:
        """The random choices for one batch of ``batch`` examples: ``kind`` (0: none,
        1: CutMix, 2: MixUp), ``permutation``, ``lam`` (float64) and the CutMix box
        centre ``center`` (row, column uniforms in [0, 1))."""
        rng = self._rng
        mixed = rng.uniform([], dtype=tf.float64) < self.probability
        switch = rng.uniform([], dtype=tf.float64) < 0.5
        if self.cutmix_alpha > 0 and self.mixup_alpha > 0:
            kind = tf.where(switch, 1, 2)
            lam = tf.where(switch, self._beta(self.cutmix_alpha), self._beta(self.mixup_alpha))
        elif self.cutmix_alpha > 0:
            kind, lam = tf.constant(1), self._beta(self.cutmix_alpha)
        else:
            kind, lam = tf.constant(2), self._beta(self.mixup_alpha)
        return {
            "kind": tf.where(mixed, kind, 0),
            "permutation": tf.argsort(rng.uniform([batch])),
            "lam": lam,
            "center": rng.uniform([2], dtype=tf.float64),
        }

    @staticmethod
    def cutmix_box(height, width, lam, center):
        """``(top, bottom, left, right)`` int32 of the pasted box (``rand_bbox``)."""
        cut = tf.sqrt(1.0 - lam)
        h_f, w_f = tf.cast(height, tf.float64), tf.cast(width, tf.float64)
        half_rows = tf.cast(tf.floor(h_f * cut), tf.int32) // 2
        half_cols = tf.cast(tf.floor(w_f * cut), tf.int32) // 2
        row = tf.cast(tf.floor(center[0] * h_f), tf.int32)
        col = tf.cast(tf.floor(center[1] * w_f), tf.int32)
        return (tf.clip_by_value(row - half_rows, 0, height),
                tf.clip_by_value(row + half_rows, 0, height),
                tf.clip_by_value(col - half_cols, 0, width),
                tf.clip_by_value(col + half_cols, 0, width))

    def apply(self, images, labels, draws) -> dict:
        images = tf.cast(images, tf.float32)
        labels = tf.cast(labels, tf.float32)
        perm = draws["permutation"]
        other_images, other_labels = tf.gather(images, perm), tf.gather(labels, perm)
        shape = tf.shape(images)

        def mixup():
            lam = tf.cast(draws["lam"], tf.float32)
            return lam * images + (1 - lam) * other_images, lam

        def cutmix():
            top, bottom, left, right = self.cutmix_box(shape[1], shape[2], draws["lam"],
                                                       draws["center"])
            r = tf.range(shape[1])[:, None]
            c = tf.range(shape[2])[None, :]
            box = (r >= top) & (r < bottom) & (c >= left) & (c < right)
            area = tf.cast((bottom - top) * (right - left), tf.float64)
            lam = 1.0 - area / tf.cast(shape[1] * shape[2], tf.float64)
            return tf.where(box[None, :, :, None], other_images, images), tf.cast(lam, tf.float32)

        def unmixed():
            return images, tf.constant(1.0)

        mixed, lam = tf.switch_case(draws["kind"], [unmixed, cutmix, mixup])
        return {"images": mixed, "labels": lam * labels + (1 - lam) * other_labels}

    def __call__(self, batch: dict) -> dict:
        images = batch["images"]
        return self.apply(images, batch["labels"], self.draw(tf.shape(images)[0]))


def _augmentation(config, x):
    """The map function of ``config.augment`` for training images ``x``."""
    constant = config.random_erasing > 0 and config.random_erasing_fill == "constant"
    fill = official_erasing_fill(*channel_statistics(x)) if constant else None
    if config.augment == "autoaugment":
        return autoaugment_augmentation(config, fill)
    if config.augment == "strong" and constant:
        strong = strong_augmentation(config.replace(random_erasing=0.0))
        erasing = _erasing(config, fill)
        return lambda images, training=True: erasing(strong(images, training=training),
                                                     training=training)
    return {"strong": strong_augmentation, "pipeline": reference_augmentation,
            "crop": crop_augmentation}[config.augment](config)


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
    ``config.repeated_augmentation`` shuffled passes per epoch, :mod:`vitsd.sampler`),
    batch, augmentation when ``config.augment`` is ``"strong"``, ``"pipeline"``,
    ``"crop"`` or ``"autoaugment"`` (with ``augment == "reference"`` the model augments
    itself), CutMix or MixUp when an alpha is positive (needs ``categorical``),
    prefetch. The constant colour of ``random_erasing_fill == "constant"`` comes from
    ``x``'s channel statistics (:func:`official_erasing_fill`). ``training=False``: batch and
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
            augment = _augmentation(config, x)
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
