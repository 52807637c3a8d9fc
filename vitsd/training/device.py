"""The device a run trains on, and the preset that fits it when none is named.

A first ``python -m vitsd train`` without ``--recipe`` should finish in about a minute
wherever it runs. :func:`accelerator` asks the Keras backend whether it sees a GPU or a
TPU; :func:`choose_recipe` then picks the preset: ``"cpu"`` (chapter 6's ViT sized for a
2-core CPU) without an accelerator, ``"reference"`` (the keras.io model, 21.8M
parameters at 72x72) with one. A named recipe, or an explicit :class:`Config`, always
wins. The reference recipe on a CPU runs its flip/rotation/zoom augmentation in the
tf.data input pipeline (``augment="pipeline"``: the same layers and factors; Keras'
RandomRotation and RandomZoom inside the model are its costliest part there) unless the
caller sets ``augment`` itself.

A notebook whose real experiment needs a GPU (chapter 8: the paper's recipe for 100
epochs) asks :func:`plan_run` instead: opened as it is on a runtime without an
accelerator, it runs a short demonstration of the experiment rather than days of
training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from vitsd.config import Config
from vitsd.training.recipes import recipe


def accelerator(backend: str | None = None) -> str | None:
    """``"gpu"`` or ``"tpu"`` when the Keras backend (default: the current one) sees
    one, else ``None`` (CPU only)."""
    if backend is None:
        import keras

        backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return "gpu"
        return "tpu" if tf.config.list_physical_devices("TPU") else None
    if backend == "jax":
        import jax

        platform = jax.devices()[0].platform.lower()
        if platform == "cpu":
            return None
        return "gpu" if platform in ("gpu", "cuda", "rocm") else platform
    if backend == "torch":
        import torch

        return "gpu" if torch.cuda.is_available() else None
    return None


@dataclasses.dataclass(frozen=True)
class RecipeChoice:
    """The preset a run trains with, and why (the run record's ``"recipe"`` entry).

    ``chosen``: ``"auto (no accelerator)"``, ``"auto (gpu found)"`` (or tpu), or
    ``"explicit"``. ``augment``: what happened to the reference augmentation, ``None``
    when nothing did. ``message``: the line a run prints first, ``None`` when nothing
    was chosen for the caller.
    """

    name: str | None
    config: Config
    chosen: str
    augment: str | None = None
    message: str | None = None

    def record(self) -> dict:
        return {"name": self.name, "chosen": self.chosen, "augment": self.augment}


def explicit_config(config: Config) -> RecipeChoice:
    """The choice of a run given a :class:`Config`: used as it is."""
    return RecipeChoice(None, config, "explicit config")


_ABOUT = {
    "cpu": "a ViT sized for a CPU: 32x32 images, 4 blocks of width 64, chapter 6",
    "reference": "the keras.io model: 72x72 images, 8 blocks of width 64",
}


def choose_recipe(name: str | None = None, overrides: dict | None = None, *,
                  device: str | None = "auto", cli: bool = False) -> RecipeChoice:
    """The preset to train with: ``name`` when given, else ``"cpu"`` without an
    accelerator and ``"reference"`` with one; ``overrides`` (Config fields) on top.

    ``device``: ``"gpu"``, ``"tpu"``, ``None`` (CPU only) or ``"auto"`` (ask
    :func:`accelerator`). On a CPU the reference recipe's augmentation moves into the
    input pipeline unless ``overrides`` sets ``augment``. ``cli`` words the message's
    hints as command-line options rather than Python arguments.
    """
    overrides = dict(overrides or {})
    if device == "auto":
        device = accelerator()
    where = f"{device.upper()} found" if device else "No GPU found"
    message = augment = None
    if name is None:
        name = "reference" if device else "cpu"
        other = "cpu" if device else "reference"
        chosen = f"auto ({device} found)" if device else "auto (no accelerator)"
        hint = f"--recipe {other}" if cli else f"recipe={other!r}"
        message = (f"{where}: training with recipe {name!r} ({_ABOUT[name]}); pass {hint} "
                   f"for {_ABOUT[other].split(':')[0]}.")
    else:
        chosen = "explicit"
    if name == "reference" and not device and "augment" not in overrides:
        overrides["augment"] = "pipeline"
        augment = "pipeline (moved from the model: no accelerator)"
        keep = "--set augment=reference" if cli else "config=recipe('reference')"
        message = (f"{where}: recipe 'reference' runs its flip/rotation/zoom augmentation in "
                   "the tf.data input pipeline, not inside the model (the same layers; inside "
                   f"the model they are slow on a CPU); pass {keep} to keep it in the model.")
    return RecipeChoice(name, recipe(name, **overrides), chosen, augment, message)



@dataclasses.dataclass(frozen=True)
class RunPlan:
    """The run a notebook makes (:func:`plan_run`): ``parameters``, the run parameters
    as they apply; ``demo``, True when the short demonstration replaced the full run;
    ``device``, what :func:`accelerator` found; ``message``, the line the notebook
    prints, ``None`` when nothing was replaced."""

    parameters: dict
    demo: bool
    device: str | None
    message: str | None = None


def _value(value) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else repr(value)


def plan_run(parameters: Mapping, full: Mapping, demo: Mapping, *, full_on_cpu: bool = False,
             device: str | None = "auto", switch: str = "FULL_ON_CPU") -> RunPlan:
    """The run a notebook makes with its parameters cell's values ``parameters``.

    ``full`` holds the cell's defaults (the real experiment), ``demo`` the values of a
    short demonstration of it (a subset of the same names). Without an accelerator
    (``device``: ``"gpu"``, ``"tpu"``, ``None`` for CPU only, or ``"auto"`` to ask
    :func:`accelerator`), when every name of ``demo`` still holds its ``full`` default --
    the notebook opened as it is -- those names take ``demo``'s values, unless
    ``full_on_cpu``. Values changed by the caller (papermill, or a reader's edit) are
    kept as given, and with a GPU or TPU nothing is replaced. ``switch`` names
    ``full_on_cpu`` in the message, as the notebook calls it.
    """
    if not isinstance(full_on_cpu, bool):
        raise TypeError(f"{switch} must be True or False, got {full_on_cpu!r}.")
    for name in demo:
        if name not in full:
            raise ValueError(f"demo parameter {name!r} has no default in full: give full a "
                             f"value for it (full has {sorted(full)}).")
        if name not in parameters:
            raise ValueError(f"demo parameter {name!r} is not among the notebook's parameters: "
                             f"pass it too (got {sorted(parameters)}).")
    if device == "auto":
        device = accelerator()
    parameters = dict(parameters)
    untouched = all(parameters[name] == full[name] for name in demo)
    if device or full_on_cpu or not untouched:
        return RunPlan(parameters, False, device)
    parameters.update(demo)
    now = ", ".join(f"{k}={_value(v)}" for k, v in demo.items())
    default = ", ".join(f"{k}={_value(full[k])}" for k in demo)
    message = (f"No GPU or TPU found: running a short demonstration ({now}) instead of the "
               f"defaults' full run ({default}), which needs a GPU. On a GPU runtime the "
               f"defaults run in full; set {switch} = True to run them on this CPU anyway.")
    return RunPlan(parameters, True, None, message)
