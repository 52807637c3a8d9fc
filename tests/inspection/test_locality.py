"""Tests for vitsd.inspection.locality: attention entropy and mean attention distance,
against hand-computed cases and plain-Python loops."""

import math

import numpy as np
import pytest

from vitsd.config import Config
from vitsd.inspection.locality import (
    attention_distance,
    attention_entropy,
    attention_profile,
    patch_distances,
    seed_spread,
)


def random_weights(rng, batch=2, heads=3, n=9, zero_diagonal=False):
    logits = rng.normal(size=(batch, heads, n, n)) * 2.0
    if zero_diagonal:
        logits[..., np.arange(n), np.arange(n)] = -np.inf
    w = np.exp(logits - logits.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True)


def loop_distance(p, grid, patch_size=1, skip=0):
    """Reference: explicit loops over images, heads, queries and keys."""
    batch, heads, _, _ = p.shape
    out = []
    for h in range(heads):
        total, count = 0.0, 0
        for b in range(batch):
            for q in range(grid * grid):
                qr, qc = q // grid, q % grid
                row = [p[b, h, skip + q, skip + k] for k in range(grid * grid)]
                norm = sum(row)
                d = 0.0
                for k, w in enumerate(row):
                    kr, kc = k // grid, k % grid
                    d += w / norm * math.sqrt((qr - kr) ** 2 + (qc - kc) ** 2) * patch_size
                total += d
                count += 1
        out.append(total / count)
    return np.array(out)


def loop_entropy(p):
    batch, heads, n, _ = p.shape
    out = []
    for h in range(heads):
        rows = [-sum(w * math.log(w) for w in p[b, h, q] if w > 0)
                for b in range(batch) for q in range(n)]
        out.append(sum(rows) / len(rows))
    return np.array(out)


# ------------------------------------------------------------ hand-computed cases
def test_one_hot_attention_to_the_right_neighbour_is_distance_one():
    # 2x2 grid, patches 0 1 / 2 3. Each patch attends to its right neighbour
    # (wrapping to the left one on the right column): always one patch away.
    p = np.zeros((1, 1, 4, 4))
    for q, k in ((0, 1), (1, 0), (2, 3), (3, 2)):
        p[0, 0, q, k] = 1.0
    np.testing.assert_allclose(attention_distance(p, grid_size=2), [1.0])
    np.testing.assert_allclose(attention_distance(p, grid_size=2, patch_size=4), [4.0])
    np.testing.assert_allclose(attention_entropy(p), [0.0])  # one key per row


def test_uniform_attention_on_a_2x2_grid():
    # From any corner of a 2x2 grid: itself 0, two side neighbours 1, the diagonal sqrt 2.
    p = np.full((3, 2, 4, 4), 0.25)
    expected = (0 + 1 + 1 + math.sqrt(2)) / 4
    np.testing.assert_allclose(attention_distance(p, grid_size=2), [expected] * 2)
    np.testing.assert_allclose(attention_entropy(p), [math.log(4)] * 2)


def test_attention_on_itself_is_distance_zero_and_a_corner_on_a_3x3_grid():
    eye = np.eye(9)[None, None]
    np.testing.assert_allclose(attention_distance(eye, grid_size=3), [0.0])
    # every query on patch 8, the bottom-right corner: from patch 0 that is 2*sqrt 2.
    corner = np.zeros((1, 1, 9, 9))
    corner[..., 8] = 1.0
    rows, cols = np.divmod(np.arange(9), 3)
    expected = np.mean(np.hypot(2 - rows, 2 - cols))
    np.testing.assert_allclose(attention_distance(corner, grid_size=3), [expected])


def test_patch_distances_by_hand():
    d = patch_distances(2)
    s = math.sqrt(2)
    np.testing.assert_allclose(d, [[0, 1, 1, s], [1, 0, s, 1], [1, s, 0, 1], [s, 1, 1, 0]])
    np.testing.assert_allclose(patch_distances(2, patch_size=6), 6 * d)


def test_masked_uniform_row_has_entropy_log_n_minus_one():
    n = 5
    p = (np.ones((n, n)) - np.eye(n)) / (n - 1)
    np.testing.assert_allclose(attention_entropy(p[None, None]), [math.log(n - 1)])


