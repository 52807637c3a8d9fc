"""Sharing a trained model on the Hugging Face Hub (taught in chapter 8, "Going further").

A finished run folder (see :mod:`vitsd.training.runner`) becomes a model repository:

    README.md          the model card, generated from the run record
    run.json           the run record, as the run wrote it
    curves.png         the training curves (:func:`vitsd.book.plots.plot_history`)
    model.keras        the model, one file
    config.json        \\
    metadata.json       > the same model unpacked from model.keras: the layout that
    model.weights.h5   /  Keras' own ``keras.saving.load_model("hf://USER/NAME")`` reads

* :func:`export` writes that folder from a run folder, offline;
* :func:`push` exports to a temporary folder and uploads it (``HfApi.create_repo`` and
  ``HfApi.upload_folder``);
* :func:`load` returns the model and, when the repository has one, its run record --
  from a repository id, an ``hf://`` address, a downloaded folder or a ``.keras`` file;
* :func:`evaluate` scores such a model on a dataset's test split;
* the card's text is :func:`vitsd.sharing.model_card.model_card`, a function of the run
  record alone.

``huggingface_hub`` is an optional dependency (``pip install "vitsd[hub]"``), needed
only to push and to download: the card, :func:`export` and :func:`load` from a folder or
a ``.keras`` file work without it. Problems with the Hub -- no token, no network, no
such repository -- raise :class:`HubError` with a one-line message that says what to do.
This module imports Keras only to load or evaluate a model.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import vitsd
from vitsd.sharing.model_card import (
    CARD,
    CURVES,
    KERAS_MEMBERS,
    MODEL_FILE,
    RECORD,
    _fmt,
    _shape,
    hub_dataset,
    model_card,
)


def _token_help(access: str = "write") -> str:
    return (f"set HF_TOKEN to an access token with {access} access (https://huggingface.co/"
            "settings/tokens) or run `hf auth login` (`huggingface-cli login` with an older "
            "huggingface_hub)")


class HubError(RuntimeError):
    """The Hugging Face Hub cannot be used: no token, no network, no such repository,
    or ``huggingface_hub`` is not installed."""


class Loaded(NamedTuple):
    """What :func:`load` returns: the Keras model and its run record (``None`` when the
    source has no ``run.json``)."""

    model: Any
    record: dict | None


# ------------------------------------------------------------------ run folders
def check_run(run_dir) -> dict:
    """The run record of a finished run folder; :class:`FileNotFoundError` saying what
    is missing for any other folder."""
    run_dir = Path(run_dir)
    hint = "pass the --out folder of a finished `vitsd train` run"
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run_dir {run_dir} is not a folder: {hint}.")
    if not (run_dir / RECORD).is_file():
        raise FileNotFoundError(f"{run_dir} is not a vitsd run: it has no {RECORD}; {hint}.")
    try:
        record = json.loads((run_dir / RECORD).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{run_dir / RECORD} is not valid JSON ({err}); {hint}.") from err
    if not isinstance(record, dict) or not {"config", "history", "model"} <= set(record):
        raise ValueError(f"{run_dir / RECORD} is not a vitsd run record; {hint}.")
    if record.get("status") != "complete":
        raise FileNotFoundError(
            f"{run_dir} has no {MODEL_FILE} of a finished run: the run has not finished "
            f"(status {record.get('status')!r}); run `vitsd train` with --out {run_dir} "
            "again to finish it.")
    if not (run_dir / MODEL_FILE).is_file():
        raise FileNotFoundError(
            f"{run_dir} has no {MODEL_FILE}: the run finished but its model was moved or "
            "deleted; put it back, or train again into a new --out folder.")
    return record


def export(run_dir, folder, repo_id: str | None = None) -> list:
    """Write the Hub repository of a finished run into ``folder`` (new or empty) and
    return its file names: the card, the record, the curves and the model (see the
    module docstring). ``repo_id`` (``USER/NAME``) is the name the card loads it by."""
    record = check_run(run_dir)
    if repo_id is not None:
        check_repo_id(repo_id)
    run_dir, folder = Path(run_dir), Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        what = "is not empty" if folder.is_dir() else "is a file"
        raise ValueError(f"folder {folder} {what}: export into a new or empty folder.")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run_dir / MODEL_FILE, folder / MODEL_FILE)
    shutil.copyfile(run_dir / RECORD, folder / RECORD)
    unpack_keras(folder / MODEL_FILE, folder)
    save_curves(record, folder / CURVES)
    (folder / CARD).write_text(model_card(record, repo_id), encoding="utf-8")
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def unpack_keras(archive, folder) -> list:
    """Extract a ``.keras`` archive's members into ``folder``, the unzipped layout that
    ``keras.saving.load_model`` reads from a folder or an ``hf://`` repository."""
    with zipfile.ZipFile(archive) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        for name in names:
            path = PurePosixPath(name)
            if path.is_absolute() or ".." in path.parts:
                raise ValueError(f"{archive} holds an unsafe member name {name!r}.")
        missing = [m for m in KERAS_MEMBERS if m not in names]
        if missing:
            raise ValueError(f"{archive} is not a Keras 3 archive (no {', '.join(missing)}).")
        zf.extractall(folder, members=names)
    return names


