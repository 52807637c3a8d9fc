"""Locality Self-Attention, LSA (taught in chapter 4).

From "Vision Transformer for Small-Size Datasets" (arXiv 2112.13492). Two changes to
multi-head self-attention sharpen the attention of small-data ViTs:

1. **Diagonal masking** -- a token may not attend to itself: the diagonal of the
   query-key score matrix is set to minus infinity before the softmax, so attention
   goes to *other* tokens.
2. **Learnable temperature** -- scores are divided by a trainable scalar ``tau``
   (initialised to ``sqrt(key_dim)``, the constant of ordinary attention) instead of a
   fixed ``sqrt(key_dim)``; training can lower it to sharpen the softmax.

The paper's official code (``models/vit.py`` lines 57, 69, 85) learns one temperature
per *head* and multiplies the scores by a learned scale (initialised to
``1 / sqrt(key_dim)``) rather than dividing them; ``temperature="head"`` and
``temperature_form="multiply"`` give that variant (chapter 8), as ``qkv_bias=False``
gives its bias-free query/key/value projections (line 61).

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

    ``temperature``: one learned value per ``"layer"`` (a scalar) or per ``"head"``.
    ``temperature_form``: ``"divide"`` the scores by a temperature initialised to
    ``sqrt(key_dim)`` (weight ``temperature``), or ``"multiply"`` them by a scale
    initialised to ``1 / sqrt(key_dim)`` (weight ``scale``, the official code's). The
    two compute the same function; training moves them differently (weight decay pulls
    a temperature towards sharper attention, a scale towards flatter).
    ``qkv_bias=False`` drops the query/key/value biases.
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        dropout: float = 0.0,
        diagonal_masking: bool = True,
        learnable_temperature: bool = True,
        qkv_bias: bool = True,
        temperature: str = "layer",
        temperature_form: str = "divide",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if temperature not in ("layer", "head"):
            raise ValueError(f"temperature must be 'layer' or 'head', got {temperature!r}.")
        if temperature_form not in ("divide", "multiply"):
            raise ValueError(
                f"temperature_form must be 'divide' or 'multiply', got {temperature_form!r}.")
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.dropout = dropout
        self.diagonal_masking = diagonal_masking
        self.learnable_temperature = learnable_temperature
        self.qkv_bias = qkv_bias
        self.temperature_shape = temperature
        self.temperature_form = temperature_form
        self.dropout_layer = layers.Dropout(dropout)

    def build(self, input_shape):
        dim = input_shape[-1]
        heads, key_dim = self.num_heads, self.key_dim

        def projection(name):
            return layers.EinsumDense(
                "abc,cde->abde", output_shape=(None, heads, key_dim),
                bias_axes="de" if self.qkv_bias else None, name=name
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
        shape = () if self.temperature_shape == "layer" else (heads,)
        weight = self.add_weight(
            name="temperature" if self.temperature_form == "divide" else "scale",
            shape=shape,
            initializer=keras.initializers.Constant(
                math.sqrt(key_dim) if self.temperature_form == "divide"
                else 1.0 / math.sqrt(key_dim)),
            trainable=self.learnable_temperature,
        )
        self.temperature = weight if self.temperature_form == "divide" else None
        self.scale = weight if self.temperature_form == "multiply" else None
        self.built = True

    def temperatures(self):
        """The temperature each head divides its scores by, ``(heads,)`` NumPy (the
        inverse of the scale in the ``"multiply"`` form)."""
        weight = self.temperature if self.temperature is not None else self.scale
        value = ops.convert_to_numpy(ops.broadcast_to(
            ops.cast(weight, "float32"), (self.num_heads,)))
        return value if self.temperature is not None else 1.0 / value

    def attention_probabilities(self, tokens):
        """Softmax attention ``(batch, heads, N, N)`` before dropout, in float32."""
        query = self.query_dense(tokens)
        key = self.key_dense(tokens)
        scores = ops.einsum("bqhd,bkhd->bhqk", ops.cast(query, "float32"), ops.cast(key, "float32"))
        if self.temperature_form == "divide":
            scores = scores / self._per_head(self.temperature)
        else:
            scores = scores * self._per_head(self.scale)
        if self.diagonal_masking:
            mask = diagonal_mask(tokens.shape[1])
            scores = ops.where(mask, scores, _MASKED_SCORE)
        return ops.softmax(scores, axis=-1)

    def _per_head(self, weight):
        """The weight in float32, shaped to broadcast over ``(batch, heads, N, N)``."""
        weight = ops.cast(weight, "float32")
        return weight if self.temperature_shape == "layer" else ops.reshape(weight, (-1, 1, 1))

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
            "qkv_bias": self.qkv_bias,
            "temperature": self.temperature_shape,
            "temperature_form": self.temperature_form,
        }
