"""The model card of a shared run (chapter 8, "Going further"): the ``README.md`` of a
Hugging Face Hub repository -- its metadata block (license, tags, dataset, metrics) and
its text (the variant and its SPT/LSA switches, intended uses and limitations, every
hyperparameter, results, environment, how to load it, the citation of the SPT/LSA
paper) -- a function of the run record alone. :mod:`vitsd.sharing.hub` writes it.
"""

from __future__ import annotations

import json
import os
import re

from vitsd.config import MODELS

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


def card_summary_html(record: dict, repo_id: str | None = None) -> str:
    """The model card collapsed for a notebook page (chapter 7): the key lines -- the
    variant and its switches, the data, parameters, epochs, the test accuracy and the
    two lines that load it -- as a short two-column table, then the whole card as
    :func:`model_card` writes it (its Markdown source, YAML front matter included) inside
    a closed ``<details>``: nothing of it becomes a heading of the page."""
    from html import escape

    repo = repo_id or "USER/NAME"
    tokenizer, lsa = _switches(record)
    _, dataset_name, _ = hub_dataset(record)
    test, splits = record["test"], record["splits"]
    rows = [
        ("variant", f"{record['model']} (tokenizer: {tokenizer}, LSA: {'yes' if lsa else 'no'})"),
        ("trained on", f"{dataset_name}, {splits['train']:,} images, "
                       f"{record['epochs_completed']} epochs, seed {record['config']['seed']}"),
        ("parameters", f"{record['parameters']['total']:,}"),
        ("test", f"top-1 {100 * test['top1']:.2f}%, top-5 {100 * test['top5']:.2f}% on "
                 f"{splits['test']:,} images"),
        ("load it", f'keras.saving.load_model("hf://{repo}") after import vitsd'),
    ]
    table = "".join(f"<tr><th style=\"text-align:left;padding-right:0.8em\">{escape(k)}</th>"
                    f'<td style="overflow-wrap:anywhere">{escape(v)}</td></tr>' for k, v in rows)
    return (f'<div class="vitsd-model-card"><table>{table}</table>\n'
            "<details><summary>The whole card, as <code>push</code> writes it "
            "(Markdown)</summary>\n"
            '<pre style="white-space:pre-wrap;overflow-wrap:anywhere">'
            f"{escape(model_card(record, repo_id))}</pre></details></div>")


def card_metadata(record: dict, repo_id: str | None = None) -> str:
    """The card's YAML front matter: library, license, tags, datasets and the test
    metrics as a ``model-index`` -- the block ``huggingface_hub.ModelCardData`` writes,
    written here without it (``huggingface_hub`` is needed only to push and pull)."""
    hub_id, dataset_name, split = hub_dataset(record)
    tokenizer, lsa = _switches(record)
    tags = ["vitsd", "vision-transformer", "image-classification", record["model"],
            "arxiv:2112.13492"]
    if tokenizer == "spt":
        tags.append("shifted-patch-tokenization")
    if lsa:
        tags.append("locality-self-attention")
    test = record["test"]
    dataset = {"name": dataset_name,
               "type": hub_id or f"vitsd-{_folder_name(_dataset_key(record))}",
               "split": split}
    metrics = [{"type": "accuracy", "value": _round(test["top1"]),
                "name": "Test top-1 accuracy"},
               {"type": "top_5_accuracy", "value": _round(test["top5"]),
                "name": "Test top-5 accuracy"}]
    # The keys in ModelCardData's order; the Hub reads the model-index of
    # huggingface.co/docs/hub/model-cards.
    metadata = {
        **({"datasets": [hub_id]} if hub_id else {}),
        "library_name": "keras",
        "license": LICENSE,
        "metrics": ["accuracy"],
        "pipeline_tag": "image-classification",
        "tags": tags,
        "model-index": [{
            "name": repo_id.split("/")[-1] if repo_id else record["model"],
            "results": [{"task": {"type": "image-classification",
                                  "name": "Image Classification"},
                         "dataset": dataset, "metrics": metrics}],
        }],
    }
    return "\n".join(_yaml_lines(metadata, 0))


def _yaml_lines(value, indent: int) -> list:
    """``value`` (dicts, lists, strings, numbers) as YAML block lines, laid out as
    PyYAML's ``yaml.dump(..., sort_keys=False)`` lays them out: a list under a key at
    the key's indent, a dict two spaces in."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines += _yaml_lines(item, indent + 2 if isinstance(item, dict) else indent)
            else:
                lines.append(f"{pad}{key}: {_yaml_scalar(item, indent + len(key) + 2)}")
        return lines
    for item in value:
        if isinstance(item, (dict, list)) and item:
            first, *rest = _yaml_lines(item, indent + 2)
            lines += [f"{pad}- {first.lstrip()}", *rest]
        else:
            lines.append(f"{pad}- {_yaml_scalar(item, indent + 2)}")
    return lines


#: A string YAML reads back as the same string when written bare: a letter, then
#: letters, digits, spaces and ``._/()+,-``, or a colon not followed by a space.
_PLAIN = re.compile(r"[A-Za-z](?:[A-Za-z0-9 ._/()+,-]|:(?=[^ ]))*(?<! )")
#: Bare words YAML 1.1 reads as booleans or null.
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _yaml_scalar(value, column: int) -> str:
    """One YAML scalar: bare where that reads back the same and fits in 80 columns (as
    PyYAML writes it), else double-quoted (JSON's quoting is valid YAML)."""
    if isinstance(value, (bool, list, dict)) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if (value.lower() not in _RESERVED and column + len(value) <= 80
            and _PLAIN.fullmatch(value)):
        return value
    return json.dumps(value, ensure_ascii=False)


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


#: The files of a run folder that are shared (the names :mod:`vitsd.training.runner` writes).
RECORD = "run.json"


MODEL_FILE = "model.keras"


#: The files :func:`export` adds.
CARD = "README.md"


CURVES = "curves.png"


#: The members of a ``.keras`` archive, unpacked beside it for Keras' ``hf://`` loader.
KERAS_MEMBERS = ("config.json", "metadata.json", "model.weights.h5")
