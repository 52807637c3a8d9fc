"""The learned position embedding (chapter 2, "Patches").

Attention treats its tokens as a set; a learned vector added per position tells the
transformer where each patch came from. Uses ``keras.ops`` only (every backend).
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="vitsd")
class PositionEmbedding(layers.Layer):
    """Adds a learned vector per token position (chapter 2).

    Input and output: ``(batch, num_patches, projection_dim)``.
    """

    def __init__(self, num_patches: int, projection_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.num_patches = num_patches
        self.projection_dim = projection_dim
        self.position_embedding = layers.Embedding(
            input_dim=num_patches, output_dim=projection_dim, name="position_embedding"
        )

    def build(self, input_shape):
        self.position_embedding.build((self.num_patches,))
        self.built = True

    def call(self, tokens):
        positions = ops.arange(self.num_patches)
        return tokens + ops.cast(self.position_embedding(positions), tokens.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "num_patches": self.num_patches,
            "projection_dim": self.projection_dim,
        }
