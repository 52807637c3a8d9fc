"""Stochastic depth, a.k.a. drop path (taught in chapter 8, "Going further").

Huang et al. (2016) train deep residual networks by skipping whole residual branches
at random; DeiT and the SPT/LSA paper's recipe use it on the transformer blocks. In
training, each example's branch output is zeroed with probability ``rate`` and scaled
by ``1 / (1 - rate)`` otherwise, so its expected value is unchanged; at inference the
layer is the identity. Keras has no such layer, hence this one.
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="vitsd")
class DropPath(layers.Layer):
    """Drops the whole input of an example with probability ``rate`` (training only)."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"rate must be in [0, 1), got {rate!r}.")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training or self.rate == 0:
            return x
        keep = 1.0 - self.rate
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        mask = keras.random.uniform(shape, seed=self.seed_generator) < keep
        return ops.where(mask, x / ops.cast(keep, x.dtype), ops.zeros_like(x))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
