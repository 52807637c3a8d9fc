"""The package's layout and the names that keep working across it.

Modules live in folders that show the architecture (layers, models, data, training,
inspection, sharing, book); the names users typed before there were folders --
``vitsd.ShiftedPatchTokenization``, ``from vitsd import hub, plots``, ``vitsd.train`` --
still resolve, through ``vitsd.__getattr__``, without a shim file at the old path.
"""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vitsd

ROOT = Path(__file__).resolve().parents[1]

#: Old short module names -> the module that holds that code now.
OLD_MODULES = {
    "patches": "vitsd.layers.patches", "spt": "vitsd.layers.spt", "lsa": "vitsd.layers.lsa",
    "blocks": "vitsd.layers.transformer_block", "stem": "vitsd.layers.conv_stem",
    "droppath": "vitsd.layers.drop_path", "initialization": "vitsd.layers.initialization",
    "model": "vitsd.models", "resnet": "vitsd.models.resnet",
    "pipeline": "vitsd.data.pipeline", "autoaugment": "vitsd.data.auto_augment",
    "sampler": "vitsd.data.sampler", "schedule": "vitsd.training.schedules",
    "paper_recipe": "vitsd.training.paper_recipe", "train": "vitsd.training.runner",
    "speed": "vitsd.training.fast", "rollout": "vitsd.inspection.rollout",
    "explain": "vitsd.inspection.attention", "budget": "vitsd.inspection.budget",
    "published": "vitsd.sharing.published", "hub": "vitsd.sharing.hub",
    "book": "vitsd.book", "plots": "vitsd.book.plots", "diagrams": "vitsd.book.diagrams",
    "config": "vitsd.config", "data": "vitsd.data", "cli": "vitsd.cli", "quiet": "vitsd.quiet",
}

#: Every name ``vitsd`` exported before the folders, by the module it came from.
OLD_EXPORTS = [
    "MODELS", "RECIPES", "Config", "model_switches", "recipe", "Patches", "PatchEncoder",
    "PositionEmbedding", "ClassToken", "extract_patches", "ConvStem", "DropPath",
    "fast_config", "SHIFTS", "ShiftedPatchTokenization", "shift_images",
    "LocalitySelfAttention", "diagonal_mask", "TransformerBlock", "WarmUpCosine",
    "TriangularCyclical", "adapt_normalization", "build_named", "build_vit",
    "count_parameters", "load_model", "Dataset", "DatasetError", "load_dataset",
    "make_sample", "attention_scores", "attention_maps",
]

#: Names the chapters and tools read from the old modules, still there.
OLD_ATTRIBUTES = {
    "train": ["train", "evaluate", "evaluate_model", "read_record", "environment",
              "compile_model", "RECORD", "RunFolderError"],
    "model": ["build_vit", "build_named", "load_model", "preprocessing", "augmentation",
              "augmentation_layers", "make_tokenizer", "Resize"],
    "published": ["load_model", "load_record", "published_runs", "fetch"],
    "hub": ["push", "load", "evaluate", "export", "HubError", "model_card"],
    "book": ["show_source", "table", "run_card", "setup", "glue", "record", "read_records",
             "variant_runs", "load_data", "config_for", "difference_ci", "campaign_runs",
             "DEFAULTS", "VARIANTS"],
    "spt": ["ShiftedPatchTokenization", "shift_images", "SHIFTS"],
    "budget": ["parameter_budget", "flops_per_block", "receptive_field", "num_tokens"],
    "explain": ["attention_maps", "attention_scores", "transformer_blocks"],
    "rollout": ["rollout_matrix", "attention_rollout"],
    "pipeline": ["make_dataset"],
}


@pytest.mark.parametrize("old", sorted(OLD_MODULES))
def test_every_old_module_name_resolves_to_its_new_module(old):
    assert getattr(vitsd, old) is importlib.import_module(OLD_MODULES[old])
    namespace = {}
    exec(f"from vitsd import {old} as m", namespace)
    assert namespace["m"].__name__ == OLD_MODULES[old]


