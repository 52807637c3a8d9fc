"""The builder: faithful to the references at the defaults, switches, save/load."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import vitsd
from vitsd.config import Config
from vitsd.inspection.attention import transformer_blocks


def reference_parameter_count(c: Config, spt: bool, lsa: bool) -> int:
    """Count the keras.io examples' weights by hand (independent of the builder)."""
    dense = lambda i, o: i * o + o  # noqa: E731
    layer_norm = lambda d: 2 * d  # noqa: E731
    d, n = c.projection_dim, c.num_patches
    patch_dim = c.patch_size**2 * c.channels * (5 if spt else 1)
    tokenizer = (layer_norm(patch_dim) if spt else 0) + dense(patch_dim, d)
    position = n * d
    attention = 3 * (d * c.num_heads * c.key_dim + c.num_heads * c.key_dim)
    attention += c.num_heads * c.key_dim * d + d + (1 if lsa else 0)
    mlp, width = 0, d
    for units in c.mlp_units:
        mlp += dense(width, units)
        width = units
    block = layer_norm(d) + attention + layer_norm(d) + mlp
    head, width = 0, n * d
    for units in c.head_units:
        head += dense(width, units)
        width = units
    head += dense(width, c.num_classes)
    return tokenizer + position + c.num_layers * block + layer_norm(d) + head


NORMALIZATION_STATE = 2 * 3 + 1  # mean, variance per channel and the sample count


@pytest.mark.parametrize("name,spt,lsa", [("vit", False, False), ("spt", True, False),
                                          ("lsa", False, True), ("sl-vit", True, True)])
def test_parameter_counts_at_the_reference_configuration(name, spt, lsa):
    model = vitsd.build_named(name)
    counts = vitsd.count_parameters(model)
    assert counts["trainable"] == reference_parameter_count(Config(), spt, lsa)
    assert counts["non_trainable"] == NORMALIZATION_STATE


def test_reference_sizes_are_the_published_21_8_million():
    assert reference_parameter_count(Config(), False, False) == 21_759_012
    assert reference_parameter_count(Config(), True, True) == 21_787_748


def test_reference_layers_and_widths():
    model = vitsd.build_named("sl-vit")
    aug = model.get_layer("augmentation")
    assert [type(layer).__name__ for layer in model.get_layer("preprocessing").layers] == [
        "Normalization", "Resize"]
    assert [type(layer).__name__ for layer in aug.layers] == [
        "RandomFlip", "RandomRotation", "RandomZoom"]
    blocks = transformer_blocks(model)
    assert len(blocks) == 8 and all(b.locality for b in blocks)
    assert [b.mlp[i].units for b in blocks[:1] for i in (0, 2)] == [128, 64]
    head = [layer.units for layer in model.layers if layer.name.startswith("head_dense")]
    assert head == [2048, 1024] and model.get_layer("logits").units == 100
    assert model.get_layer("head_dropout").rate == 0.5
    vit = vitsd.build_named("vit")
    assert all(isinstance(b.attention, keras.layers.MultiHeadAttention)
               for b in transformer_blocks(vit))


def test_calling_the_model_without_training_is_inference():
    """Keras passes a layer's default ``training`` on to the layers after it; the plain
    ``Resizing`` (default ``True``) first in the model made ``model(x)`` run dropout and
    augmentation. Reference: ``predict`` (always inference) and explicit flags."""
    small = Config(image_size=32, patch_size=8, projection_dim=16, num_heads=2, key_dim=8,
                   num_layers=1, mlp_units=(32, 16), head_units=(16,), num_classes=3,
                   head_dropout=0.5, mlp_dropout=0.5, attention_dropout=0.5)
    assert small.augment == "reference" and small.rotation > 0
    model = vitsd.build_vit(small)
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    inference = model.predict(images, verbose=0)
    np.testing.assert_allclose(np.asarray(model(images)), inference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(model(images, training=False)), inference,
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(model(images, training=True)), inference, atol=1e-3)


def test_switches_are_independent():
    small = Config(num_layers=1, head_units=(8,), num_classes=3)
    for spt in (False, True):
        for lsa in (False, True):
            model = vitsd.build_vit(small, spt=spt, lsa=lsa)
            assert model.get_layer("tokenizer").vanilla is (not spt)
            assert model.get_layer("block_0").locality is lsa


@pytest.mark.backend
def test_saved_model_reloads_in_a_fresh_process_with_identical_predictions(tmp_path):
    config = Config(num_layers=2, head_units=(16,), num_classes=5)
    model = vitsd.build_named("sl-vit", config)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(4, 32, 32, 3)).astype("float32")
    vitsd.adapt_normalization(model, images)
    model.get_layer("block_0").attention.temperature.assign(3.25)  # a trained-looking value
    expected = keras.ops.convert_to_numpy(model(images, training=False))
    path = tmp_path / "m.keras"
    model.save(path)
    np.save(tmp_path / "x.npy", images)
    code = (
        "import sys, numpy as np, keras, vitsd\n"
        "m = vitsd.load_model(sys.argv[1])\n"
        "print(keras.ops.convert_to_numpy(m(np.load(sys.argv[2]), training=False)).tolist())\n"
        "print(float(m.get_layer('block_0').attention.temperature.numpy()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "x.npy")],
                            capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    np.testing.assert_allclose(np.array(json.loads(lines[-2])), expected, rtol=1e-5, atol=1e-5)
    assert float(lines[-1]) == 3.25
