"""Sharing a trained model on the Hugging Face Hub (taught in chapter 8, "Going further").

A finished run folder (see :mod:`vitsd.train`) becomes a model repository:

    README.md          the model card, generated from the run record
    run.json           the run record, as the run wrote it
    curves.png         the training curves (:func:`vitsd.plots.plot_history`)
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
* :func:`model_card` is the card's text, a function of the run record alone.

``huggingface_hub`` is an optional dependency (``pip install "vitsd[hub]"``). Problems
with the Hub -- no token, no network, no such repository -- raise :class:`HubError` with
a one-line message that says what to do. This module imports Keras only to load or
evaluate a model.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import vitsd
from vitsd.config import MODELS

#: The files of a run folder that are shared (the names :mod:`vitsd.train` writes).
RECORD = "run.json"
MODEL_FILE = "model.keras"
#: The files :func:`export` adds.
CARD = "README.md"
CURVES = "curves.png"
#: The members of a ``.keras`` archive, unpacked beside it for Keras' ``hf://`` loader.
KERAS_MEMBERS = ("config.json", "metadata.json", "model.weights.h5")

#: The license of vitsd (pyproject.toml), under which the weights are shared by default.
LICENSE = "apache-2.0"
#: Where vitsd is installed from.
REPOSITORY = "https://github.com/vitsd/vitsd"
#: The paper that introduced SPT and LSA (as in book/references.bib).
CITATION = """@misc{lee2021vision,
  title         = {{Vision Transformer for Small-Size Datasets}},
  author        = {Lee, Seung Hoon and Lee, Seunghyun and Song, Byung Cheol},
  year          = {2021},
  howpublished  = {arXiv:2112.13492},
  url           = {https://arxiv.org/abs/2112.13492}
}"""

#: vitsd dataset name -> (Hub dataset id, name, the Hub split the test images come from).
#: ``cifar10-jpeg`` scores on 5,000 images held out of CIFAR-10's training split.
HUB_DATASETS = {
    "cifar100": ("uoft-cs/cifar100", "CIFAR-100", "test"),
    "cifar10": ("uoft-cs/cifar10", "CIFAR-10", "test"),
    "cifar10-jpeg": ("uoft-cs/cifar10", "CIFAR-10 (JPEG), hold-out of the training split",
                     "train"),
}

_TOKENIZERS = {
    "patches": "plain patches (a linear projection of non-overlapping patches)",
    "spt": "Shifted Patch Tokenization (SPT)",
    "conv": "a convolutional stem (Xiao et al. 2021, arXiv 2106.14881)",
}


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
    from vitsd.plots import plot_history

    plot_history(record).savefig(path, dpi=100)


# -------------------------------------------------------------------- the card
def model_card(record: dict, repo_id: str | None = None) -> str:
    """The model card (``README.md``) of a run record: YAML metadata for the Hub, then
    what the model is, its intended uses and limitations, the training procedure, the
    results, the curves, the environment, how to load it and the citation."""
    repo = repo_id or "USER/NAME"
    sections = [
        _title(record, repo_id), _description(record), _uses(record), _procedure(record),
        _results(record), _curves(), _environment(record), _usage(record, repo),
        _files(), _citation(),
    ]
    return f"---\n{card_metadata(record, repo_id)}\n---\n\n" + "\n\n".join(sections) + "\n"


def card_html(record: dict, repo_id: str | None = None) -> str:
    """The model card of :func:`model_card` rendered to HTML for a notebook (chapter 7),
    without its YAML front matter and without the curves image (a file of the pushed
    folder); the front matter is shown as a code block above the card."""
    from html import escape

    from markdown_it import MarkdownIt

    card = model_card(record, repo_id)
    _, front, body = card.split("---\n", 2)
    body = "\n".join(line for line in body.splitlines() if not line.startswith("!["))
    rendered = MarkdownIt("commonmark").enable("table").render(body)
    return (f"<pre>---\n{escape(front)}---</pre>\n"
            f'<div class="vitsd-model-card">{rendered}</div>')


def card_metadata(record: dict, repo_id: str | None = None) -> str:
    """The card's YAML front matter: library, license, tags, datasets and the test
    metrics as a ``model-index`` (built with ``huggingface_hub.ModelCardData``)."""
    hf = _hf()
    hub_id, dataset_name, split = hub_dataset(record)
    tokenizer, lsa = _switches(record)
    tags = ["vitsd", "vision-transformer", "image-classification", record["model"],
            "arxiv:2112.13492"]
    if tokenizer == "spt":
        tags.append("shifted-patch-tokenization")
    if lsa:
        tags.append("locality-self-attention")
    test = record["test"]
    result = {"task_type": "image-classification", "task_name": "Image Classification",
              "dataset_type": hub_id or f"vitsd-{_folder_name(_dataset_key(record))}",
              "dataset_name": dataset_name,
              "dataset_split": split}
    data = hf.ModelCardData(
        library_name="keras",
        license=LICENSE,
        pipeline_tag="image-classification",
        tags=tags,
        datasets=[hub_id] if hub_id else None,
        metrics=["accuracy"],
        model_name=repo_id.split("/")[-1] if repo_id else record["model"],
        eval_results=[
            hf.EvalResult(**result, metric_type="accuracy", metric_value=_round(test["top1"]),
                          metric_name="Test top-1 accuracy"),
            hf.EvalResult(**result, metric_type="top_5_accuracy",
                          metric_value=_round(test["top5"]), metric_name="Test top-5 accuracy"),
        ],
    )
    return data.to_yaml()


def hub_dataset(record: dict) -> tuple:
    """``(Hub dataset id or None, dataset name, split)`` of the images a run was tested
    on. The built-in ``sample`` and image folders are not on the Hub."""
    key = _dataset_key(record)
    if key in HUB_DATASETS:
        return HUB_DATASETS[key]
    if key == "sample":
        return None, "the vitsd sample dataset (synthetic coloured shapes)", "test"
    return None, f"the image folder {_folder_name(key)}", "test"


def _folder_name(path: str) -> str:
    """The last part of a dataset folder's path (the card does not show local paths)."""
    return os.path.basename(os.path.normpath(path)) or path


def _dataset_key(record: dict) -> str:
    from vitsd.data import CIFAR10_JPEG

    name = str(record["dataset"]["name"])
    return "cifar10-jpeg" if os.path.basename(name) == CIFAR10_JPEG else name


def _switches(record: dict) -> tuple:
    return MODELS.get(record["model"], ("patches", False))


def _title(record: dict, repo_id: str | None) -> str:
    _, dataset_name, _ = hub_dataset(record)
    test = record["test"]
    name = repo_id or record["model"]
    return (f"# {name}\n\n"
            f"A Vision Transformer for small datasets, variant `{record['model']}`, trained "
            f"with [vitsd]({REPOSITORY}) on {dataset_name}: test top-1 accuracy "
            f"{_fmt(test['top1'])}, top-5 {_fmt(test['top5'])} after "
            f"{record['epochs_completed']} epochs. This card is generated from the run "
            f"record (`{RECORD}`).")


def _description(record: dict) -> str:
    config, params = record["config"], record["parameters"]
    tokenizer, lsa = _switches(record)
    size, patch = config["image_size"], config["patch_size"]
    grid = size // patch
    rows = [
        ("Variant", f"`{record['model']}`"),
        ("Shifted Patch Tokenization (SPT)", "on" if tokenizer == "spt" else "off"),
        ("Locality Self-Attention (LSA)", "on" if lsa else "off"),
        ("Tokenizer", _TOKENIZERS.get(tokenizer, tokenizer)),
        ("Parameters", f"{params['total']:,} ({params['trainable']:,} trainable)"),
        ("Input", f"{_shape(config['input_shape'])} images, raw 0-255 pixel values "
                  "(normalised inside the model)"),
        ("Tokens", ("" if [size, size] == list(config["input_shape"][:2]) else
                    f"resized to {size}x{size}, ")
                   + f"{patch}x{patch} patches: {grid * grid} tokens"
                   + (" + a class token" if config["pooling"] == "class_token" else "")),
        ("Encoder", f"{config['num_layers']} transformer blocks of width "
                    f"{config['projection_dim']}, {config['num_heads']} heads"),
        ("Output", f"logits over {config['num_classes']} classes"),
    ]
    return ("## Model description\n\n"
            "A ViT built by `vitsd.build_named`. Lee, Lee & Song (2021) add two switches "
            "to the plain ViT for small datasets: Shifted Patch Tokenization (SPT) "
            "tokenizes the image together with four diagonally shifted copies, widening "
            "each token's receptive field; Locality Self-Attention (LSA) masks each "
            "token's attention to itself and learns the softmax temperature, sharpening "
            "attention. This model's switches:\n\n"
            + _table(("Property", "Value"), rows))


def _uses(record: dict) -> str:
    config, splits, ds = record["config"], record["splits"], record["dataset"]
    key = _dataset_key(record)
    _, dataset_name, split = hub_dataset(record)
    data = (f"It was trained on {splits['train']:,} images of {dataset_name}, in "
            f"{ds['num_classes']} classes, with {splits['validation']:,} more held out for "
            f"validation, and tested on {splits['test']:,} images")
    data += f" from the {split} split." if split != "test" else "."
    if ds.get("limit"):
        data += (f" The run kept at most {ds['limit']:,} images per split (a stratified "
                 "subset), far fewer than the whole dataset.")
    if key == "sample":
        data += (" `sample` is vitsd's built-in synthetic dataset of coloured shapes: these "
                 "numbers say nothing about photographs.")
    timing = record.get("timing") or {}
    budget = (f"{record['epochs_completed']} epochs of batch {config['batch_size']}"
              + (f", {_duration(timing['train_seconds'])} of training"
                 if timing.get("train_seconds") else "")
              + f" on {record['environment'].get('device') or 'an unrecorded device'}")
    return "\n".join([
        "## Intended uses & limitations", "",
        "For teaching and research on Vision Transformers for small datasets: a "
        "baseline, a point of comparison for the SPT/LSA ablation, a model whose "
        "attention can be inspected (the vitsd book). It is not meant for applications "
        "or for decisions about people.", "",
        f"* **Data.** {data} It knows only these classes at "
        f"{_shape(config['input_shape'])}; any other image still gets one of them.",
        f"* **Training budget.** {budget}. Another budget or recipe gives other numbers, "
        "and can change how the variants compare.",
        f"* **A single seed.** One run, seed {config['seed']}: there is no estimate of the "
        "run-to-run spread, and differences of about a point of accuracy between models "
        "can be noise.",
        f"* **Model selection.** The weights are those of the epoch with the best "
        f"validation accuracy (epoch {record.get('best_epoch')} of "
        f"{record['epochs_completed']}).",
    ])


def _procedure(record: dict) -> str:
    config = record["config"]
    schedule = {
        "warmup_cosine": f"a linear warmup over the first {config['warmup_fraction']:.0%} of "
                         "the steps, then a cosine decay",
        "constant": "a constant learning rate",
        "triangular": "the triangular cyclical policy",
    }.get(config["schedule"], config["schedule"])
    rows = [(f"`{name}`", _cell(value)) for name, value in config.items()]
    return (f"## Training procedure\n\n"
            f"Trained with `vitsd.train.train` (`python -m vitsd train --model "
            f"{record['model']} ...`): AdamW (learning rate {_num(config['learning_rate'])}, "
            f"weight decay {_num(config['weight_decay'])}) following {schedule}, "
            f"{config['epochs']} epochs, keeping the weights of the best validation epoch. "
            "Every hyperparameter, as the run record holds it (`vitsd.Config`):\n\n"
            + _table(("Hyperparameter", "Value"), rows))


def _results(record: dict) -> str:
    test, hist, splits = record["test"], record["history"], record["splits"]
    _, _, split = hub_dataset(record)
    rows = [("test" if split == "test" else f"test (hold-out of {split})", f"{splits['test']:,}",
             _fmt(test["top1"]), _fmt(test["top5"]), _fmt(test["loss"]))]
    best = record.get("best_epoch")
    if best and hist.get("val_accuracy"):
        i = best - 1
        rows.append((f"validation (epoch {best})", f"{splits['validation']:,}",
                     _fmt(hist["val_accuracy"][i]), _fmt(_at(hist, "val_top5", i)),
                     _fmt(_at(hist, "val_loss", i))))
    return ("## Results\n\n"
            + _table(("Split", "Images", "Top-1 accuracy", "Top-5 accuracy", "Loss"), rows)
            + f"\n\nBest epoch: {best} of {record['epochs_completed']} (highest validation "
            "top-1 accuracy); the test row is measured with its weights.")


def _curves() -> str:
    return ("## Training curves\n\n"
            f"![Loss, top-1 and top-5 accuracy per epoch, training (solid) and validation "
            f"(dashed)]({CURVES})")


def _environment(record: dict) -> str:
    env, timing = record["environment"], record.get("timing") or {}
    rows = [
        ("Device", env.get("device")),
        ("Backend", f"{env.get('backend')} {env.get('backend_version')}"),
        ("Keras", env.get("keras")),
        ("vitsd", env.get("vitsd")),
        ("Python", env.get("python")),
        ("Platform", env.get("platform")),
    ]
    if timing.get("train_seconds"):
        speed = timing.get("train_images_per_second")
        rows.append(("Training time", _duration(timing["train_seconds"])
                     + (f" ({speed:,.0f} images/s)" if speed else "")))
    if record.get("resumed_at_epochs"):
        rows.append(("Resumed after epochs", ", ".join(map(str, record["resumed_at_epochs"]))))
    return "## Environment\n\n" + _table(("What", "Value"), rows)


def _usage(record: dict, repo: str) -> str:
    shape = ", ".join(map(str, record["config"]["input_shape"]))
    return f"""## How to use

With vitsd installed (`pip install "vitsd[hub] @ git+{REPOSITORY}"`), in two lines:

```python
import keras, vitsd  # importing vitsd registers its layers with Keras
model = keras.saving.load_model("hf://{repo}")
```

The model maps raw images, shape `(batch, {shape})` with values 0-255, to logits;
`keras.ops.argmax(model(images), axis=-1)` gives class indices, named in order by
`record["dataset"]["class_names"]`. The model and its run record together:

```python
from vitsd import hub
model, record = hub.load("{repo}")
```

Evaluate it again on its test split: `{_evaluate_command(record, repo)}`."""


def _evaluate_command(record: dict, repo: str) -> str:
    dataset = _folder_name(_dataset_key(record))
    command = f"python -m vitsd evaluate --model hf://{repo} --dataset {dataset}"
    limit = record["dataset"].get("limit")
    return command + (f" --limit {limit}" if limit else "")


def _files() -> str:
    rows = [
        (f"`{MODEL_FILE}`", "the model, a Keras 3 archive"),
        (", ".join(f"`{m}`" for m in KERAS_MEMBERS),
         "the same model unpacked, as `keras.saving.load_model(\"hf://...\")` reads it"),
        (f"`{RECORD}`", "the run record: config, dataset, per-epoch history, test metrics, "
                        "environment, timing"),
        (f"`{CURVES}`", "the training curves above"),
    ]
    return "## Files\n\n" + _table(("File", "Contents"), rows)


def _citation() -> str:
    return ("## Citation\n\n"
            "SPT and LSA come from Lee, Lee & Song, \"Vision Transformer for Small-Size "
            "Datasets\", arXiv 2112.13492 (2021):\n\n"
            f"```bibtex\n{CITATION}\n```")


# ------------------------------------------------------------------ formatting
def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _fmt(value) -> str:
    """A metric with four decimals."""
    return "n/a" if value is None else f"{value:.4f}"


def _num(value) -> str:
    """A hyperparameter as written in prose: 0.001, 0.0001, 0.1."""
    return f"{value:g}"


def _round(value: float) -> float:
    return round(float(value), 4)


def _at(history: dict, key: str, i: int):
    values = history.get(key) or []
    return values[i] if i < len(values) else None


def _shape(shape) -> str:
    return "x".join(map(str, shape))


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"


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


def check_repo_id(repo_id, name: str = "repo_id") -> str:
    """``repo_id`` if it is a Hub model repository id ``USER/NAME``, else ValueError."""
    hf = _hf()
    ok = isinstance(repo_id, str) and repo_id.count("/") == 1 and all(repo_id.split("/"))
    if ok:
        try:
            hf.utils.validate_repo_id(repo_id)
        except hf.errors.HFValidationError:
            ok = False
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
    from vitsd.model import load_model

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
    from vitsd.train import evaluate_model

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
