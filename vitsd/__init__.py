"""vitsd: Vision Transformers for small datasets, with Keras 3.

The helper package of the vitsd book. Each object's docstring names the chapter that
teaches it; the book imports and displays this code rather than copying it.

Names are imported lazily, so that ``python -m vitsd --help`` answers at once and only
the modules a caller uses load Keras and its backend.
"""

import importlib

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
    if name in _EXPORTS or name in ("plots", "diagrams", "rollout", "cli", "pipeline", "book"):
        return importlib.import_module(f"vitsd.{name}")
    raise AttributeError(f"module 'vitsd' has no attribute {name!r}")


def __dir__():
    return __all__ + list(_EXPORTS)