@pytest.mark.parametrize("name", OLD_EXPORTS)
def test_every_old_top_level_name_is_still_exported(name):
    assert name in vitsd.__all__
    assert getattr(vitsd, name) is not None


def test_the_names_the_chapters_read_from_old_modules_are_still_there():
    for old, names in OLD_ATTRIBUTES.items():
        module = getattr(vitsd, old)
        missing = [n for n in names if not hasattr(module, n)]
        assert not missing, f"vitsd.{old} lacks {missing}"


def test_there_is_no_shim_at_an_old_path_and_the_folders_are_the_table_of_contents():
    package = ROOT / "vitsd"
    top = sorted(p.name for p in package.iterdir() if not p.name.startswith(("_", ".")))
    assert top == ["book", "cli.py", "config.py", "data", "inspection", "layers", "models",
                   "quiet.py", "sharing", "training"]
    for old in OLD_MODULES:
        if OLD_MODULES[old] != f"vitsd.{old}":
            assert not (package / f"{old}.py").exists()
    for folder in (p for p in package.iterdir() if p.is_dir() and p.name != "__pycache__"):
        init = folder / "__init__.py"
        assert init.is_file() and init.read_text().lstrip().startswith('"""'), folder


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        vitsd.nonsense  # noqa: B018


def test_old_names_import_no_backend():
    code = ("import sys, vitsd; from vitsd import published, hub, book, cli, quiet; "
            "vitsd.Config, vitsd.recipe; "
            "print(any(m in sys.modules for m in ('keras', 'tensorflow', 'jax')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_the_stdlib_inspect_is_not_shadowed():
    import inspect

    assert inspect.__file__.endswith("inspect.py") and "vitsd" not in inspect.__file__
    assert importlib.import_module("vitsd.inspection").__name__ == "vitsd.inspection"


#: One process per vitsd module, each importing that module first and Keras after it:
#: forked from a parent that loaded only the third-party packages Keras imports (never
#: Keras or vitsd), so that each child pays for Keras' own modules only (~1-2 s instead
#: of a fresh interpreter's ~5 s). Prints "module exit-status" per module.
IMPORT_FIRST = r"""
import importlib, os, sys
for dep in ("numpy", "scipy", "scipy.special", "ml_dtypes", "jax", "jax.numpy", "h5py",
            "matplotlib.pyplot", "rich", "optree", "absl.logging", "namex", "PIL.Image",
            "huggingface_hub", "packaging.version", "requests"):
    try:
        importlib.import_module(dep)
    except ImportError:
        pass
loaded = [m for m in sys.modules if m.split(".")[0] in ("keras", "vitsd")]
assert not loaded, f"preloaded {loaded}"
NAMES = ("ShiftedPatchTokenization", "TransformerBlock", "Resize", "WarmUpCosine",
         "ConvStem", "ClassToken")
for name in sys.argv[1:]:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            importlib.import_module("vitsd." + name)
            import keras

            registered = [keras.saving.get_registered_object("vitsd>" + n) for n in NAMES]
            status = 0 if all(r is not None for r in registered) else 3
        except BaseException as err:
            print(f"{name}: {err!r}", file=sys.stderr)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    print(name, os.waitstatus_to_exitcode(wait_status))
"""


def test_any_module_that_registers_layers_can_be_imported_first():
    """Importing Keras registers every vitsd layer; that must work whichever vitsd module
    imports Keras first (the layer modules import each other), in a fresh process."""
    # Keras' NumPy backend: the import order is what is tested, and TensorFlow's
    # start-up would cost ~10 s a process (one per module). Status 3: a layer is not
    # registered; 1: the import failed (on stderr).
    out = subprocess.run([sys.executable, "-c", IMPORT_FIRST, *vitsd.SERIALIZABLE_MODULES],
                         capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "KERAS_BACKEND": "numpy"})
    assert out.returncode == 0, out.stderr[-2000:]
    status = dict(line.split() for line in out.stdout.splitlines())
    assert status == dict.fromkeys(vitsd.SERIALIZABLE_MODULES, "0"), (status,
                                                                     out.stderr[-2000:])
