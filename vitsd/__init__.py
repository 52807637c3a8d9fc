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
    "config": ["MODELS", "RECIPES", "Config", "model_switches", "recipe"],
    "patches": ["Patches", "PatchEncoder", "PositionEmbedding", "ClassToken",
                "extract_patches"],
    "stem": ["ConvStem"],
    "droppath": ["DropPath"],
    "speed": ["fast_config"],
    "spt": ["SHIFTS", "ShiftedPatchTokenization", "shift_images"],
    "lsa": ["LocalitySelfAttention", "diagonal_mask"],
    "blocks": ["TransformerBlock"],
    "schedule": ["WarmUpCosine", "TriangularCyclical"],
    "model": ["adapt_normalization", "build_named", "build_vit", "count_parameters",
              "load_model"],
    "data": ["Dataset", "DatasetError", "load_dataset", "make_sample"],
    # ``vitsd.train`` is the module (train, evaluate, read_record, ...): exporting its
    # function under the same name would be shadowed once the module is imported.
    "train": [],
    # ``vitsd.budget``: tokens, parameters and multiply-adds counted by hand (chapter 5).
    "budget": [],
    "explain": ["attention_scores", "attention_maps"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"vitsd.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    if name in _EXPORTS or name in ("plots", "diagrams", "rollout", "cli", "pipeline", "book",
                                    "hub", "published", "budget", "quiet"):
        return importlib.import_module(f"vitsd.{name}")
    raise AttributeError(f"module 'vitsd' has no attribute {name!r}")


def __dir__():
    return __all__ + list(_EXPORTS)


# ------------------------------------------------- Keras objects, registered with Keras
#: Modules that register Keras objects (``package="vitsd"``): the layers of every model
#: and the learning-rate schedules.
SERIALIZABLE_MODULES = ("patches", "spt", "lsa", "droppath", "blocks", "stem", "schedule",
                        "model")
#: Modules that register Keras objects but import TensorFlow (the tf.data pipeline, whose
#: CutMix layer never is part of a model): imported only when TensorFlow already is, so
#: that the JAX backend does not pay for TensorFlow's import.
SERIALIZABLE_WITH_TENSORFLOW = ("pipeline",)


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
