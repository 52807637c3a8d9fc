"""The convolutional stem (chapter 8) against NumPy loops: token grid, one stage by
hand, the whole stem, the receptive field, errors and saving."""

import keras
import numpy as np
import pytest

from vitsd.layers.conv_stem import ConvStem
from vitsd.layers.patches import extract_patches

RNG = np.random.default_rng(0)


def np_(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def forward(stem, images):
    """``stem(images)`` in inference mode through one compiled function (calling the
    layer eagerly on JAX compiles every op separately, which is slow)."""
    inputs = keras.Input(images.shape[1:])
    return np_(keras.Model(inputs, stem(inputs)).predict_on_batch(images))


# ----------------------------------------------------------------- references
def ref_conv_same(x, kernel, stride):
    """Convolution of ``x (H, W, Cin)`` with ``kernel (k, k, Cin, Cout)`` by explicit
    loops, with Keras' "same" padding: the output has ceil(H / stride) rows; the
    missing ``(out - 1) * stride + k - H`` rows are padded with zeros, the smaller half
    on top (for stride 2, k 3 and even H: none on top, one at the bottom)."""
    h, w, cin = x.shape
    k, _, _, cout = kernel.shape
    out_h, out_w = -(-h // stride), -(-w // stride)
    pad_h = max((out_h - 1) * stride + k - h, 0)
    pad_w = max((out_w - 1) * stride + k - w, 0)
    top, left = pad_h // 2, pad_w // 2
    out = np.zeros((out_h, out_w, cout))
    for i in range(out_h):
        for j in range(out_w):
            for di in range(k):
                for dj in range(k):
                    y, xx = i * stride + di - top, j * stride + dj - left
                    if 0 <= y < h and 0 <= xx < w:
                        out[i, j] += x[y, xx] @ kernel[di, dj]
    return out


def ref_batch_norm(x, gamma, beta, mean, var, eps=1e-3):
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def ref_stem(images, stem):
    """The whole stem, inference mode, from the layer's weights."""
    out = []
    for img in images.astype("float64"):
        x = img
        for conv, norm in zip(stem.convs, stem.norms):
            x = ref_conv_same(x, np_(conv.kernel), 2)
            x = ref_batch_norm(x, np_(norm.gamma), np_(norm.beta), np_(norm.moving_mean),
                               np_(norm.moving_variance), norm.epsilon)
            x = np.maximum(x, 0.0)
        x = x @ np_(stem.projection.kernel)[0, 0] + np_(stem.projection.bias)
        out.append(x.reshape(-1, x.shape[-1]))
    return np.array(out)


def randomise(stem):
    """Random kernels and BN statistics, so that nothing is an identity by accident."""
    for norm in stem.norms:
        n = norm.gamma.shape[0]
        norm.gamma.assign(RNG.uniform(0.5, 1.5, n).astype("float32"))
        norm.beta.assign(RNG.normal(0, 0.3, n).astype("float32"))
        norm.moving_mean.assign(RNG.normal(0, 0.3, n).astype("float32"))
        norm.moving_variance.assign(RNG.uniform(0.5, 2.0, n).astype("float32"))
    for conv in [*stem.convs, stem.projection]:
        conv.kernel.assign(RNG.normal(0, 0.5, conv.kernel.shape).astype("float32"))
    stem.projection.bias.assign(RNG.normal(0, 0.1, stem.projection.bias.shape).astype("float32"))


# ---------------------------------------------------------------------- tests
# The tests share a few small stems, ConvStem(p, 8, filters=4) on RGB: on JAX, each new
# weight shape costs a compilation of its random initialiser (about half a second).
@pytest.mark.parametrize("size,patch", [(32, 4), (8, 2), (16, 8)])
def test_token_grid_equals_plain_patches(size, patch):
    dim = 8
    images = RNG.normal(size=(1, size, size, 3)).astype("float32")
    stem = ConvStem(patch, dim, filters=4)
    tokens = forward(stem, images)
    patches = extract_patches(images, patch)
    assert tuple(tokens.shape) == (1, patches.shape[1], dim) == (1, (size // patch) ** 2, dim)
    symbolic = stem(keras.Input((size, 2 * size, 3)))
    assert tuple(symbolic.shape) == (None, 2 * (size // patch) ** 2, dim)
    assert stem.compute_output_shape((None, size, size, 3)) == (None, (size // patch) ** 2, dim)


def test_stage_widths_follow_the_paper_layout():
    stem = ConvStem(4, 192)
    assert stem.stage_filters == (48, 96)
    convs = [*stem.convs, stem.projection]
    assert [(c.filters, c.kernel_size, c.strides) for c in convs] == [
        (48, (3, 3), (2, 2)), (96, (3, 3), (2, 2)), (192, (1, 1), (1, 1))]
    assert [c.padding for c in stem.convs] == ["same", "same"]
    assert [c.use_bias for c in convs] == [False, False, True]  # BN follows the 3x3s
    assert len(stem.norms) == 2
    assert stem.compute_output_shape((None, 32, 32, 3)) == (None, 64, 192)
    assert ConvStem(16, 192).stage_filters == (48, 96, 192, 384)
    assert ConvStem(8, 64, filters=8).stage_filters == (8, 16, 32)


def test_one_stage_against_a_numpy_loop_with_hand_set_weights():
    """Patch 2 = one 3x3/stride-2 stage. One input channel, a hand-written kernel per
    output channel (identity tap, a horizontal difference, a box sum, a vertical
    difference), known BN moving statistics, and a 1x1 projection that copies the 4
    channels into the first 4 of 8: those are relu(BN(conv(x))), the rest 0."""
    image = RNG.integers(-5, 6, size=(1, 6, 6, 1)).astype("float32")
    stem = ConvStem(2, 8, filters=4)
    stem.build(image.shape)
    kernel = np.zeros((3, 3, 1, 4), "float32")
    kernel[1, 1, 0, 0] = 1.0                                 # centre tap
    kernel[1, 0, 0, 1], kernel[1, 2, 0, 1] = -1.0, 1.0       # right minus left
    kernel[:, :, 0, 2] = 1.0                                 # 3x3 sum
    kernel[0, 1, 0, 3], kernel[2, 1, 0, 3] = -1.0, 1.0       # below minus above
    stem.convs[0].kernel.assign(kernel)
    gamma, beta = np.array([1.0, 2.0, 0.5, 1.0]), np.array([0.0, 0.5, -1.0, 0.25])
    mean, var = np.array([0.5, 0.0, 1.0, -0.5]), np.array([1.0, 4.0, 0.25, 2.0])
    norm = stem.norms[0]
    for var_, value in ((norm.gamma, gamma), (norm.beta, beta), (norm.moving_mean, mean),
                        (norm.moving_variance, var)):
        var_.assign(value.astype("float32"))
    stem.projection.kernel.assign(np.eye(4, 8, dtype="float32")[None, None])
    stem.projection.bias.assign(np.zeros(8, "float32"))

    conv = ref_conv_same(image[0].astype("float64"), kernel.astype("float64"), 2)
    # 'same' for stride 2 on an even size pads only bottom/right: output (i, j) reads
    # input rows 2i..2i+2, so the centre tap is image[2i+1, 2j+1].
    np.testing.assert_array_equal(conv[:, :, 0], image[0, 1::2, 1::2, 0])
    expected = np.maximum(ref_batch_norm(conv, gamma, beta, mean, var, norm.epsilon), 0)
    got = forward(stem, image)
    np.testing.assert_allclose(got[0, :, :4], expected.reshape(9, 4), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got[0, :, 4:], 0.0)
    assert (expected > 0).any() and (expected == 0).any()  # ReLU both passes and cuts


@pytest.mark.backend
def test_whole_stem_against_numpy_with_random_weights():
    images = RNG.normal(size=(2, 8, 8, 3)).astype("float32")
    stem = ConvStem(4, 8, filters=4)
    stem.build(images.shape)
    randomise(stem)
    np.testing.assert_allclose(forward(stem, images), ref_stem(images, stem),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.backend
def test_training_mode_uses_batch_statistics():
    images = RNG.normal(3.0, 2.0, size=(4, 4, 4, 3)).astype("float32")
    stem = ConvStem(2, 8, filters=4)
    assert not np.allclose(np_(stem(images, training=True)), np_(stem(images, training=False)))


@pytest.mark.parametrize("patch", [2, 4, 8])
def test_receptive_field(patch):
    """Changing pixel (y, x) may change token (r, c) only if p*r <= y <= p*r + 2p - 2
    and the same for x and c; it does change the token whose patch holds it."""
    size = 4 * patch
    grid = size // patch
    stem = ConvStem(patch, 8, filters=4)
    base = RNG.normal(size=(1, size, size, 3)).astype("float32")
    stem.build(base.shape)
    randomise(stem)
    covers = lambda t, v: patch * t <= v <= patch * t + 2 * patch - 2  # noqa: E731
    pixels = [(0, 0), (patch - 1, patch), (size - 1, size - 1), (2 * patch + 1, patch - 2)]
    images = np.repeat(base, len(pixels) + 1, axis=0)
    for k, (y, x) in enumerate(pixels):
        images[k + 1, y, x, :] += 50.0
    tokens = forward(stem, images).reshape(-1, grid, grid, 8)
    before = tokens[0]
    for (y, x), after in zip(pixels, tokens[1:]):
        changed = np.abs(after - before).max(-1) > 1e-4
        allowed = np.array([[covers(r, y) and covers(c, x) for c in range(grid)]
                            for r in range(grid)])
        assert not (changed & ~allowed).any(), (y, x, np.argwhere(changed & ~allowed))
        assert changed[y // patch, x // patch]
        # The receptive field overlaps the previous token row/column when the pixel is
        # not in the last row/column of its patch (a plain patch never overlaps).
        if y % patch <= patch - 2 and y >= patch:
            assert allowed[y // patch - 1, x // patch]


@pytest.mark.parametrize("bad", [1, 3, 6, 12, 0, -4, 2.0, True, "4"])
def test_bad_patch_sizes_are_rejected(bad):
    with pytest.raises(ValueError, match=r"patch_size.*power of two.*\(2, 4, 8, 16, 32\)"):
        ConvStem(bad, 64)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="projection_dim"):
        ConvStem(4, 0)
    with pytest.raises(ValueError, match="filters"):
        ConvStem(4, 64, filters=0)
    with pytest.raises(ValueError, match="divisible by patch_size"):
        ConvStem(4, 8)(keras.Input((10, 12, 3)))


def test_config_and_saved_model_round_trip(tmp_path):
    stem = ConvStem(4, 8, filters=4, name="tokenizer")
    clone = ConvStem.from_config(stem.get_config())
    assert clone.get_config() == stem.get_config()
    assert clone.stage_filters == (4, 8) and clone.name == "tokenizer"

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, stem(inputs))
    randomise(stem)
    images = RNG.normal(size=(2, 8, 8, 3)).astype("float32")
    expected = np_(model.predict_on_batch(images))
    path = tmp_path / "stem.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.get_layer("tokenizer"), ConvStem)
    np.testing.assert_allclose(np_(loaded.predict_on_batch(images)), expected, rtol=1e-6)
