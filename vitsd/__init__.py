"""vitsd: Vision Transformers for small datasets, with Keras 3.

The helper package of the vitsd book. Each object's docstring names the chapter that
teaches it; the book imports and displays this code rather than copying it.

Names are imported lazily, so that ``python -m vitsd --help`` answers at once and only
the modules a caller uses load Keras and its backend.

``import vitsd`` is still enough for ``keras.saving.load_model`` to find vitsd's custom
layers in a saved model (chapter 8, sharing a model): the modules that register them
with ``@keras.saving.register_keras_serializable`` are imported as soon as Keras is --
at once when Keras is already imported, otherwise right after Keras finishes importing,
through a one-shot import hook. So ``import vitsd`` alone still loads no backend.
"""

import importlib
import sys

__version__ = "0.1.0"

_EXPORTS = {
    "config": ["MODELS", "Config", "model_switches"],
    "training.recipes": ["RECIPES", "recipe"],
    "layers.patches": ["Patches", "PatchEncoder", "extract_patches"],
    "layers.position": ["PositionEmbedding"],
    "layers.class_token": ["ClassToken"],
    "layers.conv_stem": ["ConvStem"],
    "layers.drop_path": ["DropPath"],
    "training.fast": ["fast_config"],
    "layers.spt": ["SHIFTS", "ShiftedPatchTokenization", "shift_images"],
    "layers.lsa": ["LocalitySelfAttention", "diagonal_mask"],
    "layers.transformer_block": ["TransformerBlock"],
    "training.schedules": ["WarmUpCosine", "TriangularCyclical"],
    "models": ["adapt_normalization", "build_named", "build_vit", "count_parameters",
               "load_model"],
    "data": ["Dataset", "DatasetError", "load_dataset", "make_sample"],
    "inspection.attention": ["attention_scores", "attention_maps"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)

#: The folders of the package (``vitsd.layers``, ...) and its top-level modules.
SUBPACKAGES = ("layers", "models", "data", "training", "inspection", "sharing", "book",
               "config", "cli", "quiet")
#: Short names of modules from before the package had folders, still answered:
#: ``from vitsd import hub`` or ``vitsd.train`` give the module that holds that code
#: now. ``vitsd.train`` is the module (train, evaluate, read_record, ...): exporting
#: its function under the same name would be shadowed once the module is imported.
MOVED = {
    "patches": "layers.patches", "spt": "layers.spt", "lsa": "layers.lsa",
    "blocks": "layers.transformer_block", "stem": "layers.conv_stem",
    "droppath": "layers.drop_path", "initialization": "layers.initialization",
    "model": "models", "resnet": "models.resnet",
    "pipeline": "data.pipeline", "autoaugment": "data.auto_augment",
    "sampler": "data.sampler",
    "schedule": "training.schedules", "paper_recipe": "training.paper_recipe",
    "train": "training.runner", "speed": "training.fast",
    "rollout": "inspection.rollout", "explain": "inspection.attention",
    "budget": "inspection.budget",
    "published": "sharing.published", "hub": "sharing.hub",
    "plots": "book.plots", "diagrams": "book.diagrams",
}


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"vitsd.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    if name in SUBPACKAGES:
        return importlib.import_module(f"vitsd.{name}")
    if name in MOVED:
        return importlib.import_module(f"vitsd.{MOVED[name]}")
    raise AttributeError(f"module 'vitsd' has no attribute {name!r}")


def __dir__():
    return __all__ + list(SUBPACKAGES) + list(MOVED)


# ------------------------------------------------- Keras objects, registered with Keras
#: Modules that register Keras objects (``package="vitsd"``): the layers of every model
#: and the learning-rate schedules. A saved model names each of its objects by
#: ``registered_name`` (``vitsd>ShiftedPatchTokenization``), which Keras looks up in
#: its registry before the ``module`` it also stores, so files saved when these modules
#: had other paths (``vitsd.spt``, ``vitsd.model``, ...) load unchanged.
SERIALIZABLE_MODULES = ("layers.patches", "layers.position", "layers.class_token",
                        "layers.spt", "layers.lsa", "layers.drop_path",
                        "layers.transformer_block", "layers.conv_stem",
                        "training.schedules", "models.vit")
#: Modules that register Keras objects but import TensorFlow (the CutMix layer of the
#: tf.data pipeline, never part of a model): imported only when TensorFlow already is,
#: so that the JAX backend does not pay for TensorFlow's import.
SERIALIZABLE_WITH_TENSORFLOW = ("data.mixing",)


def register_keras_objects() -> None:
    """Import every module that registers Keras objects (a no-op once they are)."""
    for name in SERIALIZABLE_MODULES:
        importlib.import_module(f"vitsd.{name}")
    if "tensorflow" in sys.modules:
        for name in SERIALIZABLE_WITH_TENSORFLOW:
            importlib.import_module(f"vitsd.{name}")


class _AfterKeras:
    """Import hook: runs :func:`register_keras_objects` right after the ``keras``
    package has been imported, by whoever imports it, then removes itself."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        else:
            return None
        if hasattr(spec.loader, "exec_module"):
            spec.loader = _ThenRegister(spec.loader, self)
        return spec


class _ThenRegister:
    """Wraps the loader of ``keras``: executes it, then registers vitsd's objects."""

    def __init__(self, loader, hook):
        self._loader = loader
        self._hook = hook

    def __getattr__(self, name):  # everything else is the wrapped loader's
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self._loader  # leave no trace
        self._loader.exec_module(module)
        if self._hook in sys.meta_path:
            sys.meta_path.remove(self._hook)
        register_keras_objects()


if "keras" in sys.modules:
    register_keras_objects()
else:
    sys.meta_path.insert(0, _AfterKeras())
