"""End-to-end training on the built-in sample: learning, records, resume, determinism, CLI."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from vitsd.config import Config
from vitsd.data import load_dataset
from vitsd.training.recipes import recipe
from vitsd.training.records import read_record
from vitsd.training.runner import RunFolderError, evaluate, train

#: A small ViT that trains in seconds on 2 CPU cores.
TINY = dict(image_size=32, patch_size=4, projection_dim=32, num_layers=2, num_heads=2,
            key_dim=16, mlp_units=(64, 32), head_units=(64,), batch_size=64,
            attention_dropout=0.0, mlp_dropout=0.0, head_dropout=0.1, rotation=0.0, zoom=0.0)
TINY_SET = [f"--set={k}={json.dumps(list(v) if isinstance(v, tuple) else v)}"
            for k, v in TINY.items() if k != "batch_size"]


EPOCHS = 10
#: The module's trained run is interrupted after this epoch, then resumed.
INTERRUPTED_AT = 3


@pytest.fixture(scope="module")
def sample_data():
    return load_dataset("sample", limit=2000)


class _Interrupt(keras.callbacks.Callback):
    """Ctrl-C after ``after_epochs`` epochs (0: before the first one)."""

    def __init__(self, after_epochs):
        super().__init__()
        self.after = after_epochs

    def on_train_begin(self, logs=None):
        if self.after == 0:
            raise KeyboardInterrupt

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def sessions(tmp_path_factory, sample_data):
    """The module's one trained run (sl-vit, EPOCHS epochs), in two sessions: interrupted
    after epoch INTERRUPTED_AT, then resumed to the end: ``(out, partial, record)`` with
    ``partial`` the run record as the interruption left it. One run serves the tests of
    learning, records and checkpoints (on a resumed run, so the resume carries them
    over), of resuming, and of determinism (a second run must repeat its first epochs)."""
    out = tmp_path_factory.mktemp("runs") / "sl-vit"
    config = Config(epochs=EPOCHS, **TINY)
    with pytest.raises(KeyboardInterrupt):
        train("sl-vit", out=out, config=config, data=sample_data, verbose=0,
              callbacks=[_Interrupt(INTERRUPTED_AT)])
    partial = read_record(out)
    record = train("sl-vit", out=out, config=config, data=sample_data, verbose=0)
    return out, partial, record


@pytest.fixture(scope="module")
def finished_run(sessions):
    out, _, record = sessions
    return out, record


def test_sl_vit_beats_chance_on_sample(finished_run, sample_data):
    _, record = finished_run
    chance = 1 / len(sample_data.class_names)
    assert record["test"]["top1"] > 2 * chance, record["test"]
    assert record["history"]["val_accuracy"][-1] > 2 * chance
    assert record["history"]["loss"][-1] < record["history"]["loss"][0]


def test_run_record_holds_everything(finished_run, sample_data):
    out, record = finished_run
    assert read_record(out) == json.loads(json.dumps(record))
    assert record["status"] == "complete" and record["epochs_completed"] == EPOCHS
    assert Config.from_dict(record["config"]).epochs == EPOCHS
    assert record["dataset"]["name"] == "sample"
    assert record["splits"]["train"] + record["splits"]["validation"] == len(sample_data.x_train)
    assert record["splits"]["validation"] == pytest.approx(0.1 * len(sample_data.x_train), abs=10)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "top5"):
        assert len(record["history"][key]) == EPOCHS, key
    assert set(record["test"]) == {"loss", "top1", "top5"}
    assert record["test"]["top5"] >= record["test"]["top1"]
    env = record["environment"]
    assert env["backend"] == keras.backend.backend() and env["keras"] == keras.__version__
    assert env["backend_version"] and env["device"] and env["vitsd"]
    assert record["timing"]["wall_seconds"] > 0 and record["timing"]["train_images_per_second"] > 0
    for name in ("model.keras", "best.weights.h5", "last.weights.h5"):
        assert (out / name).is_file()


def test_recorded_learning_rate_follows_the_schedule(finished_run):
    _, record = finished_run
    steps = int(np.ceil(record["splits"]["train"] / 64))
    total, warmup = EPOCHS * steps, int(0.1 * EPOCHS * steps)
    expected = []
    for epoch in range(1, EPOCHS + 1):
        s = epoch * steps - 1  # the epoch's last update
        if s < warmup:
            lr = 1e-3 * s / warmup
        else:
            lr = 0.5e-3 * (1 + np.cos(np.pi * (s - warmup) / (total - warmup)))
        expected.append(lr)
    np.testing.assert_allclose(record["history"]["learning_rate"], expected, rtol=1e-4, atol=1e-9)


def test_best_checkpoint_is_the_best_validation_epoch(finished_run, sample_data):
    out, record = finished_run
    val = record["history"]["val_accuracy"]
    assert record["best_epoch"] == int(np.argmax(val)) + 1
    # The exported model is the best epoch's weights: re-evaluating gives the recorded test.
    again = evaluate(out, verbose=0, data=sample_data)
    assert again["top1"] == pytest.approx(record["test"]["top1"], abs=1e-6)


def test_a_finished_run_is_returned_not_retrained(finished_run, sample_data):
    out, record = finished_run
    before = (out / "model.keras").stat().st_mtime_ns
    again = train("sl-vit", out=out, config=Config(epochs=EPOCHS, **TINY), data=sample_data,
                  verbose=0)
    assert again == json.loads(json.dumps(record))
    assert (out / "model.keras").stat().st_mtime_ns == before


def test_a_different_run_in_the_same_folder_is_refused(finished_run, sample_data):
    out, _ = finished_run
    with pytest.raises(RunFolderError, match="holds a different run"):
        train("vit", out=out, config=Config(epochs=EPOCHS, **TINY), data=sample_data, verbose=0)


def test_interrupted_run_resumes_after_its_last_epoch(sessions):
    _, partial, record = sessions
    assert partial["status"] == "running" and partial["epochs_completed"] == INTERRUPTED_AT
    assert partial["test"] is None
    assert record["status"] == "complete" and record["resumed_at_epochs"] == [INTERRUPTED_AT]
    assert all(len(v) == EPOCHS for v in record["history"].values())
    assert record["history"]["loss"][:INTERRUPTED_AT] == partial["history"]["loss"]
    # The optimizer state came back too: the learning rate continues the schedule (which
    # test_recorded_learning_rate_follows_the_schedule checks epoch by epoch).
    lrs = record["history"]["learning_rate"]
    assert lrs[INTERRUPTED_AT] < lrs[INTERRUPTED_AT - 1] and lrs[-1] < lrs[INTERRUPTED_AT]


def test_same_seed_gives_the_same_metrics(tmp_path, sessions, sample_data):
    # The same run again, in a fresh folder, stopped after two epochs: the same losses
    # and accuracies as the module's run (whose first session these epochs were).
    _, partial, _ = sessions
    out = tmp_path / "again"
    with pytest.raises(KeyboardInterrupt):
        train("sl-vit", out=out, config=Config(epochs=EPOCHS, **TINY), data=sample_data,
              verbose=0, callbacks=[_Interrupt(2)])
    again = read_record(out)
    assert again["epochs_completed"] == 2
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert again["history"][key] == partial["history"][key][:2], key


# ------------------------------------------------------------ the recipe chosen
def test_without_a_config_the_device_picks_the_recipe_and_says_so_first(
        tmp_path, monkeypatch, capsys):
    from vitsd.training import device

    monkeypatch.setattr(device, "accelerator", lambda backend=None: None)  # a CPU anywhere
    data = load_dataset("sample", limit=300)
    # Stopped as fit starts: the choice is said, applied and recorded before any epoch
    # (the CLI test below trains the chosen recipe to the end).
    with pytest.raises(KeyboardInterrupt):
        train("vit", out=tmp_path / "auto", data=data, epochs=1, verbose=2,
              callbacks=[_Interrupt(0)])
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("No GPU found: training with recipe 'cpu' (")
    record = read_record(tmp_path / "auto")
    assert record["recipe"] == {"name": "cpu", "chosen": "auto (no accelerator)",
                                "augment": None}
    assert Config.from_dict(record["config"]) == recipe("cpu", epochs=1, num_classes=10,
                                                        input_shape=(32, 32, 3))


def test_the_reference_on_a_cpu_augments_in_the_pipeline_and_records_it():
    # What train() uses and records is the choice's config, message and record (the
    # test above trains with a choice end to end); here, what the choice holds.
    from vitsd.training.device import choose_recipe

    tiny = {k: v for k, v in TINY.items() if k not in ("rotation", "zoom")}
    choice = choose_recipe("reference", {**tiny, "epochs": 1}, device=None)
    assert choice.config.augment == "pipeline" and choice.config.rotation > 0
    assert "pipeline" in choice.message
    assert choice.record() == {"name": "reference", "chosen": "explicit",
                               "augment": "pipeline (moved from the model: no accelerator)"}
    kept = choose_recipe("reference", {**tiny, "augment": "reference"}, device=None)
    assert kept.config.augment == "reference" and kept.record()["augment"] is None


def test_an_explicit_config_is_used_as_given_and_recorded(finished_run, tmp_path):
    _, record = finished_run
    assert record["recipe"] == {"name": None, "chosen": "explicit config", "augment": None}
    assert record["config"]["augment"] == "reference"  # not moved, even on a CPU
    with pytest.raises(ValueError, match="config or recipe, not both"):
        train("vit", out=tmp_path / "x", config=Config(**TINY), recipe="cpu")


# ------------------------------------------------------------------------ CLI
def _cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "vitsd", *args], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                          **kwargs)


def _main(capsys, *args) -> subprocess.CompletedProcess:
    """``python -m vitsd ARGS`` run in this process (no interpreter and TensorFlow
    start-up per call) as a CompletedProcess: the same ``main`` as ``_cli``'s process."""
    from vitsd.cli import main

    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(["vitsd", *args], code, captured.out, captured.err)


