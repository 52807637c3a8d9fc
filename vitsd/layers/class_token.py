"""The class token (chapter 8, the paper's recipe): one learned token prepended to the
sequence, which the classifier reads instead of pooling all tokens (ViT, DeiT)."""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="vitsd")
class ClassToken(layers.Layer):
    """Prepends one learned token to the sequence (chapter 8, the paper's recipe).

    ``(batch, N, D)`` -> ``(batch, N + 1, D)``; the classifier then reads token 0
    instead of flattening all tokens, as in the original ViT and DeiT.
    """

    def build(self, input_shape):
        self.token = self.add_weight(
            name="token", shape=(1, 1, input_shape[-1]), initializer="zeros", trainable=True
        )
        self.built = True

    def call(self, tokens):
        batch = ops.shape(tokens)[0]
        token = ops.cast(ops.broadcast_to(self.token, (batch, 1, tokens.shape[-1])), tokens.dtype)
        return ops.concatenate([token, tokens], axis=1)

    def compute_output_shape(self, input_shape):
        b, n, d = input_shape
        return (b, None if n is None else n + 1, d)
