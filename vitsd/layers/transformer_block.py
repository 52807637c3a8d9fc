"""The transformer encoder block and the MLPs (taught in chapter 5, "The model").

A block is pre-norm: ``x + Attention(LayerNorm(x))``, then ``x + MLP(LayerNorm(x))``,
with GELU MLPs and dropout after every dense layer, as in the keras.io references.
The switches of the paper's official code (chapter 8) -- a linear last MLP layer,
bias-free query/key/value, a temperature per head -- are arguments.
"""

from __future__ import annotations

import keras
from keras import layers

from vitsd.layers.drop_path import DropPath
from vitsd.layers.lsa import LocalitySelfAttention


def mlp_layers(units, dropout: float, name: str, output_activation: str = "gelu"):
    """Dense(GELU) + Dropout for each width in ``units``, as a list of layers; the last
    Dense has ``output_activation`` ("gelu", or "linear" as in the official code)."""
    stack = []
    for i, width in enumerate(units):
        activation = output_activation if i == len(units) - 1 else "gelu"
        stack.append(layers.Dense(width, activation=activation, name=f"{name}_dense_{i}"))
        stack.append(layers.Dropout(dropout, name=f"{name}_dropout_{i}"))
    return stack


@keras.saving.register_keras_serializable(package="vitsd")
class TransformerBlock(layers.Layer):
    """One pre-norm encoder block; ``locality=True`` swaps in Locality Self-Attention.

    With ``locality=False`` the attention is Keras' own ``MultiHeadAttention``, exactly
    as in the vanilla reference (or, with ``qkv_bias=False``, which Keras' layer cannot
    do for the query/key/value alone, :class:`LocalitySelfAttention` without masking and
    with a fixed temperature: plain scaled dot-product attention). Call with
    ``return_attention_scores=True`` to also get the ``(batch, heads, N, N)`` attention
    probabilities. ``mlp_output_activation``, ``qkv_bias``, ``temperature`` and
    ``temperature_form`` are the switches of :class:`~vitsd.config.Config`.
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        mlp_units,
        attention_dropout: float = 0.1,
        mlp_dropout: float = 0.1,
        layer_norm_eps: float = 1e-6,
        locality: bool = False,
        drop_path: float = 0.0,
        mlp_output_activation: str = "gelu",
        qkv_bias: bool = True,
        temperature: str = "layer",
        temperature_form: str = "divide",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.mlp_units = tuple(mlp_units)
        self.attention_dropout = attention_dropout
        self.mlp_dropout = mlp_dropout
        self.layer_norm_eps = layer_norm_eps
        self.locality = locality
        self.drop_path = drop_path
        self.mlp_output_activation = mlp_output_activation
        self.qkv_bias = qkv_bias
        self.temperature = temperature
        self.temperature_form = temperature_form
        # Stochastic depth on both residual branches (chapter 8). Only created when
        # used: its random-seed state would otherwise count as a (non-trainable) weight.
        self.drop_attention = DropPath(drop_path, name="drop_path_attention") if drop_path else None
        self.drop_mlp = DropPath(drop_path, name="drop_path_mlp") if drop_path else None
        self.norm_attention = layers.LayerNormalization(epsilon=layer_norm_eps, name="norm_attention")
        if locality or not qkv_bias:
            self.attention = LocalitySelfAttention(
                num_heads=num_heads, key_dim=key_dim, dropout=attention_dropout,
                diagonal_masking=locality, learnable_temperature=locality,
                qkv_bias=qkv_bias, temperature=temperature,
                temperature_form=temperature_form, name="attention"
            )
        else:
            self.attention = layers.MultiHeadAttention(
                num_heads=num_heads, key_dim=key_dim, dropout=attention_dropout, name="attention"
            )
        self.norm_mlp = layers.LayerNormalization(epsilon=layer_norm_eps, name="norm_mlp")
        self.mlp = mlp_layers(self.mlp_units, mlp_dropout, name="mlp",
                              output_activation=mlp_output_activation)

    def build(self, input_shape):
        self.norm_attention.build(input_shape)
        if isinstance(self.attention, LocalitySelfAttention):
            self.attention.build(input_shape)
        else:
            self.attention.build(input_shape, input_shape)
        self.norm_mlp.build(input_shape)
        shape = input_shape
        for layer in self.mlp:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def _attend(self, x, training, return_attention_scores):
        if isinstance(self.attention, LocalitySelfAttention):
            return self.attention(
                x, training=training, return_attention_scores=return_attention_scores
            )
        return self.attention(
            x, x, training=training, return_attention_scores=return_attention_scores
        )

    def call(self, tokens, training=None, return_attention_scores=False):
        attended = self._attend(self.norm_attention(tokens), training, return_attention_scores)
        if return_attention_scores:
            attended, scores = attended
        if self.drop_attention is not None:
            attended = self.drop_attention(attended, training=training)
        x = tokens + attended
        y = self.norm_mlp(x)
        for layer in self.mlp:
            y = layer(y, training=training)
        if self.drop_mlp is not None:
            y = self.drop_mlp(y, training=training)
        out = x + y
        return (out, scores) if return_attention_scores else out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "mlp_units": list(self.mlp_units),
            "attention_dropout": self.attention_dropout,
            "mlp_dropout": self.mlp_dropout,
            "layer_norm_eps": self.layer_norm_eps,
            "locality": self.locality,
            "drop_path": self.drop_path,
            "mlp_output_activation": self.mlp_output_activation,
            "qkv_bias": self.qkv_bias,
            "temperature": self.temperature,
            "temperature_form": self.temperature_form,
        }