# ------------------------------------------------------------ against the loops
@pytest.mark.parametrize("zero_diagonal", [False, True])
def test_distance_and_entropy_equal_the_loops(zero_diagonal):
    p = random_weights(np.random.default_rng(3), n=9, zero_diagonal=zero_diagonal)
    np.testing.assert_allclose(attention_distance(p, 3), loop_distance(p, 3), rtol=1e-12)
    np.testing.assert_allclose(attention_distance(p, 3, patch_size=4),
                               loop_distance(p, 3, patch_size=4), rtol=1e-12)
    np.testing.assert_allclose(attention_entropy(p), loop_entropy(p), rtol=1e-12)


def test_a_class_token_is_skipped_and_the_patch_rows_renormalised():
    rng = np.random.default_rng(4)
    p = random_weights(rng, n=10)  # a class token, then a 3x3 grid
    np.testing.assert_allclose(attention_distance(p, 3, skip_tokens=1),
                               loop_distance(p, 3, skip=1), rtol=1e-12)
    # Attention to the class token moves no patch's distance.
    shifted = p.copy()
    shifted[:, :, :, 0] *= 5.0
    shifted /= shifted.sum(-1, keepdims=True)
    np.testing.assert_allclose(attention_distance(shifted, 3, skip_tokens=1),
                               attention_distance(p, 3, skip_tokens=1), rtol=1e-12)


def test_bad_input_names_the_parameter():
    p = np.full((1, 1, 4, 4), 0.25)
    with pytest.raises(ValueError, match="grid_size"):
        attention_distance(p, grid_size=3)
    with pytest.raises(ValueError, match="skip_tokens=1"):
        attention_distance(np.full((1, 1, 5, 5), 0.2), grid_size=2)
    with pytest.raises(ValueError, match="grid_size must be a positive integer"):
        attention_distance(p, grid_size=0)
    with pytest.raises(ValueError, match="patch_size"):
        attention_distance(p, grid_size=2, patch_size=1.5)
    with pytest.raises(ValueError, match="skip_tokens"):
        attention_distance(p, grid_size=2, skip_tokens=-1)
    with pytest.raises(ValueError, match=r"\(batch, heads, N, N\)"):
        attention_entropy(p[0])
    with pytest.raises(ValueError, match="non-negative"):
        attention_entropy(-p)
    with pytest.raises(ValueError, match="no weight"):
        attention_distance(np.zeros((1, 1, 4, 4)), grid_size=2)


def test_seed_spread():
    profiles = [[{"entropy": 1.0}, {"entropy": 2.0}], [{"entropy": 3.0}, {"entropy": 1.0}]]
    assert seed_spread(profiles, "entropy") == {"mean": [2.0, 1.5], "low": [1.0, 1.0],
                                                "high": [3.0, 2.0], "seeds": 2}
    with pytest.raises(ValueError, match="key"):
        seed_spread(profiles, "distances")
    with pytest.raises(ValueError, match="profiles"):
        seed_spread([], "entropy")
    with pytest.raises(ValueError, match="same number of blocks"):
        seed_spread([profiles[0], profiles[0][:1]], "entropy")


# ------------------------------------------------------------------ on a model
SMALL = Config(num_layers=2, num_heads=2, key_dim=8, projection_dim=16, mlp_units=(32, 16),
               head_units=(16,), num_classes=4, image_size=24, patch_size=6, pooling="mean")


@pytest.mark.backend
@pytest.mark.parametrize("lsa", [False, True])
def test_attention_profile_is_the_mean_over_images_of_each_blocks_numbers(lsa):
    import vitsd
    from vitsd.inspection.attention import attention_scores

    model = vitsd.build_vit(SMALL, spt=True, lsa=lsa)
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3)).astype("float32")
    profile = attention_profile(model, images, SMALL, batch_size=2)  # batches 2, 2, 1
    scores = attention_scores(model, images)
    assert [row["block"] for row in profile] == [0, 1]
    for row, s in zip(profile, scores):
        s = s.astype(np.float64)
        s /= s.sum(-1, keepdims=True)  # float32 rows sum to 1 only to ~1e-7
        np.testing.assert_allclose(row["entropy_heads"], loop_entropy(s), rtol=1e-4)
        np.testing.assert_allclose(row["distance_heads"], loop_distance(s, 4), rtol=1e-4)
        assert row["entropy"] == pytest.approx(np.mean(row["entropy_heads"]))
        assert row["distance_pixels"] == pytest.approx(6 * row["distance"])
        if lsa:  # no weight on the query's own patch: at least one patch away
            assert row["distance"] >= 1.0
    with pytest.raises(ValueError, match="images"):
        attention_profile(model, images[0], SMALL)
