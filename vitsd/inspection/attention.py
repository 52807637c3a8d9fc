"""Looking inside a trained model (taught in chapter 7, "Looking inside").

:func:`attention_scores` replays a model's forward pass block by block and collects
every block's attention probabilities; :func:`attention_maps` turns them into one
per-image heat map with attention rollout (:mod:`vitsd.inspection.rollout`).
"""

from __future__ import annotations

import keras
import numpy as np

from vitsd.inspection.rollout import attention_rollout, rollout_grid, rollout_matrix


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
    if _has_class_token(model):
        tokens = model.get_layer("class_token")(tokens)
    tokens = model.get_layer("position")(tokens)
    scores = []
    for block in transformer_blocks(model):
        tokens, block_scores = block(tokens, training=False, return_attention_scores=True)
        scores.append(keras.ops.convert_to_numpy(block_scores).astype("float32"))
    return scores


def attention_maps(model: keras.Model, images, residual: float = 0.5) -> np.ndarray:
    """Attention-rollout map per image, ``(batch, grid, grid)``, each summing to 1.

    Without a class token (the reference head flattens all tokens) the map is the
    rollout averaged over all output tokens; with one, it is the class token's row
    over the patches, renormalised -- what the classifier reads.
    """
    scores = attention_scores(model, images)
    if _has_class_token(model):
        rows = rollout_matrix(scores, residual=residual)[:, 0, 1:]
        flat = rows / rows.sum(-1, keepdims=True)
    else:
        flat = attention_rollout(scores, residual=residual)
    grid = int(round(np.sqrt(flat.shape[-1])))
    return rollout_grid(flat, grid)


def self_attention_share(scores) -> list:
    """How much attention each token pays itself, per block (chapter 7): the mean over
    images, heads and query tokens of the diagonal weight ``p[i, i]``, beside ``1/N``,
    what a token would pay itself attending uniformly to all ``N`` tokens. LSA masks the
    diagonal, so its blocks give exactly 0; a plain block above ``1/N`` favours itself.

    ``scores``: :func:`attention_scores`' list of ``(batch, heads, N, N)`` arrays.
    Returns one ``{"block", "self", "uniform", "ratio"}`` per block.
    """
    rows = []
    for i, probabilities in enumerate(scores):
        p = np.asarray(probabilities, dtype=np.float64)
        n = p.shape[-1]
        diagonal = np.diagonal(p, axis1=-2, axis2=-1)
        share = float(diagonal.mean())
        rows.append({"block": i, "self": share, "uniform": 1.0 / n, "ratio": share * n})
    return rows


def _has_class_token(model: keras.Model) -> bool:
    return any(layer.name == "class_token" for layer in model.layers)
