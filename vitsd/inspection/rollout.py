"""Attention rollout: where does the model look? (taught in chapter 7, "Looking inside").

Attention rollout (Abnar & Zuidema, 2020) follows information through the layers of a
transformer. Each layer's attention matrix says how much every query token reads from
every key token; the residual connection around attention also carries each token's
own value forward, so a layer is modelled as

    A = residual * I + (1 - residual) * mean_over_heads(attention)

with every row renormalised to sum to 1. Multiplying the layers,
``R = A_L @ ... @ A_2 @ A_1``, gives how much each final token draws from each input
patch.

The vitsd model has no class token: its head flattens *all* tokens. So the per-image
map is the mean of ``R`` over its query rows, one weight per patch, summing to 1.

Everything here is NumPy; ``scores`` are the attention weights the model returns
(rows are queries, softmax over the last axis). Under locality self-attention the
diagonal is masked to zero, which is why the identity term matters.
"""

from __future__ import annotations

import numpy as np

HEAD_FUSIONS = ("mean", "max", "min")


def _fuse_heads(layer: np.ndarray, head_fusion: str) -> np.ndarray:
    if head_fusion == "mean":
        return layer.mean(axis=1)
    if head_fusion == "max":
        return layer.max(axis=1)
    return layer.min(axis=1)


def _check_scores(scores) -> list:
    if isinstance(scores, np.ndarray) and scores.ndim == 4:
        scores = [scores]
    try:
        layers = [np.asarray(s, dtype=np.float64) for s in scores]
    except TypeError:
        raise ValueError(
            "scores must be a list over layers of arrays shaped (batch, heads, N, N), "
            f"got {type(scores).__name__}."
        ) from None
    if not layers:
        raise ValueError("scores must hold at least one layer, got an empty list.")
    first = layers[0].shape
    for i, layer in enumerate(layers):
        if layer.ndim != 4:
            raise ValueError(
                f"scores[{i}] must be 4-D (batch, heads, N, N), got shape {layer.shape}."
            )
        if layer.shape[-1] != layer.shape[-2]:
            raise ValueError(
                f"scores[{i}] must be square over its last two axes (N queries x N keys), "
                f"got shape {layer.shape}."
            )
        if layer.shape[0] != first[0] or layer.shape[2:] != first[2:]:
            raise ValueError(
                f"scores layers must share batch size and token count; scores[0] has shape "
                f"{first} but scores[{i}] has shape {layer.shape}."
            )
        if not np.all(np.isfinite(layer)):
            raise ValueError(f"scores[{i}] contains NaN or infinite values.")
    return layers


def rollout_matrix(scores, residual: float = 0.5, head_fusion: str = "mean") -> np.ndarray:
    """The full rollout ``R = A_L @ ... @ A_1``, shape ``(B, N, N)``, rows summing to 1.

    See :func:`attention_rollout` for the arguments.
    """
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}.")
    if (
        isinstance(residual, bool)
        or not isinstance(residual, (int, float, np.integer, np.floating))
        or not 0.0 <= float(residual) <= 1.0
    ):
        raise ValueError(f"residual must be a number in [0, 1], got {residual!r}.")
    residual = float(residual)
    layers = _check_scores(scores)

    batch, _, n, _ = layers[0].shape
    eye = np.eye(n)
    rollout = np.broadcast_to(eye, (batch, n, n)).copy()
    for layer in layers:
        fused = _fuse_heads(layer, head_fusion)
        a = residual * eye + (1.0 - residual) * fused
        sums = a.sum(axis=-1, keepdims=True)
        # A row with no mass at all (only possible with residual=0) stays on itself.
        a = np.where(sums > 0, a / np.where(sums > 0, sums, 1.0), eye)
        rollout = a @ rollout  # newest layer on the left: A_l @ (A_{l-1} ... A_1)
    return rollout


def attention_rollout(scores, residual: float = 0.5, head_fusion: str = "mean") -> np.ndarray:
    """Per-image attention rollout map over the patches, shape ``(B, N)``.

    Args:
        scores: list over layers of attention weights shaped ``(B, heads, N, N)``,
            rows are queries (each row a softmax over keys). A single 4-D array is
            taken as one layer.
        residual: weight of the identity (the residual connection) mixed into every
            layer, in ``[0, 1]``. ``0.5`` is the usual choice.
        head_fusion: how heads are combined per layer: ``"mean"``, ``"max"`` or ``"min"``.

    Returns:
        ``float64`` array ``(B, N)``: the mean over query rows of the rollout matrix, so
        each row sums to 1 (the model has no class token; its head reads all tokens).
    """
    return rollout_matrix(scores, residual=residual, head_fusion=head_fusion).mean(axis=1)


def rollout_grid(maps, grid_size: int) -> np.ndarray:
    """Reshape per-patch maps ``(B, N)`` (or one map ``(N,)``) to ``(B, g, g)``.

    Patches are numbered row-major, as the patch extraction lays them out.
    """
    maps = np.asarray(maps)
    if (isinstance(grid_size, bool) or not isinstance(grid_size, (int, np.integer))
            or grid_size <= 0):
        raise ValueError(f"grid_size must be a positive integer, got {grid_size!r}.")
    if maps.ndim == 1:
        maps = maps[None]
    if maps.ndim != 2:
        raise ValueError(f"maps must have shape (batch, N) or (N,), got shape {maps.shape}.")
    if maps.shape[1] != grid_size * grid_size:
        raise ValueError(
            f"grid_size ({grid_size}) squared must equal the number of patches "
            f"({maps.shape[1]}) in maps of shape {maps.shape}."
        )
    return maps.reshape(maps.shape[0], grid_size, grid_size)
