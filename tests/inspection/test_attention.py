"""Attention scores and rollout maps from a built model."""

import keras
import numpy as np
import pytest

import vitsd
from vitsd.config import Config
from vitsd.inspection.attention import attention_maps, attention_scores, transformer_blocks
from vitsd.inspection.rollout import attention_rollout

SMALL = Config(num_layers=3, num_heads=2, key_dim=8, projection_dim=16, mlp_units=(32, 16),
               head_units=(16,), num_classes=4, image_size=24, patch_size=6)


@pytest.mark.backend
@pytest.mark.parametrize("lsa", [False, True])
def test_attention_scores_per_block(lsa):
    model = vitsd.build_vit(SMALL, spt=True, lsa=lsa)
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype("float32")
    scores = attention_scores(model, images)
    assert len(scores) == 3
    for s in scores:
        assert s.shape == (2, 2, 16, 16)
        np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-5)
        diagonal = np.diagonal(s, axis1=-2, axis2=-1)
        assert np.all(diagonal == 0.0) if lsa else np.all(diagonal > 0.0)
    # The first block's scores are its attention layer's, on the embedded tokens.
    x = model.get_layer("preprocessing")(images, training=False)
    tokens = model.get_layer("position")(model.get_layer("tokenizer")(x))
    block = transformer_blocks(model)[0]
    normed = block.norm_attention(tokens)
    if lsa:
        _, direct = block.attention(normed, return_attention_scores=True)
    else:
        _, direct = block.attention(normed, normed, return_attention_scores=True)
    np.testing.assert_allclose(scores[0], keras.ops.convert_to_numpy(direct), rtol=1e-5, atol=1e-6)


def test_attention_maps_are_rollout_on_the_grid():
    model = vitsd.build_vit(SMALL, spt=True, lsa=True)
    images = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3)).astype("float32")
    maps = attention_maps(model, images)
    assert maps.shape == (3, 4, 4)
    np.testing.assert_allclose(maps.sum((1, 2)), 1.0, rtol=1e-5)
    flat = attention_rollout(attention_scores(model, images))
    np.testing.assert_allclose(maps.reshape(3, -1), flat, rtol=1e-6)


def test_models_without_blocks_are_rejected():
    inputs = keras.Input((4,))
    with pytest.raises(ValueError, match="block_<i>"):
        transformer_blocks(keras.Model(inputs, keras.layers.Dense(2)(inputs)))