def save_curves(record: dict, path) -> None:
    """The training curves of a run record as a PNG image."""
    from vitsd.book.plots import plot_history

    plot_history(record).savefig(path, dpi=100)


# ---------------------------------------------------------------------- the Hub
def _hf():
    """The ``huggingface_hub`` module, or a :class:`HubError` saying how to install it."""
    try:
        import huggingface_hub
        import huggingface_hub.errors
        import huggingface_hub.utils
    except ImportError:
        raise HubError("huggingface_hub is not installed: pip install \"vitsd[hub]\" "
                       "(or pip install huggingface_hub).") from None
    return huggingface_hub


#: A Hub repository id USER/NAME, by huggingface_hub's rules (``validate_repo_id``):
#: each part 1-96 ASCII letters, digits, '-', '_' or '.', not starting or ending with
#: '-' or '.'; no '--' or '..'; not ending with '.git'. Checked here without
#: huggingface_hub, so that exporting a run needs it no more than the card does.
_REPO_ID = re.compile(r"(\b[\w\-.]{1,96}\b)/(\b[\w\-.]{1,96}\b)", re.ASCII)


def check_repo_id(repo_id, name: str = "repo_id") -> str:
    """``repo_id`` if it is a Hub model repository id ``USER/NAME``, else ValueError."""
    ok = (isinstance(repo_id, str) and _REPO_ID.fullmatch(repo_id) is not None
          and "--" not in repo_id and ".." not in repo_id and not repo_id.endswith(".git"))
    if not ok:
        raise ValueError(f"{name} must be a Hub repository id USER/NAME (letters, digits, "
                         f"'-', '_', '.'), got {repo_id!r}.")
    return repo_id


@contextlib.contextmanager
def _hub_errors(repo_id: str, action: str):
    """Turn what ``huggingface_hub`` raises into a :class:`HubError` that says what to do."""
    errors = _hf().errors
    try:
        yield
    except errors.OfflineModeIsEnabled as err:
        raise HubError(f"cannot {action}: HF_HUB_OFFLINE is set; unset it to reach the "
                       "Hugging Face Hub.") from err
    except errors.RepositoryNotFoundError as err:
        raise HubError(f"cannot {action}: there is no model repository {repo_id} on the "
                       "Hugging Face Hub, or it is private and no token can read it: check "
                       f"the name, or {_token_help('read')}.") from err
    except errors.LocalEntryNotFoundError as err:
        raise HubError(f"cannot {action}: the Hugging Face Hub cannot be reached (no network, "
                       f"or HF_HUB_OFFLINE=1) and {repo_id} is not in the local cache; "
                       "connect to the network, or pass the path of a downloaded "
                       "folder.") from err
    except errors.HfHubHTTPError as err:
        status = getattr(err.response, "status_code", None)
        if status in (401, 403):
            raise HubError(f"cannot {action}: the Hugging Face Hub refused the token (HTTP "
                           f"{status}); {_token_help()}.") from err
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise HubError(f"cannot {action}: the Hugging Face Hub answered {first}; try again "
                       "later.") from err
    except Exception as err:
        if not _is_connection_error(err):
            raise
        raise HubError(f"cannot {action}: the Hugging Face Hub cannot be reached "
                       f"({type(err).__name__}: {err}); check the network connection.") from err


