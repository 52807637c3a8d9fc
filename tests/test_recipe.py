"""The paper recipe's model pieces: class token, stochastic depth, parameter count."""

import keras
import numpy as np
import pytest

import vitsd
from vitsd.config import Config, recipe
from vitsd.droppath import DropPath
from vitsd.explain import attention_maps, attention_scores
from vitsd.patches import ClassToken


def paper_parameter_count(c: Config, tokenizer: str, lsa: bool) -> int:
    """Hand count of the paper-size model (class token, no MLP head)."""
    d, n = c.projection_dim, c.num_patches
    patch_dim = c.patch_size**2 * 3 * (5 if tokenizer == "spt" else 1)
    tokens = (2 * patch_dim if tokenizer == "spt" else 0) + patch_dim * d + d
    tokens += d + (n + 1) * d  # class token, positions of n + 1 tokens
    inner = c.num_heads * c.key_dim
    attention = 3 * (d * inner + inner) + inner * d + d + (1 if lsa else 0)
    mlp = d * c.mlp_units[0] + c.mlp_units[0] + c.mlp_units[0] * d + d
    block = 2 * (2 * d) + attention + mlp
    return tokens + c.num_layers * block + 2 * d + d * c.num_classes + c.num_classes


def test_paper_sl_vit_has_the_papers_2_75_million_parameters():
    c = recipe("paper")
    model = vitsd.build_named("sl-vit", c)
    counts = vitsd.count_parameters(model)
    assert counts["trainable"] == paper_parameter_count(c, "spt", True)
    assert round(counts["trainable"] / 1e6, 2) == 2.75  # the paper's SL-ViT on CIFAR
    assert counts["trainable"] - paper_parameter_count(c, "patches", False) == (
        vitsd.count_parameters(model)["trainable"]
        - vitsd.count_parameters(vitsd.build_named("vit", c))["trainable"])


def test_recipe_names_and_overrides():
    assert recipe("reference") == Config()
    assert recipe("paper", epochs=3).epochs == 3
    with pytest.raises(ValueError, match=r"recipe must be one of \[.*'paper', 'reference'\]"):
        recipe("deit")


def test_class_token_is_prepended_and_read_by_the_head():
    layer = ClassToken()
    tokens = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(tokens))
    layer.token.assign(np.full((1, 1, 4), 7.0, "float32"))
    out = keras.ops.convert_to_numpy(layer(tokens))
    assert out.shape == (2, 4, 4)
    np.testing.assert_array_equal(out[:, 0], 7.0)
    np.testing.assert_array_equal(out[:, 1:], tokens)


@pytest.mark.backend
def test_drop_path_is_identity_at_inference_and_unbiased_in_training():
    x = np.ones((4000, 3), "float32")
    layer = DropPath(0.25, seed=1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    kept = y[:, 0] != 0
    assert np.all((y == 0) | np.isclose(y, 1 / 0.75))       # whole examples dropped or scaled
    assert np.all(y[kept] == y[kept][:, :1])                  # same decision across features
    assert abs(kept.mean() - 0.75) < 0.03 and abs(y.mean() - 1.0) < 0.05
    with pytest.raises(ValueError, match="rate must be in"):
        DropPath(1.0)


def test_stochastic_depth_grows_linearly_over_blocks():
    c = recipe("paper", num_layers=3, projection_dim=16, num_heads=2, key_dim=8,
               mlp_units=(32, 16), num_classes=4)
    model = vitsd.build_named("vit", c)
    rates = [model.get_layer(f"block_{i}").drop_path for i in range(3)]
    assert rates == pytest.approx([0.0, 0.05, 0.1])


def test_class_token_model_attention_maps_cover_the_patches():
    c = recipe("paper", num_layers=2, projection_dim=16, num_heads=2, key_dim=8,
               mlp_units=(32, 16), num_classes=4)
    model = vitsd.build_named("sl-vit", c)
    images = np.random.default_rng(2).integers(0, 256, (2, 32, 32, 3)).astype("float32")
    scores = attention_scores(model, images)
    assert scores[0].shape == (2, 2, 65, 65)
    maps = attention_maps(model, images)
    assert maps.shape == (2, 8, 8)
    np.testing.assert_allclose(maps.sum((1, 2)), 1.0, rtol=1e-5)


@pytest.mark.backend
def test_mixed_precision_build_keeps_float32_logits():
    c = Config(num_layers=1, head_units=(8,), num_classes=3, precision="mixed_bfloat16")
    model = vitsd.build_named("sl-vit", c)
    assert keras.config.dtype_policy().name == "float32"  # global policy restored
    assert model.get_layer("block_0").dtype_policy.name == "mixed_bfloat16"
    out = model(np.zeros((2, 32, 32, 3), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


@pytest.mark.backend
def test_tiny_paper_recipe_trains_end_to_end_on_sample(tmp_path):
    """The whole recipe path: strong augmentation, CutMix/MixUp, label smoothing,
    stochastic depth, class token, triangular-free warmup-cosine, on tiny sizes."""
    from vitsd.data import load_dataset
    from vitsd.train import train

    data = load_dataset("sample", limit=256)
    config = recipe("paper", epochs=2, batch_size=32, projection_dim=32, num_layers=2,
                    num_heads=2, key_dim=16, mlp_units=(64, 32))
    record = train("sl-vit", out=tmp_path / "paper", config=config, data=data, verbose=0)
    assert record["status"] == "complete" and record["config"]["pooling"] == "class_token"
    history = record["history"]
    assert len(history["loss"]) == 2 and all(np.isfinite(history["loss"]))
    # Label smoothing 0.1 over 10 classes: even a perfect model has loss >= the entropy
    # of the smoothed target, so a finite loss above that floor shows soft labels are used.
    floor = -(0.91 * np.log(0.91) + 9 * 0.01 * np.log(0.01))
    assert min(history["loss"]) > floor
    assert 0.0 <= record["test"]["top1"] <= record["test"]["top5"] <= 1.0
    assert len(history["learning_rate"]) == 2 and history["learning_rate"][0] > 0


def test_triangular_schedule_is_wired_into_training():
    from vitsd.schedule import TriangularCyclical
    from vitsd.train import make_schedule

    s = make_schedule(Config(schedule="triangular", cycle_epochs=4, learning_rate=1e-3,
                             min_learning_rate=1e-5), steps_per_epoch=10)
    assert isinstance(s, TriangularCyclical)
    values = [float(keras.ops.convert_to_numpy(s(k))) for k in (0, 20, 40)]
    assert values == pytest.approx([1e-5, 1e-3, 1e-5], rel=1e-4)
