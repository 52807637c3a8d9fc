"""Published runs: the records and weights behind the book (chapters 6, 7 and 8).

The book's training chapters *load* finished runs instead of re-training them on every
render. Each published run is two files under ``results/<dataset>/``:

* ``<name>.json`` -- its run record (config, per-epoch history, hold-out metrics,
  environment, timing; see :mod:`vitsd.training.runner`) plus how it was made;
* ``<name>.weights.h5`` -- its best weights, stored in float16 (half the size; the
  model is rebuilt in float32 from the record's config and loads them).

The SHA-256 of every file is listed in ``vitsd/sharing/published.json``, which ships inside
the package. :func:`fetch` finds a file:

1. in this checkout's ``results/`` folder (checked against its SHA-256);
2. otherwise downloaded from the repository (:data:`BASE_URL`, or the environment
   variable ``VITSD_RESULTS_URL``) with ``keras.utils.get_file`` into the Keras cache,
   checked against its SHA-256;
3. otherwise :class:`PublishedError` says exactly how to train the run instead.

A file whose bytes do not match its checksum is never loaded: the error names the file
and what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

#: The project's ``results/`` folder, when vitsd runs from a checkout.
RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"
#: The list of published files and their checksums (package data).
MANIFEST = Path(__file__).with_name("published.json")
def _release_tag() -> str:
    from vitsd import __version__

    return f"v{__version__}"


#: Where a published file is downloaded from when it is not in a checkout:
#: ``BASE_URL + "<dataset>/<file>"``. The files of the release this package belongs to
#: (its tag, ``v<version>``): the checksums in ``published.json`` are that release's,
#: so a later change of a file on ``main`` cannot make an installed release fail.
BASE_URL = f"https://raw.githubusercontent.com/vitsd/vitsd/{_release_tag()}/results/"
#: How to make each dataset's published runs yourself.
TRAIN_COMMANDS = {
    "cifar100": "python tools/campaign.py --only {name}   (in a checkout of vitsd; "
                "CIFAR-100 from the Keras cache, $VITSD_DATA or shared/data/)",
    "cifar10-jpeg": "python tools/campaign.py --campaign cifar10-jpeg --only {name}   (in a "
                    "checkout of vitsd, with the CIFAR-10 JPEG archive in $VITSD_DATA or "
                    "shared/data/)",
}
_ANY_DATASET = ("python tools/campaign.py (in a checkout of vitsd); or train it with "
                "`python -m vitsd train` and pass the run folder instead")


class PublishedError(RuntimeError):
    """A published run could not be found, downloaded or verified; the message says
    what to do."""


# ------------------------------------------------------------------- manifest
def manifest(path=None) -> dict:
    """``{"<dataset>/<file>": {"sha256": ..., "bytes": ...}}`` of every published file."""
    path = Path(path or MANIFEST)
    if not path.is_file():
        return {}
    return json.loads(path.read_text()).get("files", {})


def published_runs(dataset: str | None = None, manifest_path=None) -> list:
    """Names (``"<dataset>/<name>"``, or ``"<name>"`` when ``dataset`` is given) of the
    runs whose record and weights are both published, sorted."""
    files = manifest(manifest_path)
    names = []
    for key in files:
        if key.endswith(".json") and key[: -len(".json")] + ".weights.h5" in files:
            run = key[: -len(".json")]
            if dataset is None:
                names.append(run)
            elif run.startswith(dataset + "/"):
                names.append(run[len(dataset) + 1:])
    return sorted(names)


def sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _how_to_train(dataset: str, name: str) -> str:
    command = TRAIN_COMMANDS.get(dataset, _ANY_DATASET)
    return command.format(name=name)


# ---------------------------------------------------------------------- fetch
def fetch(dataset: str, filename: str, *, results_dir=None, base_url: str | None = None,
          cache_dir: str | None = None, manifest_path=None) -> Path:
    """The local path of the published file ``<dataset>/<filename>``, verified.

    Looks in ``results_dir`` (default: this checkout's ``results/``), else downloads
    from ``base_url`` (default ``$VITSD_RESULTS_URL`` or :data:`BASE_URL`) into
    ``cache_dir`` (default: the Keras cache, ``$KERAS_HOME`` or ``~/.keras``, as Keras
    resolves it; the files land in its ``vitsd/<dataset>/``).
    """
    key = f"{dataset}/{filename}"
    entry = manifest(manifest_path).get(key)
    name = filename.split(".")[0]
    if entry is None:
        raise PublishedError(
            f"no published file {key}: vitsd publishes {len(published_runs())} runs "
            f"({', '.join(published_runs()) or 'none'}). To train it: "
            f"{_how_to_train(dataset, name)}."
        )
    local = Path(results_dir or RESULTS_DIR) / dataset / filename
    if local.is_file():
        if sha256(local) != entry["sha256"]:
            raise PublishedError(
                f"{local} does not match its published SHA-256 ({entry['sha256'][:12]}...): "
                "the file is corrupt or was changed. Restore it with `git checkout -- "
                f"{local.name}` in {local.parent}, or delete it to download a fresh copy."
            )
        return local
    import keras

    base = base_url or os.environ.get("VITSD_RESULTS_URL") or BASE_URL
    origin = base.rstrip("/") + "/" + key
    # Keras 3.15 has no keras.config.keras_home(): resolve the cache as get_file does.
    from vitsd.data.shared import keras_cache_dir

    cache = keras_cache_dir(cache_dir)
    os.makedirs(cache, exist_ok=True)  # get_file falls back to /tmp for a missing one
    try:
        path = keras.utils.get_file(
            fname=filename, origin=origin, file_hash=entry["sha256"],
            hash_algorithm="sha256", cache_dir=cache, cache_subdir=f"vitsd/{dataset}",
        )
    except ValueError as err:  # downloaded, but the checksum does not match
        target = Path(cache) / "vitsd" / dataset / filename
        if target.exists():
            target.unlink()
        raise PublishedError(
            f"the download of {key} from {origin} does not match its published SHA-256 "
            f"({entry['sha256'][:12]}...), so it was deleted. Upgrade vitsd (the file may "
            f"have been republished), or train the run yourself: "
            f"{_how_to_train(dataset, name)}. ({err})"
        ) from None
    except Exception as err:  # no network, 404, ...
        raise PublishedError(
            f"{key} is not in this checkout and could not be downloaded from {origin} "
            f"({err}). Connect to the internet, set VITSD_RESULTS_URL to a copy of the "
            f"results/ folder, or train the run yourself: {_how_to_train(dataset, name)}."
        ) from None
    return Path(path)


def load_record(run: str, dataset: str = "cifar100", **where) -> dict:
    """The run record of a published run (``run``: its name, e.g. ``"cpu-sl-vit-s1"``)."""
    return json.loads(fetch(dataset, f"{run}.json", **where).read_text())


def load_records(dataset: str = "cifar100", **where) -> dict:
    """``{name: record}`` of every run published for ``dataset``."""
    names = published_runs(dataset, where.get("manifest_path"))
    return {name: load_record(name, dataset, **where) for name in names}


def load_model(run: str, dataset: str = "cifar100", **where):
    """The trained model of a published run: built from its record's config, with its
    published (float16) weights loaded into float32 variables. Returns
    ``(model, record)``."""
    from vitsd.config import Config
    from vitsd.models import build_named

    record = load_record(run, dataset, **where)
    weights = fetch(dataset, f"{run}.weights.h5", **where)
    model = build_named(record["model"], Config.from_dict(record["config"]))
    try:
        model.load_weights(weights)
    except Exception as err:  # noqa: BLE001 - h5py/Keras raise many kinds
        raise PublishedError(
            f"{weights} could not be loaded into {record['model']} ({err}); delete it to "
            f"download it again, or train the run: {_how_to_train(dataset, run)}."
        ) from None
    return model, record


# -------------------------------------------------------------------- publish
def write_half_precision_weights(model, path) -> None:
    """Save ``model``'s weights to ``path`` (``*.weights.h5``) with every float32
    array stored as float16: half the bytes; Keras casts them back on loading."""
    import h5py
    import numpy as np

    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "full.weights.h5"
        model.save_weights(full)
        with h5py.File(full, "r") as src, h5py.File(path, "w") as dst:
            for key, value in src.attrs.items():
                dst.attrs[key] = value

            def copy(name, obj):
                if isinstance(obj, h5py.Group):
                    group = dst.require_group(name)
                    for key, value in obj.attrs.items():
                        group.attrs[key] = value
                elif isinstance(obj, h5py.Dataset):
                    data = obj[()]
                    if data.dtype == np.float32:
                        data = data.astype(np.float16)
                    dst.create_dataset(name, data=data)

            src.visititems(copy)


def publish_run(run_dir, name: str, dataset: str, results_dir=None, extra=None,
                manifest_path=None) -> dict:
    """Copy a finished run into ``results/<dataset>/``: ``<name>.json`` (its record,
    updated with ``extra``) and ``<name>.weights.h5`` (its best model's weights in
    float16), and list both with their SHA-256 in the manifest. Returns the record."""
    from vitsd.models import load_model as load_keras

    run_dir = Path(run_dir)
    record = json.loads((run_dir / "run.json").read_text())
    if record.get("status") != "complete":
        raise PublishedError(f"{run_dir} holds an unfinished run: finish it first.")
    record.update(extra or {})
    target = Path(results_dir or RESULTS_DIR) / dataset
    target.mkdir(parents=True, exist_ok=True)
    record_path = target / f"{name}.json"
    tmp = record_path.with_name(record_path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, record_path)
    weights_path = target / f"{name}.weights.h5"
    write_half_precision_weights(load_keras(run_dir / "model.keras"), weights_path)

    list_files(dataset, (record_path, weights_path), manifest_path=manifest_path)
    return record


def list_files(dataset: str, paths, manifest_path=None) -> None:
    """List the files ``paths`` (under ``results/<dataset>/``) in the manifest with their
    SHA-256 and size, replacing older entries of the same names."""
    manifest_path = Path(manifest_path or MANIFEST)
    data = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    files = data.setdefault("files", {})
    for path in map(Path, paths):
        files[f"{dataset}/{path.name}"] = {"sha256": sha256(path),
                                           "bytes": path.stat().st_size}
    data["files"] = dict(sorted(files.items()))
    tmp = manifest_path.with_name(manifest_path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    shutil.move(tmp, manifest_path)
