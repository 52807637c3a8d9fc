"""Looking inside a trained model (taught in chapter 7, "Looking inside").

:func:`attention_scores` replays a model's forward pass block by block and collects
every block's attention probabilities; :func:`attention_maps` turns them into one
per-image heat map with attention rollout (:mod:`vitsd.rollout`).
"""

from __future__ import annotations

import keras
import numpy as np

from vitsd.rollout import attention_rollout, rollout_grid


def transformer_blocks(model: keras.Model) -> list:
    """The model's transformer blocks, in order (layers named ``block_<i>``)."""
    blocks = [layer for layer in model.layers if layer.name.startswith("block_")]
    if not blocks:
        raise ValueError("model has no layers named block_<i>: build it with vitsd.build_vit.")
    return sorted(blocks, key=lambda layer: int(layer.name.split("_")[1]))


def attention_scores(model: keras.Model, images) -> list:
    """Per-block attention probabilities for a batch of raw images.

    Returns a list (one entry per block) of NumPy arrays ``(batch, heads, N, N)``,
    rows are queries. Runs in inference mode (no augmentation, no dropout).
    """
    x = keras.ops.convert_to_tensor(np.asarray(images, dtype="float32"))
    x = model.get_layer("preprocessing")(x, training=False)
    tokens = model.get_layer("tokenizer")(x)
    tokens = model.get_layer("position")(tokens)
    scores = []
    for block in transformer_blocks(model):
        tokens, block_scores = block(tokens, training=False, return_attention_scores=True)
        scores.append(keras.ops.convert_to_numpy(block_scores).astype("float32"))
    return scores


def attention_maps(model: keras.Model, images, residual: float = 0.5) -> np.ndarray:
    """Attention-rollout map per image, ``(batch, grid, grid)``, each summing to 1."""
    scores = attention_scores(model, images)
    grid = int(round(np.sqrt(scores[0].shape[-1])))
    return rollout_grid(attention_rollout(scores, residual=residual), grid)
