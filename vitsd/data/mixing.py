"""CutMix and MixUp (chapter 8): batches whose images and labels are blends of pairs.

:class:`CutMixOrMixUp` uses Keras' CutMix (:class:`PixelAreaCutMix`, weighted by the
pixels really pasted) and MixUp layers, one weight per example
(``mix_lambda == "per_example"``); :class:`BatchMix` is the official code's one weight
and one box per batch (``"per_batch"``). Either acts on a ``mix_probability`` fraction
of the batches, in ``tf.data`` after augmentation.
"""

from __future__ import annotations

import numbers

import keras
import tensorflow as tf


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