def _is_connection_error(err: Exception) -> bool:
    """A failure to reach the server, from the HTTP client under ``huggingface_hub``."""
    package = type(err).__module__.split(".")[0]
    return isinstance(err, (ConnectionError, TimeoutError)) or package in (
        "httpx2", "httpx", "httpcore", "requests", "urllib3")


def push(run_dir, repo_id: str, *, private: bool | None = None, token: str | None = None,
         commit_message: str | None = None) -> dict:
    """Upload a finished run to the Hub model repository ``repo_id`` (``USER/NAME``,
    created if needed): the files :func:`export` writes, and nothing else.

    The token is ``token``, else ``HF_TOKEN``, else the one ``hf auth login`` stored.
    Returns ``{"repo_id", "url", "commit_url", "files"}``.
    """
    record = check_run(run_dir)
    check_repo_id(repo_id)
    hf = _hf()
    token = token or hf.get_token()
    if not token:
        raise HubError(f"no Hugging Face token to push to {repo_id}: {_token_help()}.")
    message = commit_message or (
        f"vitsd run: {record['model']} on {hub_dataset(record)[1]}, test top-1 "
        f"{_fmt(record['test']['top1'])}")
    api = hf.HfApi(token=token, library_name="vitsd", library_version=vitsd.__version__)
    with tempfile.TemporaryDirectory(prefix="vitsd-hub-") as tmp:
        folder = Path(tmp) / "repo"
        files = export(run_dir, folder, repo_id=repo_id)
        with _hub_errors(repo_id, f"push to {repo_id}"):
            url = api.create_repo(repo_id, private=private, repo_type="model", exist_ok=True)
            commit = api.upload_folder(repo_id=url.repo_id, folder_path=folder,
                                       repo_type="model", commit_message=message)
    return {"repo_id": url.repo_id, "url": str(url),
            "commit_url": getattr(commit, "commit_url", str(commit)), "files": files}


def download(repo_id: str, token: str | None = None) -> Path:
    """The local snapshot folder of a Hub repository (from the cache when it is there).

    Fetches ``model.keras`` and ``run.json`` only; a repository without ``model.keras``
    (one that Keras' own ``model.save("hf://...")`` wrote) is fetched whole.
    """
    check_repo_id(repo_id, "source")
    hf = _hf()
    kwargs = dict(repo_id=repo_id, repo_type="model", token=token, library_name="vitsd",
                  library_version=vitsd.__version__)
    with _hub_errors(repo_id, f"download {repo_id}"):
        folder = Path(hf.snapshot_download(allow_patterns=[MODEL_FILE, RECORD], **kwargs))
        if not (folder / MODEL_FILE).is_file():
            folder = Path(hf.snapshot_download(**kwargs))
    return folder


def locate(source, token: str | None = None) -> Path:
    """The local file or folder behind ``source``: an existing path as it is; an
    ``hf://USER/NAME`` address or a repository id ``USER/NAME`` downloaded."""
    text = os.fspath(source) if isinstance(source, os.PathLike) else source
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"source must be a repository id USER/NAME, an hf:// address, a "
                         f"folder or a .keras file, got {source!r}.")
    if text.startswith("hf://"):
        return download(text[len("hf://"):], token)
    if os.path.exists(text):
        return Path(text)
    if text.count("/") == 1 and not text.startswith((".", "/")):
        return download(text, token)
    raise FileNotFoundError(f"source {text!r} is neither a file or folder here nor a Hub "
                            "repository id USER/NAME (or hf://USER/NAME).")


