"""The paper recipe's model pieces: class token, stochastic depth, the parameter count
against the official code's, counted by hand."""

import keras
import numpy as np
import pytest

import vitsd
from vitsd.config import Config
from vitsd.inspection.attention import attention_maps, attention_scores
from vitsd.layers.class_token import ClassToken
from vitsd.layers.drop_path import DropPath
from vitsd.training.recipes import recipe

# The official ViT for CIFAR-100 (models/create_model.py lines 9-12 with main.py's
# CIFAR100 settings: img_size 32, 100 classes), counted from models/vit.py and
# models/SPT.py by hand. d = 192, 64 patches of 4x4x3 = 48 values, 9 blocks, 12 heads
# of 16 (inner 192), MLP hidden 384.
SPT_TOKENS = 2 * 240 + 240 * 192 + 192   # SPT.py 15, 23-24: LayerNorm(240), Linear(240, 192)
PATCH_TOKENS = 48 * 192 + 192            # vit.py 135-138: Linear(48, 192)
EMBEDDINGS = 65 * 192 + 192              # vit.py 143, 145: positions (65 x 192), class token
NORM = 2 * 192                           # LayerNorm(192): weight and bias
QKV = 192 * 576                          # vit.py 61: Linear(192, 3 * 192, bias=False)
OUT = 192 * 192 + 192                    # vit.py 63-66: Linear(192, 192)
LSA_SCALE = 12                           # vit.py 69: one scale per head
MLP = (192 * 384 + 384) + (384 * 192 + 192)  # vit.py 39-45: Linear(192, 384), Linear(384, 192)
BLOCK = NORM + QKV + OUT + NORM + MLP    # vit.py 111-112: PreNorm(attention), PreNorm(MLP)
HEAD = NORM + 192 * 100 + 100            # vit.py 150-153: LayerNorm(192), Linear(192, 100)

OFFICIAL_SL_VIT = SPT_TOKENS + EMBEDDINGS + 9 * (BLOCK + LSA_SCALE) + HEAD
OFFICIAL_VIT = PATCH_TOKENS + EMBEDDINGS + 9 * BLOCK + HEAD


def test_paper_models_have_the_official_codes_parameter_counts():
    assert (SPT_TOKENS, PATCH_TOKENS, EMBEDDINGS, BLOCK, HEAD) == (
        46752, 9408, 12672, 296448, 19684)
    assert OFFICIAL_SL_VIT == 2_747_248 and OFFICIAL_VIT == 2_709_796
    c = recipe("paper")
    assert c.num_classes == 100
    sl_vit = vitsd.count_parameters(vitsd.build_named("sl-vit", c))
    vit = vitsd.count_parameters(vitsd.build_named("vit", c))
    assert sl_vit["trainable"] == OFFICIAL_SL_VIT
    assert vit["trainable"] == OFFICIAL_VIT
    assert round(sl_vit["trainable"] / 1e6, 2) == 2.75  # the paper's 2.75M
    # Non-trainable: the input normalisation's mean, variance and count (7), plus the
    # vanilla blocks' fixed attention scale (one per head, not trained: 9 x 12).
    assert sl_vit["non_trainable"] == 7 and vit["non_trainable"] == 7 + 9 * 12


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


def test_stochastic_depth_grows_linearly_over_blocks_or_stays_constant():
    c = recipe("paper", num_layers=3, projection_dim=16, num_heads=2, key_dim=8,
               mlp_units=(32, 16), num_classes=4, drop_path_schedule="linear")
    model = vitsd.build_named("vit", c)
    rates = [model.get_layer(f"block_{i}").drop_path for i in range(3)]
    assert rates == pytest.approx([0.0, 0.05, 0.1])
    model = vitsd.build_named("vit", c.replace(drop_path_schedule="constant"))
    rates = [model.get_layer(f"block_{i}").drop_path for i in range(3)]
    assert rates == pytest.approx([0.1, 0.1, 0.1])  # the paper preset's, vit.py line 114


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
    from vitsd.training.runner import train

    data = load_dataset("sample", limit=256)
    config = recipe("paper", epochs=2, batch_size=32, projection_dim=32, num_layers=2,
                    num_heads=2, key_dim=16, mlp_units=(64, 32))

    class CountSteps(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.steps = 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1

    counter = CountSteps()
    record = train("sl-vit", out=tmp_path / "paper", config=config, data=data, verbose=0,
                   callbacks=[counter])
    assert record["status"] == "complete" and record["config"]["pooling"] == "class_token"
    # An epoch is 3 augmented passes over the training split, in full batches of 32.
    n = record["splits"]["train"]
    assert counter.steps == 3 * n // 32
    timing = record["timing"]
    assert timing["train_images_per_second"] == pytest.approx(
        3 * n // 32 * 32 * 2 / timing["train_seconds"])
    # The schedule spans those steps: the last recorded rate is the cosine's at 2 x steps.
    from vitsd.training.compile import make_schedule

    schedule = make_schedule(config, 3 * n // 32)
    assert record["history"]["learning_rate"][-1] == pytest.approx(
        float(keras.ops.convert_to_numpy(schedule(2 * (3 * n // 32) - 1))), rel=1e-5)
    history = record["history"]
    assert len(history["loss"]) == 2 and all(np.isfinite(history["loss"]))
    # Label smoothing 0.1 over 10 classes: even a perfect model has loss >= the entropy
    # of the smoothed target, so a finite loss above that floor shows soft labels are used.
    floor = -(0.91 * np.log(0.91) + 9 * 0.01 * np.log(0.01))
    assert min(history["loss"]) > floor
    assert 0.0 <= record["test"]["top1"] <= record["test"]["top5"] <= 1.0
    assert len(history["learning_rate"]) == 2 and history["learning_rate"][0] > 0


def test_triangular_schedule_is_wired_into_training():
    from vitsd.training.compile import make_schedule
    from vitsd.training.schedules import TriangularCyclical

    s = make_schedule(Config(schedule="triangular", cycle_epochs=4, learning_rate=1e-3,
                             min_learning_rate=1e-5), steps_per_epoch=10)
    assert isinstance(s, TriangularCyclical)
    values = [float(keras.ops.convert_to_numpy(s(k))) for k in (0, 20, 40)]
    assert values == pytest.approx([1e-5, 1e-3, 1e-5], rel=1e-4)
