"""Each layer against an independent NumPy computation."""

import keras
import numpy as np
import pytest
from keras import ops

import vitsd
from vitsd.layers.lsa import LocalitySelfAttention
from vitsd.layers.patches import PatchEncoder, extract_patches
from vitsd.layers.position import PositionEmbedding
from vitsd.layers.spt import SHIFTS, ShiftedPatchTokenization, shift_images

# Every layer against NumPy: all of it runs on each backend (tools/test.sh).
pytestmark = pytest.mark.backend

RNG = np.random.default_rng(0)


def np_(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


# ----------------------------------------------------------------- references
def ref_patches(images, p):
    """Loop over the grid: patch (r, c) is images[r*p:(r+1)*p, c*p:(c+1)*p] flattened."""
    b, h, w, c = images.shape
    out = []
    for img in images:
        rows = []
        for r in range(h // p):
            for col in range(w // p):
                rows.append(img[r * p:(r + 1) * p, col * p:(col + 1) * p, :].reshape(-1))
        out.append(rows)
    return np.array(out)


def ref_shift(images, s, direction):
    """Pixel loop: content at (y, x) moves to (y + dy*s, x + dx*s); the rest is 0."""
    dy, dx = {"left-up": (-1, -1), "left-down": (1, -1),
              "right-up": (-1, 1), "right-down": (1, 1)}[direction]
    out = np.zeros_like(images)
    _, h, w, _ = images.shape
    for y in range(h):
        for x in range(w):
            ty, tx = y + dy * s, x + dx * s
            if 0 <= ty < h and 0 <= tx < w:
                out[:, ty, tx, :] = images[:, y, x, :]
    return out


def ref_layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def ref_attention(x, wq, bq, wk, bk, wv, bv, wo, bo, tau, mask_diagonal):
    q = np.einsum("bnc,chd->bnhd", x, wq) + bq
    k = np.einsum("bnc,chd->bnhd", x, wk) + bk
    v = np.einsum("bnc,chd->bnhd", x, wv) + bv
    scores = np.einsum("bqhd,bkhd->bhqk", q, k) / tau
    if mask_diagonal:
        n = x.shape[1]
        scores = np.where(np.eye(n, dtype=bool), -np.inf, scores)
    scores = scores - scores.max(-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(-1, keepdims=True)
    out = np.einsum("bhqk,bkhd->bqhd", probs, v)
    return np.einsum("bqhd,hdc->bqc", out, wo) + bo, probs


# ---------------------------------------------------------------------- patches
@pytest.mark.parametrize("shape,p", [((2, 12, 18, 3), 6), ((1, 8, 8, 15), 4), ((3, 6, 6, 1), 3)])
def test_extract_patches_matches_grid_loop(shape, p):
    images = RNG.normal(size=shape).astype("float32")
    got = np_(extract_patches(ops.convert_to_tensor(images), p))
    np.testing.assert_array_equal(got, ref_patches(images, p))


def test_patches_reference_geometry():
    images = RNG.normal(size=(1, 72, 72, 3)).astype("float32")
    patches = vitsd.Patches(6)(images)
    assert tuple(patches.shape) == (1, 144, 108)


def test_extract_patches_rejects_indivisible_size():
    with pytest.raises(ValueError, match="patch_size"):
        extract_patches(ops.zeros((1, 10, 10, 3)), 6)


def test_position_embedding_adds_one_row_per_position():
    layer = PositionEmbedding(4, 5)
    tokens = RNG.normal(size=(2, 4, 5)).astype("float32")
    out = np_(layer(tokens))
    table = np_(layer.position_embedding.embeddings)
    np.testing.assert_allclose(out, tokens + table[None], rtol=1e-6)


def test_patch_encoder_is_projection_plus_position():
    layer = PatchEncoder(num_patches=4, projection_dim=3)
    patches = RNG.normal(size=(2, 4, 6)).astype("float32")
    out = np_(layer(patches))
    kernel, bias = (np_(w) for w in layer.projection.weights)
    table = np_(layer.position.position_embedding.embeddings)
    np.testing.assert_allclose(out, patches @ kernel + bias + table, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------- SPT
@pytest.mark.parametrize("direction", SHIFTS)
def test_shift_images_matches_pixel_loop(direction):
    images = RNG.normal(size=(2, 6, 7, 2)).astype("float32")
    got = np_(shift_images(ops.convert_to_tensor(images), 3, direction))
    np.testing.assert_array_equal(got, ref_shift(images, 3, direction))


def test_shift_names_say_where_content_goes():
    image = np.zeros((1, 6, 6, 1), "float32")
    image[0, 3, 3, 0] = 1.0
    tensor = ops.convert_to_tensor(image)
    moved = {
        d: np.argwhere(np_(shift_images(tensor, 1, d))[0, :, :, 0])[0].tolist() for d in SHIFTS
    }
    assert moved == {
        "left-up": [2, 2], "left-down": [4, 2], "right-up": [2, 4], "right-down": [4, 4]
    }


def test_shift_rejects_unknown_direction():
    with pytest.raises(ValueError, match="direction must be one of"):
        shift_images(ops.zeros((1, 4, 4, 1)), 1, "up")


def test_spt_concatenates_original_and_four_shifts_in_order():
    images = RNG.normal(size=(2, 12, 12, 3)).astype("float32")
    layer = ShiftedPatchTokenization(patch_size=6, projection_dim=8)
    flat = np_(layer.flat_patches(ops.convert_to_tensor(images)))
    stacked = np.concatenate([images] + [ref_shift(images, 3, d) for d in SHIFTS], axis=-1)
    np.testing.assert_array_equal(flat, ref_patches(stacked, 6))
    assert flat.shape == (2, 4, 6 * 6 * 15)


def test_spt_tokens_are_layernorm_then_projection():
    images = RNG.normal(size=(2, 12, 12, 3)).astype("float32")
    layer = ShiftedPatchTokenization(patch_size=6, projection_dim=8, layer_norm_eps=1e-6)
    tokens = np_(layer(images))
    stacked = np.concatenate([images] + [ref_shift(images, 3, d) for d in SHIFTS], axis=-1)
    flat = ref_patches(stacked, 6)
    gamma, beta = (np_(w) for w in layer.layer_norm.weights)
    kernel, bias = (np_(w) for w in layer.projection.weights)
    expected = ref_layer_norm(flat, gamma, beta, 1e-6) @ kernel + bias
    np.testing.assert_allclose(tokens, expected, rtol=1e-4, atol=1e-5)


def test_vanilla_tokenizer_is_plain_patches_and_projection():
    images = RNG.normal(size=(2, 12, 12, 3)).astype("float32")
    layer = ShiftedPatchTokenization(patch_size=6, projection_dim=8, vanilla=True)
    tokens = np_(layer(images))
    kernel, bias = (np_(w) for w in layer.projection.weights)
    assert layer.layer_norm is None and kernel.shape == (108, 8)
    np.testing.assert_allclose(tokens, ref_patches(images, 6) @ kernel + bias, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------- LSA
def _lsa_weights(layer):
    w = {v.path.split("/")[-2] + "/" + v.path.split("/")[-1]: np_(v) for v in layer.weights}
    return [w["query/kernel"], w["query/bias"], w["key/kernel"], w["key/bias"],
            w["value/kernel"], w["value/bias"], w["attention_output/kernel"],
            w["attention_output/bias"]]


def test_lsa_matches_numpy_attention_with_masked_diagonal():
    x = RNG.normal(size=(2, 5, 8)).astype("float32")
    layer = LocalitySelfAttention(num_heads=2, key_dim=4)
    out, probs = layer(x, return_attention_scores=True)
    tau = float(np_(layer.temperature))
    assert tau == pytest.approx(2.0)  # sqrt(key_dim)
    ref_out, ref_probs = ref_attention(x, *_lsa_weights(layer), tau, mask_diagonal=True)
    np.testing.assert_allclose(np_(probs), ref_probs, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np_(out), ref_out, rtol=1e-4, atol=1e-5)
    diag = np.diagonal(np_(probs), axis1=-2, axis2=-1)
    assert np.all(diag == 0.0)
    np.testing.assert_allclose(np_(probs).sum(-1), 1.0, rtol=1e-5)


def test_lsa_without_its_two_changes_equals_keras_multi_head_attention():
    x = RNG.normal(size=(2, 5, 8)).astype("float32")
    ours = LocalitySelfAttention(num_heads=2, key_dim=4, diagonal_masking=False,
                                 learnable_temperature=False)
    ours(x)
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    mha(x, x)
    assert len(mha.weights) == len(ours.weights) - 1  # the temperature
    assert sum(int(np.prod(w.shape)) for w in mha.weights) + 1 == sum(
        int(np.prod(w.shape)) for w in ours.weights)
    mha.set_weights(_lsa_weights(ours))  # query, key, value, output: kernel then bias
    np.testing.assert_allclose(np_(ours(x)), np_(mha(x, x)), rtol=1e-4, atol=1e-5)


def test_temperature_follows_one_sgd_step_of_its_finite_difference_gradient():
    x = RNG.normal(size=(2, 5, 8)).astype("float32")
    target = RNG.normal(size=(2, 5, 8)).astype("float32")
    layer = LocalitySelfAttention(num_heads=2, key_dim=4)
    inputs = keras.Input((5, 8))
    model = keras.Model(inputs, layer(inputs))
    weights = _lsa_weights(layer)
    tau0 = float(np_(layer.temperature))

    def loss(tau):
        out, _ = ref_attention(x.astype("float64"), *[w.astype("float64") for w in weights],
                               tau, mask_diagonal=True)
        return np.mean((out - target) ** 2)

    eps = 1e-4
    grad = (loss(tau0 + eps) - loss(tau0 - eps)) / (2 * eps)
    lr = 0.5
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    model.fit(x, target, batch_size=2, epochs=1, verbose=0, shuffle=False)
    tau1 = float(np_(layer.temperature))
    assert abs(grad) > 1e-6
    assert tau1 == pytest.approx(tau0 - lr * grad, rel=1e-3, abs=1e-6)


def test_fixed_temperature_is_not_trained():
    layer = LocalitySelfAttention(num_heads=2, key_dim=4, learnable_temperature=False)
    layer(np.zeros((1, 3, 8), "float32"))
    assert all("temperature" not in v.path for v in layer.trainable_weights)
    assert any("temperature" in v.path for v in layer.non_trainable_weights)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_diagonal_mask_survives_mixed_precision(policy):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        layer = LocalitySelfAttention(num_heads=2, key_dim=4)
        x = (RNG.normal(size=(2, 6, 8)) * 300).astype("float32")  # big scores
        out, probs = layer(x, return_attention_scores=True)
        out, probs = np_(out).astype("float32"), np_(probs).astype("float32")
    finally:
        keras.config.set_dtype_policy(previous)
    assert np.isfinite(out).all() and np.isfinite(probs).all()
    assert np.all(np.diagonal(probs, axis1=-2, axis2=-1) == 0.0)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-3)


# --------------------------------------------------------------- the full model
def test_block_scores_come_from_the_attention_layer():
    block = vitsd.TransformerBlock(num_heads=2, key_dim=4, mlp_units=(16, 8), locality=True,
                                   attention_dropout=0.0, mlp_dropout=0.0)
    x = RNG.normal(size=(2, 5, 8)).astype("float32")
    out, scores = block(x, return_attention_scores=True)
    np.testing.assert_allclose(np_(out), np_(block(x)), rtol=1e-5, atol=1e-6)
    assert tuple(scores.shape) == (2, 2, 5, 5)
    assert np.all(np.diagonal(np_(scores), axis1=-2, axis2=-1) == 0.0)


# ------------------------------------------- the tokenizer's LayerNorm switch (ch. 6)
def test_spt_without_its_layernorm_projects_the_shifted_patches_as_they_are():
    images = RNG.normal(size=(2, 12, 12, 3)).astype("float32")
    layer = ShiftedPatchTokenization(patch_size=6, projection_dim=8, norm=False)
    tokens = np_(layer(images))
    stacked = np.concatenate([images] + [ref_shift(images, 3, d) for d in SHIFTS], axis=-1)
    kernel, bias = (np_(w) for w in layer.projection.weights)
    assert layer.layer_norm is None and kernel.shape == (540, 8)
    np.testing.assert_allclose(tokens, ref_patches(stacked, 6) @ kernel + bias,
                               rtol=1e-4, atol=1e-5)


def test_plain_patches_with_a_layernorm_are_normalised_then_projected():
    images = RNG.normal(size=(2, 12, 12, 3)).astype("float32")
    layer = ShiftedPatchTokenization(patch_size=6, projection_dim=8, vanilla=True, norm=True,
                                     layer_norm_eps=1e-6)
    tokens = np_(layer(images))
    gamma, beta = (np_(w) for w in layer.layer_norm.weights)
    kernel, bias = (np_(w) for w in layer.projection.weights)
    expected = ref_layer_norm(ref_patches(images, 6), gamma, beta, 1e-6) @ kernel + bias
    np.testing.assert_allclose(tokens, expected, rtol=1e-4, atol=1e-5)


def _affine_in_window(images, top, left, size, scale=0.5, shift=1.0):
    out = images.copy()
    out[:, top:top + size, left:left + size, :] = (
        scale * images[:, top:top + size, left:left + size, :] + shift)
    return out


@pytest.mark.parametrize("vanilla", [False, True])
def test_the_layernorm_makes_a_token_blind_to_its_neighbourhoods_brightness(vanilla):
    # 16x16 images, 4-pixel patches, 2-pixel shifts: token (1, 1) reads pixels 4..7
    # of the image and, through the shifts, 2..9 -- its neighbourhood. Change that
    # window's brightness and contrast (x -> 0.5 x + 1) and nothing else.
    images = RNG.normal(size=(2, 16, 16, 3)).astype("float32")
    top = 4 if vanilla else 2
    changed = _affine_in_window(images, top, top, 4 if vanilla else 8)
    token = 1 * 4 + 1
    moved = {}
    for norm in (True, False):
        layer = ShiftedPatchTokenization(patch_size=4, projection_dim=8, vanilla=vanilla,
                                         norm=norm, layer_norm_eps=1e-9)
        before, after = np_(layer(images)), np_(layer(changed))
        moved[norm] = np.abs(after[:, token] - before[:, token]).max()
        # A token whose window the change does not reach is the same either way.
        np.testing.assert_allclose(after[:, 15], before[:, 15], atol=1e-6)
    # The reference, in NumPy: the normalised flat patch of that token is unchanged.
    stacked = (images if vanilla else np.concatenate(
        [images] + [ref_shift(images, 2, d) for d in SHIFTS], axis=-1))
    stacked_changed = (changed if vanilla else np.concatenate(
        [changed] + [ref_shift(changed, 2, d) for d in SHIFTS], axis=-1))
    a = ref_layer_norm(ref_patches(stacked, 4)[:, token], 1.0, 0.0, 1e-9)
    b = ref_layer_norm(ref_patches(stacked_changed, 4)[:, token], 1.0, 0.0, 1e-9)
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert moved[True] < 1e-4
    assert moved[False] > 0.1


def test_norm_switch_is_validated_and_survives_serialisation():
    with pytest.raises(ValueError, match="norm must be true, false or None"):
        ShiftedPatchTokenization(patch_size=4, projection_dim=8, norm="yes")
    layer = ShiftedPatchTokenization(patch_size=4, projection_dim=8, norm=False)
    again = ShiftedPatchTokenization.from_config(layer.get_config())
    assert again.norm is False and again.layer_norm is None
    # A layer saved before the switch existed (no "norm" in its config) keeps the
    # paper's default: a LayerNorm for SPT, none for plain patches.
    old = {k: v for k, v in layer.get_config().items() if k != "norm"}
    assert ShiftedPatchTokenization.from_config(old).layer_norm is not None
    assert ShiftedPatchTokenization.from_config({**old, "vanilla": True}).layer_norm is None
