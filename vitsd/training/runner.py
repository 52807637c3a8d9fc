"""Training runs with run records (taught in chapter 6, "Training and comparison").

:func:`train` is the one entry point behind the command line and the book:

* holds out a stratified validation split of the training data (10% by default);
* drives AdamW with the warmup-cosine schedule (the schedule *is* the optimizer's
  learning rate -- the reference code built one and never used it);
* keeps the best weights by validation accuracy;
* is resumable: after every epoch it saves the weights and optimizer state, then
  commits the epoch to ``run.json``; a run killed mid-way and started again with the
  same output folder continues after its last completed epoch;
* evaluates the best weights on the test split (loss, top-1, top-5) and saves the
  model as ``model.keras``;
* writes the **run record** ``run.json``: config (and the recipe it came from, and
  why), dataset, per-epoch history, test metrics, environment (versions, backend,
  device) and timing.

Layout of an output folder::

    run.json              the run record (status "running" until the end, then "complete")
    last.weights.h5       weights + optimizer state after the last completed epoch
    best.weights.h5       weights of the epoch with the best validation accuracy
    model.keras           the final (best) model, without optimizer state
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import keras

import vitsd
from vitsd.config import Config, check_model_name
from vitsd.data import load_dataset, sampler, train_val_split
from vitsd.models import adapt_normalization, build_named, count_parameters
from vitsd.training.compile import applied_learning_rate, compile_model, make_schedule
from vitsd.training.device import RecipeChoice, choose_recipe, explicit_config
from vitsd.training.records import RECORD, environment, read_record, write_json

LAST_WEIGHTS = "last.weights.h5"
BEST_WEIGHTS = "best.weights.h5"
MODEL_FILE = "model.keras"
HISTORY_KEYS = (
    "loss", "accuracy", "top5", "val_loss", "val_accuracy", "val_top5",
    "learning_rate", "epoch_seconds",
)


class RunFolderError(RuntimeError):
    """The output folder holds something that is not this run."""


def uses_input_pipeline(config: Config) -> bool:
    """Whether training data goes through :mod:`vitsd.data.pipeline` (tf.data) rather than
    Keras' own array adapter: for augmentation outside the model, soft labels, several
    passes per epoch or dropped incomplete batches."""
    return (config.augment in ("strong", "pipeline", "crop", "autoaugment")
            or config.soft_labels or config.repeated_augmentation > 1
            or config.drop_remainder)


def backend_defaults(config: Config) -> Config:
    """``config`` adjusted to run well on the current backend, without changing what
    is learned. On JAX, the reference augmentation (flip, rotation, zoom) moves from
    inside the model into the tf.data input pipeline (``augment="pipeline"``, the same
    layers and factors): inside a JAX model, Keras' RandomRotation and RandomZoom cost
    about 20 s per batch of 64 on a CPU, against about 0 s in tf.data."""
    if config.augment == "reference" and keras.backend.backend() == "jax":
        return config.replace(augment="pipeline")
    return config


def execution_mode(net: keras.Model, config: Config) -> dict:
    """How a compiled model's steps run, as Keras resolved it (part of the run record).

    ``op_determinism``: TensorFlow's op determinism (which :func:`train` turns on unless
    the config asks for XLA) --
    ``None`` on other backends. ``jit_compile``: whether Keras compiles the steps with
    XLA (``jax.jit`` on JAX). Keras silently turns a requested ``jit_compile=True``
    off when TensorFlow's op determinism is on, or when a layer does not support XLA;
    ``jit_compile_note`` then says which.
    """
    determinism = None
    if keras.backend.backend() == "tensorflow":
        from tensorflow.python.framework.config import is_op_determinism_enabled

        determinism = bool(is_op_determinism_enabled())
    applied = bool(net.jit_compile)
    note = None
    if config.jit_compile and not applied:
        note = ("TensorFlow op determinism is on" if determinism
                else "a layer of the model does not support XLA")
    return {"op_determinism": determinism, "jit_compile_requested": bool(config.jit_compile),
            "jit_compile": applied, "jit_compile_note": note}


def _save_weights(model: keras.Model, path: Path) -> None:
    tmp = path.with_name("tmp-" + path.name)  # keras wants the .weights.h5 suffix
    model.save_weights(tmp)
    os.replace(tmp, path)


class _RunRecorder(keras.callbacks.Callback):
    """Saves state and commits each finished epoch to the run record."""

    def __init__(self, out: Path, record: dict, schedule):
        super().__init__()
        self.out = out
        self.record = record
        self.schedule = schedule
        self._epoch_start = 0.0
        history = record["history"]
        best = history.get("val_accuracy") or []
        self.best = max(best) if best else -1.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        # The rate of the epoch's last update (the optimizer has counted it already).
        last_step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) - 1
        logs["learning_rate"] = applied_learning_rate(self.schedule, last_step)
        logs["epoch_seconds"] = time.perf_counter() - self._epoch_start
        for key in HISTORY_KEYS:
            if key in logs:
                self.record["history"].setdefault(key, []).append(float(logs[key]))
        val = logs.get("val_accuracy")
        if val is not None and val > self.best:
            self.best = float(val)
            _save_weights(self.model, self.out / BEST_WEIGHTS)
            self.record["best_epoch"] = epoch + 1
        _save_weights(self.model, self.out / LAST_WEIGHTS)
        # Commit point: the epoch counts once run.json says so.
        self.record["epochs_completed"] = epoch + 1
        write_json(self.out / RECORD, self.record)


def train(
    model: str = "sl-vit",
    dataset: str = "sample",
    out: str | os.PathLike = "runs/sl-vit",
    epochs: int | None = None,
    limit: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    config: Config | None = None,
    verbose: int | str = "auto",
    data=None,
    callbacks=(),
    *,
    recipe: str | RecipeChoice | None = None,
) -> dict:
    """Train (or resume, or return a finished) run and return its run record.

    The run trains with ``config`` as given, else with the preset ``recipe`` (a name
    in :data:`~vitsd.training.recipes.RECIPES`, or what
    :func:`~vitsd.training.device.choose_recipe` returned), else with the preset that
    fits the device: ``"cpu"`` without a GPU or TPU, ``"reference"`` (the keras.io
    model) with one. The reference recipe on a CPU runs its augmentation in the input
    pipeline. When something was chosen, the first line printed says what and why;
    the record's ``"recipe"`` entry says it too.

    ``epochs``, ``batch_size`` and ``seed`` override the same fields of the config.
    ``data`` may be a ready :class:`vitsd.data.Dataset`; otherwise ``dataset`` and
    ``limit`` are passed to :func:`vitsd.data.load_dataset`. Extra Keras ``callbacks``
    run after the one that records and checkpoints each epoch.
    """
    check_model_name(model)
    if config is not None and recipe is not None:
        raise ValueError("pass config or recipe, not both.")
    if config is not None:
        choice = explicit_config(config)
    elif isinstance(recipe, RecipeChoice):
        choice = recipe
    else:
        choice = choose_recipe(recipe)
    if choice.message:
        _say(verbose, choice.message)
    config = choice.config
    overrides = {k: v for k, v in
                 {"epochs": epochs, "batch_size": batch_size, "seed": seed}.items()
                 if v is not None}
    config = config.replace(**overrides)
    config = backend_defaults(config)
    out = Path(out)

    if data is None:
        data = load_dataset(dataset, limit=limit, seed=config.seed)
    config = config.replace(num_classes=len(data.class_names),
                            input_shape=tuple(data.x_train.shape[1:]))
    identity = {
        "model": model,
        "config": config.to_dict(),
        "dataset": {**data.summary(), "limit": limit},
    }

    previous = _previous_record(out, identity)
    if previous is not None and previous.get("status") == "complete":
        _say(verbose, f"{out} already holds this finished run; returning its record.")
        return previous

    keras.utils.set_random_seed(config.seed)
    if keras.backend.backend() == "tensorflow" and not config.jit_compile:
        # Op determinism makes a run repeatable; Keras turns XLA off under it, so a run
        # that asks for XLA (the fast path on a GPU) trades repeatability for speed.
        # Once on, it stays on for the process: the run record says what applied.
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()

    x_train, y_train, x_val, y_val = train_val_split(
        data.x_train, data.y_train, config.validation_split, config.seed
    )
    # With repeated augmentation an epoch is several passes (vitsd.data.sampler).
    steps_per_epoch = sampler.steps_per_epoch(len(x_train), config)
    if steps_per_epoch == 0:
        raise ValueError(
            f"an epoch of {len(x_train)} training images x {config.repeated_augmentation} "
            f"passes does not fill one batch of {config.batch_size} (drop_remainder): "
            "use a smaller batch_size or more images."
        )

    net = build_named(model, config)
    adapt_normalization(net, x_train)
    compile_model(net, config, steps_per_epoch)
    schedule = make_schedule(config, steps_per_epoch)
    execution = execution_mode(net, config)
    if execution["jit_compile_requested"] and not execution["jit_compile"]:
        _say(verbose, "jit_compile=True was requested, but Keras compiles without XLA "
                      f"here ({execution['jit_compile_note']}); the run record says so.")

    record = {
        **identity,
        "status": "running",
        "vitsd_version": vitsd.__version__,
        "splits": {"train": int(len(x_train)), "validation": int(len(x_val)),
                   "test": int(len(data.x_test))},
        "recipe": choice.record(),
        "parameters": count_parameters(net),
        "epochs_completed": 0,
        "best_epoch": None,
        "history": {},
        "test": None,
        "environment": environment(),
        "execution": execution,
        "timing": {"wall_seconds": 0.0, "train_seconds": 0.0, "train_images_per_second": None},
        "resumed_at_epochs": [],
    }
    initial_epoch = 0
    if previous is not None and (out / LAST_WEIGHTS).is_file() and previous["epochs_completed"]:
        net.optimizer.build(net.trainable_variables)
        net.load_weights(out / LAST_WEIGHTS)
        initial_epoch = previous["epochs_completed"]
        record.update(
            history={k: v[:initial_epoch] for k, v in previous["history"].items()},
            epochs_completed=initial_epoch,
            best_epoch=previous.get("best_epoch"),
            timing=previous["timing"],
            resumed_at_epochs=previous.get("resumed_at_epochs", []) + [initial_epoch],
        )
        _say(verbose, f"Resuming {out} after epoch {initial_epoch}/{config.epochs}.")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / RECORD, record)

    start = time.perf_counter()
    if uses_input_pipeline(config):
        train_data = input_pipeline(x_train, y_train, config, training=True)
        validation = input_pipeline(x_val, y_val, config, training=False) if len(x_val) else None
        fit_arrays = {"shuffle": False}  # the pipeline shuffles, reseeded every epoch
    else:
        train_data = x_train
        validation = (x_val, y_val) if len(x_val) else None
        fit_arrays = {"y": y_train, "batch_size": config.batch_size, "shuffle": True}
    if initial_epoch < config.epochs:
        net.fit(
            train_data,
            **fit_arrays,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            validation_data=validation,
            callbacks=[_RunRecorder(out, record, schedule), *callbacks],
            verbose=verbose,
        )
    fit_seconds = time.perf_counter() - start
    timing = record["timing"]
    timing["train_seconds"] = float(sum(record["history"].get("epoch_seconds", [])))
    trained = sampler.images_per_epoch(len(x_train), config) * config.epochs
    timing["train_images_per_second"] = (
        trained / timing["train_seconds"] if timing["train_seconds"] else None
    )

    if (out / BEST_WEIGHTS).is_file():
        net.load_weights(out / BEST_WEIGHTS)
    record["test"] = _evaluate(net, data.x_test, data.y_test, config, verbose)
    export = keras.models.clone_model(net)
    export.set_weights(net.get_weights())
    export.save(out / MODEL_FILE)
    timing["wall_seconds"] = float(timing.get("wall_seconds", 0.0)) + (time.perf_counter() - start)
    timing["fit_seconds_this_session"] = fit_seconds
    record["status"] = "complete"
    write_json(out / RECORD, record)
    return record


def evaluate(run_dir, verbose: int | str = "auto", data=None) -> dict:
    """Re-evaluate a finished run's ``model.keras`` on its dataset's test split."""
    run_dir = Path(run_dir)
    record = read_record(run_dir)
    if not (run_dir / MODEL_FILE).is_file():
        raise FileNotFoundError(
            f"{run_dir / MODEL_FILE} is missing: the run has not finished "
            f"(status {record.get('status')!r}); run `vitsd train` with --out {run_dir} "
            "again to resume it."
        )
    net = vitsd.load_model(run_dir / MODEL_FILE)
    config = Config.from_dict(record["config"])
    if data is None:
        ds = record["dataset"]
        data = load_dataset(ds["name"], limit=ds.get("limit"), seed=config.seed)
    return evaluate_model(net, config, data, verbose=verbose)


def evaluate_model(net: keras.Model, config: Config, data, verbose: int | str = "auto") -> dict:
    """Test loss, top-1 and top-5 of a loaded model on ``data``'s test split, with the
    loss and metrics ``config`` trains with (also for models from the Hub, chapter 8)."""
    compile_model(net, config, steps_per_epoch=None)
    return _evaluate(net, data.x_test, data.y_test, config, verbose)


def input_pipeline(x, y, config: Config, training: bool):
    """The tf.data batches :func:`train` feeds for ``config`` (chapter 8): labels one-hot
    when ``config.soft_labels``; augmentation and mixing only when ``training``."""
    from vitsd.data.pipeline import make_dataset

    return make_dataset(x, y, config, config.num_classes, training=training,
                        categorical=config.soft_labels)


def _evaluate(net, x, y, config: Config, verbose) -> dict:
    if config.soft_labels:
        result = net.evaluate(input_pipeline(x, y, config, training=False), verbose=verbose)
    else:
        result = net.evaluate(x, y, batch_size=config.batch_size, verbose=verbose)
    loss, top1, top5 = result
    return {"loss": float(loss), "top1": float(top1), "top5": float(top5)}


def _previous_record(out: Path, identity: dict):
    path = out / RECORD
    if not path.is_file():
        if out.exists() and any(out.iterdir()):
            raise RunFolderError(
                f"output folder {out} is not empty and holds no {RECORD}: choose a new "
                "or empty --out folder."
            )
        return None
    try:
        previous = read_record(out)
    except json.JSONDecodeError as err:
        raise RunFolderError(f"{path} is not valid JSON ({err}); delete the folder or choose another --out.") from err
    previous = dict(previous)
    try:  # a record written before a Config field existed holds that field's default
        previous["config"] = Config.from_dict(previous.get("config", {})).to_dict()
    except (TypeError, ValueError):
        pass
    mismatched = [k for k in identity if previous.get(k) != identity[k]]
    if mismatched:
        raise RunFolderError(
            f"output folder {out} holds a different run (its {', '.join(mismatched)} differ): "
            "choose another --out, or delete the folder to start over."
        )
    return previous


def _say(verbose, message: str) -> None:
    if verbose:
        print(message, flush=True)
