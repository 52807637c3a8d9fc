import pytest

from vitsd.config import MODELS, Config, model_switches


def test_defaults_are_the_reference_hyperparameters():
    c = Config()
    assert c.input_shape == (32, 32, 3) and c.num_classes == 100
    assert (c.image_size, c.patch_size, c.grid_size, c.num_patches) == (72, 6, 12, 144)
    assert (c.projection_dim, c.num_layers, c.num_heads, c.key_dim) == (64, 8, 4, 64)
    assert c.mlp_units == (128, 64) and c.head_units == (2048, 1024)
    assert c.layer_norm_eps == 1e-6
    assert (c.attention_dropout, c.mlp_dropout, c.head_dropout) == (0.1, 0.1, 0.5)
    assert (c.learning_rate, c.weight_decay, c.batch_size, c.epochs) == (1e-3, 1e-4, 256, 50)
    assert (c.warmup_fraction, c.seed, c.validation_split) == (0.1, 42, 0.1)


def test_round_trip_through_dict():
    c = Config(epochs=3, mlp_units=[32, 64])
    assert Config.from_dict(c.to_dict()) == c


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"image_size": 70},
            r"image_size \(70\) must be divisible by patch_size \(6\)"
            r".*\[1, 2, 5, 7, 10, 14, 35, 70\]",
        ),
        ({"patch_size": 0}, "patch_size must be a positive integer"),
        ({"projection_dim": -4}, "projection_dim must be a positive integer"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer"),
        ({"num_classes": 1}, "num_classes must be at least 2"),
        ({"input_shape": (32, 32)}, "input_shape must be three positive integers"),
        ({"mlp_units": (128, 32)}, r"mlp_units must end with projection_dim \(64\)"),
        ({"attention_dropout": 1.0}, r"attention_dropout must be in \[0, 1\)"),
        ({"learning_rate": 0}, "learning_rate must be a positive number"),
        ({"flip": "sideways"}, "flip must be one of"),
        ({"schedule": "linear"}, "schedule must be one of"),
        ({"seed": -1}, "seed must be a non-negative integer"),
    ],
)
def test_invalid_values_name_the_parameter(overrides, message):
    with pytest.raises(ValueError, match=message):
        Config(**overrides)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown config parameter\(s\) \['epoch'\].*epochs"):
        Config().replace(epoch=3)
    with pytest.raises(ValueError, match="unknown config parameter"):
        Config.from_dict({"lr": 1.0})


def test_model_names():
    assert model_switches("vit") == ("patches", False)
    assert model_switches("sl-vit") == ("spt", True)
    assert model_switches("conv-lsa") == ("conv", True)
    assert set(MODELS) == {"vit", "spt", "lsa", "sl-vit", "conv-vit", "conv-lsa"}
    with pytest.raises(ValueError, match=r"model must be one of \['conv-lsa', 'conv-vit', 'lsa',"):
        model_switches("resnet")


def test_differences_lists_changed_fields_only():
    a, b = Config(), Config(epochs=3, mlp_units=(32, 64))
    assert a.differences(b) == {"epochs": (50, 3), "mlp_units": ([128, 64], [32, 64])}
    assert a.differences(a) == {}


@pytest.mark.parametrize("name", ["spt_norm", "patch_norm"])
def test_tokenizer_norm_switches_must_be_booleans(name):
    with pytest.raises(ValueError, match=f"{name} must be true or false"):
        Config(**{name: 1})


def test_tokenizer_norm_switches_change_the_tokenizer_and_its_parameters():
    from vitsd.models import build_vit
    from vitsd.training.recipes import recipe

    def tokenizer_params(model, **switches):
        cfg = recipe("cpu", **switches)
        built = build_vit(cfg, spt=model == "spt")
        return built.get_layer("tokenizer").count_params()

    # cpu preset: 4x4 patches of 3 channels (48 values), SPT's 15 channels (240).
    assert tokenizer_params("spt") - tokenizer_params("spt", spt_norm=False) == 2 * 240
    assert tokenizer_params("vit", patch_norm=True) - tokenizer_params("vit") == 2 * 48
    # The switch of the other tokenizer does nothing.
    assert tokenizer_params("spt", patch_norm=True) == tokenizer_params("spt")
    assert tokenizer_params("vit", spt_norm=False) == tokenizer_params("vit")
    assert recipe("cpu").to_dict()["spt_norm"] is True
    assert recipe("cpu").to_dict()["patch_norm"] is False
