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


# ------------------------------------------------- a notebook's run (chapter 8)
FULL = {"DATASET": "cifar100", "EPOCHS": 100, "LIMIT": None, "SIZE": "reference", "SEED": 42}
DEMO = {"EPOCHS": 2, "LIMIT": 5000, "SIZE": "tiny"}


def test_untouched_defaults_without_an_accelerator_run_the_demo():
    plan = device.plan_run(FULL, FULL, DEMO, device=None)
    assert plan.demo is True and plan.device is None
    assert plan.parameters == {**FULL, **DEMO}
    assert "EPOCHS=2, LIMIT=5,000, SIZE='tiny'" in plan.message
    assert "EPOCHS=100, LIMIT=None, SIZE='reference'" in plan.message
    assert "FULL_ON_CPU = True" in plan.message


@pytest.mark.parametrize("where", ["gpu", "tpu"])
def test_an_accelerator_runs_the_defaults_in_full(where):
    plan = device.plan_run(FULL, FULL, DEMO, device=where)
    assert (plan.parameters, plan.demo, plan.device, plan.message) == (FULL, False, where, None)


def test_auto_asks_the_backend(monkeypatch):
    monkeypatch.setattr(device, "accelerator", lambda backend=None: "gpu")
    assert device.plan_run(FULL, FULL, DEMO).demo is False
    monkeypatch.setattr(device, "accelerator", lambda backend=None: None)
    assert device.plan_run(FULL, FULL, DEMO).demo is True


def test_full_on_cpu_and_changed_values_are_kept():
    assert device.plan_run(FULL, FULL, DEMO, full_on_cpu=True, device=None).parameters == FULL
    # a reader's own run (chapter 8, exercise 2) or papermill's: kept as given
    mine = {**FULL, "EPOCHS": 3, "LIMIT": 10_000}
    plan = device.plan_run(mine, FULL, DEMO, device=None)
    assert (plan.parameters, plan.demo, plan.message) == (mine, False, None)
    # a value the demo does not name does not matter
    other = {**FULL, "SEED": 1}
    assert device.plan_run(other, FULL, DEMO, device=None).parameters == {**other, **DEMO}


def test_bad_plan_arguments_say_what_to_fix():
    with pytest.raises(TypeError, match="FULL_ON_CPU must be True or False, got 'yes'"):
        device.plan_run(FULL, FULL, DEMO, full_on_cpu="yes", device=None)
    with pytest.raises(ValueError, match="'BATCH' has no default in full"):
        device.plan_run(FULL, FULL, {"BATCH": 8}, device=None)
    with pytest.raises(ValueError, match="'LIMIT' is not among the notebook's parameters"):
        device.plan_run({"EPOCHS": 100, "SIZE": "reference"}, FULL, DEMO, device=None)


def test_chapter_8_plans_from_its_defaults():
    from vitsd import book

    real = {**book.DEFAULTS, **book.CHAPTER_DEFAULTS["08_going_further"]}
    given = {k: real[k] for k in ("DATASET", "EPOCHS", "LIMIT", "SIZE")}
    plan = book.plan_chapter("08_going_further", device=None, **given)
    assert plan.demo and plan.parameters == {**given, **book.CPU_DEMOS["08_going_further"]}
    assert book.plan_chapter("08_going_further", device="gpu", **given).parameters == given
    assert not book.plan_chapter("08_going_further", True, device=None, **given).demo
    with pytest.raises(ValueError, match="chapter '06_training' has no CPU demonstration"):
        book.plan_chapter("06_training", device=None, **given)
