"""How sharp and how local is attention? (taught in chapter 4, "Locality Self-Attention").

Two numbers per attention head, both averaged over images and query tokens:

* :func:`attention_entropy` -- the entropy of a row of attention weights, in nats:
  ``log(N)`` for a row spread evenly over ``N`` keys, 0 for a row on a single key.
  It measures how *concentrated* attention is, not where it goes.
* :func:`attention_distance` -- the mean image distance between a query patch and the
  patches it attends to, weighted by the attention (the "mean attention distance" of
  Dosovitskiy et al. 2021, Fig. 7, and Raghu et al. 2021). It measures how *local*
  attention is: a head can be sharp and far (all weight on one distant patch) or
  spread and near.

:func:`attention_profile` gives both, block by block, for a built model and a set of
images; :func:`seed_spread` summarises the profiles of several seeds of one model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _weights(scores, name: str = "scores") -> np.ndarray:
    """``scores`` as a float64 array ``(batch, heads, N, N)`` of non-negative weights."""
    p = np.asarray(scores, dtype=np.float64)
    if p.ndim != 4 or p.shape[-1] != p.shape[-2]:
        raise ValueError(
            f"{name} must have shape (batch, heads, N, N) -- one block's attention weights, "
            f"as vitsd.inspection.attention.attention_scores returns them -- got {p.shape}.")
    if not np.all(np.isfinite(p)) or (p < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative attention weights "
                         "(softmax probabilities, not raw scores).")
    return p


def patch_distances(grid_size: int, patch_size: int = 1) -> np.ndarray:
    """Euclidean distance between the centres of every pair of patches of a
    ``grid_size`` x ``grid_size`` grid, ``(N, N)`` with ``N = grid_size**2``, the patches
    numbered row by row (as the tokenizers lay them out). In patches, or in pixels
    when ``patch_size`` is the side of a patch."""
    g = _positive_int(grid_size, "grid_size")
    size = _positive_int(patch_size, "patch_size")
    rows, cols = np.divmod(np.arange(g * g), g)
    return size * np.hypot(rows[:, None] - rows[None, :], cols[:, None] - cols[None, :])


def attention_entropy(scores) -> np.ndarray:
    """Entropy of every row of attention weights, in nats, averaged per head over the
    batch and the queries: ``(heads,)``.

    ``scores``: one block's weights ``(batch, heads, N, N)``, rows (queries) summing to
    1. A row spread evenly over ``N`` keys has entropy ``log(N)``; LSA's masked rows
    reach at most ``log(N - 1)``; a row on one key has 0 (``0 log 0`` counts as 0).
    """
    p = _weights(scores)
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(-1).mean(axis=(0, 2))


def attention_distance(scores, grid_size: int, patch_size: int = 1,
                       skip_tokens: int = 0) -> np.ndarray:
    """Mean attention distance per head, ``(heads,)``: for each query patch the
    attention-weighted mean distance (:func:`patch_distances`) to the patches it reads,
    averaged over the batch and the query patches.

    ``scores``: one block's weights ``(batch, heads, T, T)`` with ``T = skip_tokens +
    grid_size**2``: ``skip_tokens`` tokens that are not patches (a class token) come
    first, then the patches row by row. Those tokens have no place in the image: their
    rows are left out, and so are their columns -- each patch's row is renormalised
    over the patches, so the distance is that of the attention that goes to patches.
    ``patch_size``: 1 gives the distance in patches; the side of a patch gives it in
    pixels.
    """
    p = _patch_rows(scores, grid_size, skip_tokens)  # (batch, heads, N, N), rows sum to 1
    distances = patch_distances(grid_size, patch_size)  # (N, N), query to key
    per_query = np.einsum("bhqk,qk->bhq", p, distances)  # weighted mean distance per row
    return per_query.mean(axis=(0, 2))


def _patch_rows(scores, grid_size, skip_tokens: int) -> np.ndarray:
    """The patch-to-patch weights of ``scores`` (``skip_tokens`` leading tokens removed),
    each row renormalised to sum to 1."""
    p = _weights(scores)
    g = _positive_int(grid_size, "grid_size")
    if isinstance(skip_tokens, bool) or not isinstance(skip_tokens, (int, np.integer)) \
            or skip_tokens < 0:
        raise ValueError(f"skip_tokens must be a non-negative integer, got {skip_tokens!r}.")
    n = g * g
    if p.shape[-1] != skip_tokens + n:
        raise ValueError(
            f"scores have {p.shape[-1]} tokens, but grid_size={g} gives {n} patches and "
            f"skip_tokens={skip_tokens}: pass the grid of the model's patches "
            "(config.grid_size) and skip_tokens=1 if it has a class token.")
    p = p[:, :, skip_tokens:, skip_tokens:]
    total = p.sum(-1, keepdims=True)
    if (total <= 0).any():
        raise ValueError("scores has a patch row with no weight on any patch: the "
                         "distance of that row is undefined.")
    return p / total


def attention_profile(model, images, config, batch_size: int = 128) -> list:
    """Per block of ``model``: the entropy and the attention distance of its attention
    on ``images`` (raw images, as the model takes them), means over images, query
    tokens and heads.

    ``config``: the model's :class:`~vitsd.config.Config` (its grid and patch size, and
    whether it has a class token). Returns one ``{"block", "entropy", "distance",
    "distance_pixels", "entropy_heads", "distance_heads"}`` per block: ``distance`` in
    patches, ``distance_pixels`` in pixels of the model's input, the ``_heads`` entries
    per head. Images go through the model ``batch_size`` at a time; the means weight
    every image equally.
    """
    from vitsd.inspection.attention import attention_scores

    images = np.asarray(images)
    if images.ndim != 4 or not len(images):
        raise ValueError(f"images must be a non-empty batch (count, height, width, "
                         f"channels), got shape {images.shape}.")
    batch_size = _positive_int(batch_size, "batch_size")
    skip = 1 if config.pooling == "class_token" else 0
    sums = None
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        found = [(attention_entropy(s), attention_distance(s, config.grid_size, 1, skip))
                 for s in attention_scores(model, chunk)]
        weighted = [(len(chunk) * e, len(chunk) * d) for e, d in found]
        sums = weighted if sums is None else [
            (a + e, b + d) for (a, b), (e, d) in zip(sums, weighted)]
    rows = []
    for i, (entropy, distance) in enumerate(sums):
        entropy, distance = entropy / len(images), distance / len(images)
        rows.append({"block": i, "entropy": float(entropy.mean()),
                     "distance": float(distance.mean()),
                     "distance_pixels": float(distance.mean() * config.patch_size),
                     "entropy_heads": entropy.tolist(), "distance_heads": distance.tolist()})
    return rows


def seed_spread(profiles: Sequence[Sequence[Mapping]], key: str) -> dict:
    """The spread over seeds of one number of :func:`attention_profile`: ``profiles``
    holds one profile per seed (all of one model), ``key`` names the number
    (``"entropy"``, ``"distance"``, ``"distance_pixels"``). Returns ``{"mean", "low",
    "high"}``, each a list with one value per block, and ``"seeds"``, how many."""
    if not profiles:
        raise ValueError("profiles is empty: pass one attention_profile per seed.")
    blocks = {len(profile) for profile in profiles}
    if len(blocks) != 1:
        raise ValueError(f"profiles must all have the same number of blocks, got {blocks}.")
    try:
        values = np.array([[row[key] for row in profile] for profile in profiles], float)
    except KeyError:
        raise ValueError(f"key must be a number of attention_profile's rows, such as "
                         f"'entropy' or 'distance', got {key!r}.") from None
    return {"mean": values.mean(0).tolist(), "low": values.min(0).tolist(),
            "high": values.max(0).tolist(), "seeds": len(profiles)}
