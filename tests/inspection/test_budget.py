"""vitsd.inspection.budget: the counts chapters 2-5 quote, against built Keras models and against
arithmetic done by hand here."""

import numpy as np
import pytest

import vitsd
from vitsd.book import TINY
from vitsd.config import Config
from vitsd.inspection import budget
from vitsd.training.recipes import recipe

VARIANTS = ("vit", "spt", "lsa", "sl-vit")

CONFIGS = {
    "reference": Config(),
    "cpu": recipe("cpu", num_classes=10),
    "tiny": Config(**TINY, num_classes=10),
    "paper": recipe("paper"),  # class token, stochastic depth, no MLP head
}


# ------------------------------------------------------------------------- tokens
def test_tokens_grow_with_the_square_of_the_grid():
    assert budget.num_tokens(72, 6) == 12 * 12 == Config().num_patches
    assert budget.num_tokens(32, 4) == 8 * 8 == recipe("cpu").num_patches
    assert budget.num_tokens(224, 16) == 14 * 14
    assert budget.num_tokens(64, 4) == 4 * budget.num_tokens(32, 4)  # twice the side
    with pytest.raises(ValueError, match="divisible"):
        budget.num_tokens(32, 6)
    with pytest.raises(ValueError, match="positive integer"):
        budget.num_tokens(0, 4)


# --------------------------------------------------------------------- parameters
def test_reference_budget_by_hand():
    b = budget.parameter_budget(Config(), "sl-vit")
    # SPT: 6 * 6 * 3 * 5 = 540 values; LayerNorm 2 * 540; projection 540 * 64 + 64.
    assert b["tokenizer_parts"] == {"patch_values": 540, "layer_norm": 1080,
                                    "projection": 34624, "total": 35704}
    assert b["position"] == 144 * 64
    block = b["block"]
    # 4 heads of 64 on width 64: each of Q, K, V is 64 x 256 + 256.
    assert block["query"] == block["key"] == block["value"] == 64 * 256 + 256
    assert block["output"] == 256 * 64 + 64 and block["temperature"] == 1
    assert block["mlp"] == (64 * 128 + 128) + (128 * 64 + 64)
    assert block["total"] == 2 * 128 + 3 * 16640 + 16448 + 1 + 16576 == 83201
    assert b["blocks"] == 8 * 83201
    assert b["head"] == (9216 * 2048 + 2048) + (2048 * 1024 + 1024)
    assert b["logits"] == 1024 * 100 + 100
    assert b["trainable"] == 21_787_748 and b["non_trainable"] == 7


def test_cpu_budget_by_hand():
    b = budget.parameter_budget(recipe("cpu", num_classes=10), "vit")
    assert b["tokenizer"] == 4 * 4 * 3 * 64 + 64 == 3136
    assert b["position"] == 64 * 64
    assert b["block"]["query"] == 64 * 64 + 64  # 4 heads of 16: h * d_k = 64 = D
    assert b["block"]["total"] == 2 * 128 + 4 * 4160 + (64 * 128 + 128) + (128 * 64 + 64)
    assert b["head"] == 0 and b["logits"] == 64 * 10 + 10  # mean pooling, no MLP head
    assert b["total"] == 141_905


@pytest.mark.parametrize("size", sorted(CONFIGS))
@pytest.mark.parametrize("model", VARIANTS)
def test_budget_matches_the_built_model_layer_by_layer(size, model):
    config = CONFIGS[size]
    net = vitsd.build_named(model, config)
    b = budget.parameter_budget(config, model)
    assert vitsd.count_parameters(net) == {k: b[k] for k in
                                           ("trainable", "non_trainable", "total")}
    assert net.count_params() == b["total"]
    layer = {layer.name: layer.count_params() for layer in net.layers}
    assert layer["preprocessing"] == b["normalization"]
    assert layer["tokenizer"] == b["tokenizer"]
    assert layer["position"] == b["position"]
    assert layer.get("class_token", 0) == b["class_token"]
    assert layer["final_norm"] == b["final_norm"]
    assert layer["logits"] == b["logits"]
    assert sum(v for k, v in layer.items() if k.startswith("head_dense")) == b["head"]
    blocks = [v for k, v in layer.items() if k.startswith("block_")]
    assert blocks == [b["block"]["total"]] * config.num_layers


@pytest.mark.parametrize("lsa", [False, True])
def test_block_parts_match_the_keras_sublayers(lsa):
    config = CONFIGS["cpu"]
    block = vitsd.TransformerBlock(config.num_heads, config.key_dim, config.mlp_units,
                                   locality=lsa)
    block.build((None, config.num_patches, config.projection_dim))
    parts = budget.block_parameters(config, lsa)
    assert block.norm_attention.count_params() == parts["norm_attention"]
    assert block.attention.count_params() == parts["attention"]
    assert block.norm_mlp.count_params() == parts["norm_mlp"]
    assert sum(layer.count_params() for layer in block.mlp) == parts["mlp"]
    assert block.count_params() == parts["total"]


def test_tokenizer_parts_match_the_layer():
    config = Config()
    for spt in (False, True):
        layer = vitsd.ShiftedPatchTokenization(config.patch_size, config.projection_dim,
                                               vanilla=not spt)
        layer.build((None, 72, 72, 3))
        parts = budget.tokenizer_parameters(config, spt)
        assert layer.count_params() == parts["total"]
        assert layer.projection.count_params() == parts["projection"]
        if spt:
            assert layer.layer_norm.count_params() == parts["layer_norm"]


def test_conv_stem_is_outside_the_budget():
    with pytest.raises(ValueError, match="convolutional-stem"):
        budget.parameter_budget(Config(), "conv-vit")
    with pytest.raises(ValueError, match="model must be one of"):
        budget.parameter_budget(Config(), "resnet")


