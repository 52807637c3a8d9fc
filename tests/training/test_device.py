"""The preset that fits the device (issue 26): ``cpu`` without an accelerator,
``reference`` with one (simulated here), a named recipe or an explicit config always
winning; the reference augmentation in the input pipeline on a CPU."""

import sys
import types

import pytest

from vitsd.config import Config
from vitsd.training import device
from vitsd.training.device import accelerator, choose_recipe
from vitsd.training.recipes import recipe


def _fake_jax(platform):
    return types.SimpleNamespace(devices=lambda: [types.SimpleNamespace(platform=platform)])


@pytest.mark.parametrize("platform, found", [("cpu", None), ("gpu", "gpu"), ("cuda", "gpu"),
                                             ("tpu", "tpu")])
def test_accelerator_asks_jax(monkeypatch, platform, found):
    monkeypatch.setitem(sys.modules, "jax", _fake_jax(platform))
    assert accelerator("jax") == found


@pytest.mark.parametrize("cuda, found", [(False, None), (True, "gpu")])
def test_accelerator_asks_torch(monkeypatch, cuda, found):
    torch = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: cuda))
    monkeypatch.setitem(sys.modules, "torch", torch)
    assert accelerator("torch") == found


def test_accelerator_asks_tensorflow(monkeypatch):
    tf = pytest.importorskip("tensorflow")
    seen = {"GPU": [], "TPU": []}
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: seen[kind])
    assert accelerator("tensorflow") is None
    seen["TPU"] = ["/physical_device:TPU:0"]
    assert accelerator("tensorflow") == "tpu"
    seen["GPU"] = ["/physical_device:GPU:0"]
    assert accelerator("tensorflow") == "gpu"


def test_no_accelerator_picks_the_cpu_recipe(monkeypatch):
    monkeypatch.setattr(device, "accelerator", lambda backend=None: None)
    choice = choose_recipe(cli=True)
    assert choice.config == recipe("cpu")
    assert choice.record() == {"name": "cpu", "chosen": "auto (no accelerator)", "augment": None}
    assert choice.message.startswith("No GPU found: training with recipe 'cpu' (")
    assert "pass --recipe reference for the keras.io model" in choice.message
    assert "recipe='reference'" in choose_recipe(device=None).message  # from Python


def test_a_gpu_picks_the_reference_with_its_augmentation_in_the_model(monkeypatch):
    monkeypatch.setattr(device, "accelerator", lambda backend=None: "gpu")
    choice = choose_recipe(cli=True)
    assert choice.config == recipe("reference") == Config()
    assert choice.config.augment == "reference"
    assert choice.record() == {"name": "reference", "chosen": "auto (gpu found)",
                               "augment": None}
    assert choice.message.startswith("GPU found: training with recipe 'reference' (")
    assert "pass --recipe cpu" in choice.message


@pytest.mark.parametrize("where", [None, "gpu"])
def test_a_named_recipe_wins(where):
    for name in ("cpu", "paper"):
        choice = choose_recipe(name, {"num_layers": 2}, device=where)
        assert choice.config == recipe(name, num_layers=2) and choice.message is None
        assert choice.record() == {"name": name, "chosen": "explicit", "augment": None}
    on_gpu = choose_recipe("reference", device="gpu")
    assert on_gpu.config == Config() and on_gpu.message is None


def test_the_reference_on_a_cpu_augments_in_the_input_pipeline_unless_told_not_to():
    choice = choose_recipe("reference", {"epochs": 3}, device=None, cli=True)
    assert choice.config == Config(epochs=3, augment="pipeline")
    assert choice.record()["augment"] == "pipeline (moved from the model: no accelerator)"
    assert choice.message.startswith("No GPU found: recipe 'reference' runs its")
    assert "pass --set augment=reference to keep it in the model" in choice.message
    kept = choose_recipe("reference", {"augment": "reference"}, device=None, cli=True)
    assert kept.config == Config() and kept.message is None and kept.record()["augment"] is None


def test_a_bad_override_is_refused_with_its_name():
    with pytest.raises(ValueError, match="num_layer"):
        choose_recipe(None, {"num_layer": 2}, device=None)
