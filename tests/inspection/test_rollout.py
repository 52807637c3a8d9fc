"""Tests for vitsd.inspection.rollout (chapter 7)."""

import numpy as np
import pytest

from vitsd.inspection.rollout import attention_rollout, rollout_grid, rollout_matrix


def random_scores(rng, layers=3, batch=2, heads=4, n=9, zero_diagonal=False):
    out = []
    for _ in range(layers):
        logits = rng.normal(size=(batch, heads, n, n))
        if zero_diagonal:
            logits[..., np.arange(n), np.arange(n)] = -np.inf
        w = np.exp(logits - logits.max(axis=-1, keepdims=True))
        out.append(w / w.sum(axis=-1, keepdims=True))
    return out


def loop_rollout(scores, residual, fusion):
    """Straightforward reference: explicit Python loops over images, layers, rows."""
    batch, heads, n, _ = scores[0].shape
    maps = np.zeros((batch, n))
    for b in range(batch):
        r = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
        for layer in scores:
            a = [[0.0] * n for _ in range(n)]
            for i in range(n):
                for j in range(n):
                    vals = [layer[b, h, i, j] for h in range(heads)]
                    f = {"mean": sum(vals) / heads, "max": max(vals), "min": min(vals)}[fusion]
                    a[i][j] = residual * (i == j) + (1 - residual) * f
                total = sum(a[i])
                a[i] = [x / total for x in a[i]]
            # r <- a @ r
            r = [[sum(a[i][k] * r[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
        for j in range(n):
            maps[b, j] = sum(r[i][j] for i in range(n)) / n
    return maps


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("residual", [0.0, 0.3, 0.5, 1.0])
def test_matches_loop_reference(fusion, residual):
    rng = np.random.default_rng(0)
    scores = random_scores(rng, zero_diagonal=True)
    got = attention_rollout(scores, residual=residual, head_fusion=fusion)
    assert got.shape == (2, 9)
    np.testing.assert_allclose(got, loop_rollout(scores, residual, fusion), rtol=1e-10, atol=1e-12)


def test_layer_order_matters_and_is_last_on_left():
    rng = np.random.default_rng(1)
    scores = random_scores(rng, layers=2, batch=1, heads=1, n=5)
    a1 = 0.5 * np.eye(5) + 0.5 * scores[0][0, 0]
    a2 = 0.5 * np.eye(5) + 0.5 * scores[1][0, 0]
    np.testing.assert_allclose(rollout_matrix(scores)[0], a2 @ a1)
    np.testing.assert_allclose(attention_rollout(scores)[0], (a2 @ a1).mean(axis=0))


def test_rows_sum_to_one():
    rng = np.random.default_rng(2)
    scores = random_scores(rng, layers=8, batch=3, heads=4, n=16, zero_diagonal=True)
    for fusion in ("mean", "max", "min"):
        maps = attention_rollout(scores, residual=0.5, head_fusion=fusion)
        np.testing.assert_allclose(maps.sum(axis=1), 1.0)
        assert np.all(maps >= 0)
        np.testing.assert_allclose(rollout_matrix(scores, head_fusion=fusion).sum(-1), 1.0)


def test_identity_attention_gives_uniform_map():
    n = 16
    eye = np.broadcast_to(np.eye(n), (2, 4, n, n))
    maps = attention_rollout([eye, eye, eye], residual=0.5)
    np.testing.assert_allclose(maps, np.full((2, n), 1 / n))


def test_all_queries_attend_to_one_token():
    n, k = 9, 4
    layer = np.zeros((1, 2, n, n))
    layer[..., k] = 1.0
    maps = attention_rollout([layer], residual=0.5)
    assert maps.argmax() == k
    # Expected exactly: 0.5 own + 0.5 to k  ->  column k gets 0.5 + 0.5/n.
    assert maps[0, k] == pytest.approx(0.5 + 0.5 / n)
    assert maps[0, k] > 0.5
    maps0 = attention_rollout([layer], residual=0.0)
    np.testing.assert_allclose(maps0[0], np.eye(n)[k])


def test_single_array_is_one_layer():
    rng = np.random.default_rng(3)
    (layer,) = random_scores(rng, layers=1)
    np.testing.assert_allclose(attention_rollout(layer), attention_rollout([layer]))


def test_rollout_grid():
    maps = np.arange(2 * 16, dtype=float).reshape(2, 16)
    grid = rollout_grid(maps, 4)
    assert grid.shape == (2, 4, 4)
    assert grid[1, 2, 3] == maps[1, 2 * 4 + 3]
    assert rollout_grid(maps[0], 4).shape == (1, 4, 4)
    with pytest.raises(ValueError, match="grid_size"):
        rollout_grid(maps, 5)
    with pytest.raises(ValueError, match="grid_size"):
        rollout_grid(maps, 0)
    with pytest.raises(ValueError, match="maps"):
        rollout_grid(np.zeros((2, 2, 16)), 4)


def test_errors():
    good = np.full((2, 4, 9, 9), 1 / 9)
    with pytest.raises(ValueError, match="square"):
        attention_rollout([np.full((2, 4, 9, 8), 1 / 8)])
    with pytest.raises(ValueError, match="4-D"):
        attention_rollout([np.full((4, 9, 9), 1 / 9)])
    with pytest.raises(ValueError, match="scores"):
        attention_rollout([good, np.full((2, 4, 16, 16), 1 / 16)])
    with pytest.raises(ValueError, match="scores"):
        attention_rollout([good, np.full((3, 4, 9, 9), 1 / 9)])
    with pytest.raises(ValueError, match="scores"):
        attention_rollout([])
    for bad in (-0.1, 1.5, float("nan"), "0.5"):
        with pytest.raises(ValueError, match="residual"):
            attention_rollout([good], residual=bad)
    with pytest.raises(ValueError, match="head_fusion.*mean.*max.*min"):
        attention_rollout([good], head_fusion="sum")
