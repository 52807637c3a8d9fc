"""Locality Self-Attention, LSA (taught in chapter 4).

From "Vision Transformer for Small-Size Datasets" (arXiv 2112.13492). Two changes to
multi-head self-attention sharpen the attention of small-data ViTs:

1. **Diagonal masking** -- a token may not attend to itself: the diagonal of the
   query-key score matrix is set to minus infinity before the softmax, so attention
   goes to *other* tokens.
2. **Learnable temperature** -- scores are divided by a trainable scalar ``tau``
   (initialised to ``sqrt(key_dim)``, the constant of ordinary attention) instead of a
   fixed ``sqrt(key_dim)``; training can lower it to sharpen the softmax.

The keras.io reference implements this by overriding the private
``MultiHeadAttention._compute_attention``, whose signature changed in Keras 3.7, 3.9
and 3.15. This layer is written on public API only: its own query/key/value/output
projections (the same weights, shapes and parameter count as
``keras.layers.MultiHeadAttention`` for self-attention, plus ``tau``).
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

#: Score given to masked (diagonal) positions, in float32. Scores are always
#: computed and soft-maxed in float32, so this never overflows under mixed precision.
_MASKED_SCORE = -1e9


def diagonal_mask(num_tokens: int):
    """Boolean ``(N, N)`` matrix, True where attention is allowed (off the diagonal)."""
    return ops.logical_not(ops.cast(ops.eye(num_tokens), "bool"))


@keras.saving.register_keras_serializable(package="vitsd")
class LocalitySelfAttention(layers.Layer):
    """Multi-head self-attention with diagonal masking and a learnable temperature.

    Call on ``(batch, N, dim)`` tokens; returns ``(batch, N, dim)``, or with
    ``return_attention_scores=True`` also the ``(batch, heads, N, N)`` attention
    probabilities (rows are queries).

    ``diagonal_masking`` and ``learnable_temperature`` can be switched off one by one;
    with both off the layer computes ordinary scaled dot-product attention.
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        dropout: float = 0.0,
        diagonal_masking: bool = True,
        learnable_temperature: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.dropout = dropout
        self.diagonal_masking = diagonal_masking
        self.learnable_temperature = learnable_temperature
        self.dropout_layer = layers.Dropout(dropout)

    def build(self, input_shape):
        dim = input_shape[-1]
        heads, key_dim = self.num_heads, self.key_dim

        def projection(name):
            return layers.EinsumDense(
                "abc,cde->abde", output_shape=(None, heads, key_dim), bias_axes="de", name=name
            )

        self.query_dense = projection("query")
        self.key_dense = projection("key")
        self.value_dense = projection("value")
        self.output_dense = layers.EinsumDense(
            "abcd,cde->abe", output_shape=(None, dim), bias_axes="e", name="attention_output"
        )
        for proj in (self.query_dense, self.key_dense, self.value_dense):
            proj.build(input_shape)
        self.output_dense.build((input_shape[0], input_shape[1], heads, key_dim))
        self.temperature = self.add_weight(
            name="temperature",
            shape=(),
            initializer=keras.initializers.Constant(math.sqrt(key_dim)),
            trainable=self.learnable_temperature,
        )
        self.built = True

    def attention_probabilities(self, tokens):
        """Softmax attention ``(batch, heads, N, N)`` before dropout, in float32."""
        query = self.query_dense(tokens)
        key = self.key_dense(tokens)
        scores = ops.einsum("bqhd,bkhd->bhqk", ops.cast(query, "float32"), ops.cast(key, "float32"))
        scores = scores / ops.cast(self.temperature, "float32")
        if self.diagonal_masking:
            mask = diagonal_mask(tokens.shape[1])
            scores = ops.where(mask, scores, _MASKED_SCORE)
        return ops.softmax(scores, axis=-1)

    def call(self, tokens, training=None, return_attention_scores=False):
        probabilities = self.attention_probabilities(tokens)
        value = self.value_dense(tokens)
        dropped = self.dropout_layer(ops.cast(probabilities, value.dtype), training=training)
        output = self.output_dense(ops.einsum("bhqk,bkhd->bqhd", dropped, value))
        if return_attention_scores:
            return output, probabilities
        return output

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "dropout": self.dropout,
            "diagonal_masking": self.diagonal_masking,
            "learnable_temperature": self.learnable_temperature,
        }