def load(source, token: str | None = None) -> Loaded:
    """The model behind ``source`` and its run record: ``Loaded(model, record)``.

    ``source`` is a Hub repository id ``USER/NAME`` or ``hf://USER/NAME`` (downloaded
    into the Hugging Face cache), a folder laid out as :func:`export` writes it or as
    Keras saves a model unzipped, or a ``.keras`` file (its record is the ``run.json``
    beside it, as in a run folder). ``record`` is ``None`` when there is no run.json.
    """
    path = locate(source, token)  # before importing Keras: a wrong source fails at once
    folder = path if path.is_dir() else path.parent
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            path = path / MODEL_FILE
        elif not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} holds no {MODEL_FILE} and no config.json: pass "
                                    "a folder that vitsd exported or Keras saved a model in.")
    elif path.suffix != ".keras":
        raise ValueError(f"source {path} is a file but not a .keras model: pass a .keras "
                         "file, a folder or a repository id USER/NAME.")
    record = json.loads((folder / RECORD).read_text()) if (folder / RECORD).is_file() else None
    from vitsd.models import load_model

    return Loaded(load_model(path), record)


def evaluate(source, dataset: str | None = None, limit: int | None = None,
             verbose: int | str = "auto", token: str | None = None, data=None) -> dict:
    """Load ``source`` (as :func:`load`) and score it on a dataset's test split.

    ``dataset`` defaults to the one in the model's run record (with the record's
    ``limit`` unless ``limit`` is given). Returns ``{"model", "dataset", "limit",
    "test": {"loss", "top1", "top5"}}``.
    """
    from vitsd.config import Config
    from vitsd.data import load_dataset

    model, record = load(source, token)
    from vitsd.training.runner import evaluate_model

    if dataset is None:
        if record is None:
            raise ValueError(f"dataset: {source} has no {RECORD} to say what it was trained "
                             "on; pass --dataset NAME.")
        dataset = record["dataset"]["name"]
        limit = limit if limit is not None else record["dataset"].get("limit")
    if record is not None:
        config = Config.from_dict(record["config"])
    else:
        config = Config(input_shape=tuple(model.input_shape[1:]),
                        num_classes=int(model.output_shape[-1]))
    if data is None:
        data = load_dataset(dataset, limit=limit, seed=config.seed)
    check_fits(model, record, data, dataset)
    return {"model": str(source), "dataset": str(dataset), "limit": limit,
            "test": evaluate_model(model, config, data, verbose=verbose)}


def check_fits(model, record: dict | None, data, dataset) -> None:
    """ValueError unless ``data``'s images and classes are those ``model`` was built for."""
    outputs, shape = int(model.output_shape[-1]), tuple(model.input_shape[1:])
    trained_on = f" (it was trained on {record['dataset']['name']})" if record else ""
    if len(data.class_names) != outputs:
        raise ValueError(f"dataset {dataset} has {len(data.class_names)} classes but the model "
                         f"predicts {outputs}{trained_on}: pass the dataset it was trained on.")
    if tuple(data.x_test.shape[1:]) != shape:
        raise ValueError(f"dataset {dataset} has {_shape(data.x_test.shape[1:])} images but the "
                         f"model takes {_shape(shape)}{trained_on}: pass the dataset it was "
                         "trained on.")
    names = record["dataset"].get("class_names") if record else None
    if names and list(names) != [str(c) for c in data.class_names]:
        raise ValueError(f"dataset {dataset} names its classes differently from the model's "
                         f"run record{trained_on}: pass the dataset it was trained on.")