@pytest.mark.parametrize("args, reason", [
    (["train", "--out", "x", "--model", "resnet"], "argument --model: invalid choice"),
    (["train", "--out", "x", "--epochs", "0"], "argument --epochs: expected a positive integer"),
    (["train", "--out", "x", "--batch-size", "many"],
     "argument --batch-size: expected a positive integer"),
    (["train", "--model", "vit"], "the following arguments are required: --out"),
    (["evaluate"], "the following arguments are required: --run"),
])
def test_cli_bad_arguments_exit_non_zero_with_one_line(args, reason):
    result = _cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], result.stderr


def test_cli_bad_values_exit_with_the_reason(tmp_path, capsys):
    # In a real process (Keras imported, then the error): the exit status and the line.
    result = _cli("train", "--out", str(tmp_path / "r"), "--recipe", "reference",
                  "--set", "patch_size=5", "--dataset", "sample", "--limit", "50")
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("vitsd: error: image_size (72) must be divisible")
    # The other errors through the same main(), in this process.
    result = _main(capsys, "train", "--out", str(tmp_path / "r"), "--dataset",
                   str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "vitsd: error:" in result.stderr
    result = _main(capsys, "evaluate", "--run", str(tmp_path / "none"))
    assert result.returncode == 2 and "no run record" in result.stderr


def test_cli_train_killed_mid_way_resumes_then_evaluates(tmp_path, capsys):
    # Killed in a real process; resumed and evaluated through the same main() in this
    # one (test_cli_trains_the_paper_recipe_fast runs a whole training process).
    out = tmp_path / "cli-run"
    args = ["train", "--model", "sl-vit", "--dataset", "sample", "--limit", "600",
            "--epochs", "4", "--batch-size", "64", "--out", str(out), *TINY_SET]
    proc = subprocess.Popen([sys.executable, "-m", "vitsd", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    record_path = out / "run.json"
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            if record_path.is_file():
                try:
                    if json.loads(record_path.read_text())["epochs_completed"] >= 1:
                        break
                except (json.JSONDecodeError, KeyError):
                    pass
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    partial = json.loads(record_path.read_text())
    assert 1 <= partial["epochs_completed"] < 4 and partial["status"] == "running"

    result = _main(capsys, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    record = read_record(out)
    assert record["status"] == "complete" and record["epochs_completed"] == 4
    assert all(len(v) == 4 for v in record["history"].values())
    assert record["resumed_at_epochs"] and record["resumed_at_epochs"][0] >= 1
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["test"] == record["test"]
    # No --recipe: the preset that fits the device, said in the first line and recorded.
    first = result.stdout.splitlines()[0]
    picked = record["recipe"]
    assert picked["chosen"].startswith("auto (") and summary["recipe"] == picked
    assert f"training with recipe {picked['name']!r} (" in first, first
    assert picked == ({"name": "reference", "chosen": "auto (gpu found)", "augment": None}
                      if first.startswith("GPU found") else
                      {"name": "cpu", "chosen": "auto (no accelerator)", "augment": None})

    result = _main(capsys, "evaluate", "--run", str(out), "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["test"]["top1"] == pytest.approx(
        record["test"]["top1"], abs=1e-6)


def test_collect_records_finds_run_records_only(tmp_path, finished_run):
    out, record = finished_run
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "run.json").write_text(json.dumps(record))
    (tmp_path / "a" / "other.json").write_text(json.dumps({"not": "a record"}))
    (tmp_path / "broken.json").write_text("{")
    from vitsd.training.records import collect_records

    found = collect_records(tmp_path)
    assert list(found) == ["a/b/run"] and found["a/b/run"]["test"] == record["test"]


def test_cli_trains_the_paper_recipe_fast(tmp_path):
    out = tmp_path / "paper"
    result = _cli("train", "--recipe", "paper", "--fast", "--model", "conv-lsa", "--dataset",
                  "sample", "--limit", "64", "--epochs", "1", "--batch-size", "32",
                  "--set", "projection_dim=32", "--set", "num_layers=1", "--set", "num_heads=2",
                  "--set", "key_dim=16", "--set", "mlp_units=[64,32]", "--quiet",
                  "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    record = read_record(out)
    assert record["config"]["pooling"] == "class_token"
    assert record["config"]["augment"] == "autoaugment"  # the official code's chain
    assert record["config"]["label_smoothing"] == 0.1 and record["model"] == "conv-lsa"
    assert record["status"] == "complete" and len(record["history"]["loss"]) == 1
    assert record["recipe"] == {"name": "paper", "chosen": "explicit", "augment": None}


def test_on_jax_the_reference_augmentation_runs_in_the_input_pipeline():
    """Inside a JAX model, RandomRotation/RandomZoom cost ~20 s a batch on a CPU: on JAX
    the same layers move into tf.data; on TensorFlow the model keeps them."""
    from vitsd.models import build_named
    from vitsd.training.runner import backend_defaults

    config = backend_defaults(Config(**{**TINY, "rotation": 0.1, "zoom": 0.1}))
    layer_names = {layer.name for layer in build_named("vit", config).layers}
    if keras.backend.backend() == "jax":
        assert config.augment == "pipeline" and "augmentation" not in layer_names
    else:
        assert config.augment == "reference" and "augmentation" in layer_names
    assert backend_defaults(config.replace(augment="strong")).augment == "strong"


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's op determinism")
def test_the_record_says_when_keras_drops_xla():
    """Keras silently compiles without XLA under TensorFlow's op determinism: the run
    record's execution block says what applied, not what was asked."""
    import tensorflow as tf

    from vitsd.models import build_named
    from vitsd.training.compile import compile_model
    from vitsd.training.runner import execution_mode

    tf.config.experimental.enable_op_determinism()  # as train() does for its runs
    asked = Config(**TINY, jit_compile=True)
    net = build_named("vit", asked)
    compile_model(net, asked, steps_per_epoch=10)
    assert execution_mode(net, asked) == {
        "op_determinism": True, "jit_compile_requested": True, "jit_compile": False,
        "jit_compile_note": "TensorFlow op determinism is on"}
    plain = Config(**TINY)
    compile_model(net, plain, steps_per_epoch=10)
    assert execution_mode(net, plain)["jit_compile_note"] is None


def test_a_finished_record_says_how_it_ran(finished_run):
    _, record = finished_run
    mode = record["execution"]
    assert mode["jit_compile_requested"] is False and mode["jit_compile"] is False
    if keras.backend.backend() == "tensorflow":
        assert mode["op_determinism"] is True