# ----------------------------------------------------------------- multiply-adds
def test_flops_per_block_by_hand_at_the_reference_configuration():
    f = budget.flops_per_block(Config())
    n, d, inner = 144, 64, 4 * 64
    assert f["tokens"] == n
    assert f["qkv"] == 3 * n * d * inner and f["output"] == n * inner * d
    assert f["projections"] == 4 * n * d * inner
    assert f["scores"] == f["weighted_sum"] == n * n * inner
    assert f["attention_matrix"] == 2 * n * n * inner
    assert f["mlp"] == 2 * n * d * 128
    assert f["attention"] == 4 * n * d * inner + 2 * n * n * inner
    assert f["total"] == f["attention"] + f["mlp"] == 22_413_312


def test_flops_per_block_of_the_cpu_preset():
    f = budget.flops_per_block(recipe("cpu"))
    n, d = 64, 64
    assert f["projections"] == 4 * n * d * 64 == 1_048_576
    assert f["attention_matrix"] == 2 * n * n * 64 == 524_288
    assert f["mlp"] == 2 * n * d * 128 == 1_048_576


def test_quadratic_part_takes_over_at_twice_the_width():
    """2 N^2 h d_k = 4 N D h d_k exactly when N = 2 D, whatever the heads."""
    for key_dim in (16, 64):
        config = Config(image_size=64, patch_size=4, num_heads=4, key_dim=key_dim,
                        projection_dim=128, mlp_units=(256, 128))  # N = 256 = 2 D
        f = budget.flops_per_block(config)
        assert f["tokens"] == 2 * config.projection_dim
        assert f["attention_matrix"] == f["projections"]


def test_class_token_counts_as_a_token():
    config = recipe("paper")
    assert budget.flops_per_block(config)["tokens"] == 65
    assert budget.parameter_budget(config, "vit")["position"] == 65 * 192


def test_flops_per_image_adds_up():
    config = Config()
    f = budget.flops_per_image(config, "sl-vit")
    assert f["tokenizer"] == 144 * 540 * 64
    assert f["blocks"] == 8 * budget.flops_per_block(config)["total"]
    assert f["head"] == 9216 * 2048 + 2048 * 1024 + 1024 * 100
    assert f["total"] == f["tokenizer"] + f["blocks"] + f["head"]
    assert budget.flops_per_image(config, "vit")["tokenizer"] == 144 * 108 * 64
    cpu = budget.flops_per_image(recipe("cpu", num_classes=10), "vit")
    assert cpu["head"] == 64 * 10


# ---------------------------------------------------------------- receptive field
def test_spt_token_sees_a_window_twice_the_patch():
    counts = budget.receptive_field(6)
    assert counts.shape == (18, 18)
    seen = counts > 0
    assert seen.sum() == (2 * 6) ** 2 == 144
    rows, cols = np.nonzero(seen)
    # From half a patch above/left of the patch to half a patch below/right of it.
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (3, 14, 3, 14)
    # The patch itself is shown twice (the original and one shifted copy), the rest once.
    assert (counts[6:12, 6:12] == 2).all() and counts.sum() == 5 * 36


def test_plain_token_sees_its_patch_and_smaller_shifts_see_less():
    plain = budget.receptive_field(6, shift=0)
    assert (plain > 0).sum() == 36 and (plain[6:12, 6:12] == 5).all()
    assert (budget.receptive_field(8, shift=2) > 0).sum() == (8 + 2 * 2) ** 2
    assert (budget.receptive_field(4) > 0).sum() == 64
    assert (budget.receptive_field(5) > 0).sum() == (5 + 2 * 2) ** 2  # odd: shift 2
    with pytest.raises(ValueError, match="shift must be"):
        budget.receptive_field(6, shift=7)


# ---------------------------------------------------------------- layer by layer
def test_layer_parameters_collapse_the_blocks_and_add_up():
    config = CONFIGS["cpu"]
    net = vitsd.build_named("sl-vit", config)
    rows = budget.layer_parameters(net)
    b = budget.parameter_budget(config, "sl-vit")
    by_name = {r["layer"]: r for r in rows}
    assert list(by_name) == ["preprocessing", "tokenizer", "position", "block_0 to block_3",
                             "final_norm", "logits"]
    assert by_name["block_0 to block_3"] == {"layer": "block_0 to block_3", "copies": 4,
                                             "parameters": b["blocks"]}
    assert by_name["tokenizer"]["parameters"] == b["tokenizer"]
    assert sum(r["parameters"] for r in rows) == net.count_params()


def test_layer_parameters_keep_different_layers_apart():
    import keras

    inputs = keras.Input((4,))
    x = keras.layers.Dense(3, name="dense_0")(inputs)  # 15 parameters
    x = keras.layers.Dense(3, name="dense_1")(x)  # 12
    x = keras.layers.Dense(3, name="dense_2")(x)  # 12, same as dense_1: one row
    x = keras.layers.Dense(3, name="other_3")(x)  # 12, another prefix
    x = keras.layers.Dense(3, name="dense_5")(x)  # 12, not consecutive with dense_2
    x = keras.layers.Dropout(0.1, name="dropout_6")(x)  # no parameters: no row
    rows = budget.layer_parameters(keras.Model(inputs, x))
    assert rows == [
        {"layer": "dense_0", "copies": 1, "parameters": 15},
        {"layer": "dense_1 to dense_2", "copies": 2, "parameters": 24},
        {"layer": "other_3", "copies": 1, "parameters": 12},
        {"layer": "dense_5", "copies": 1, "parameters": 12},
    ]
