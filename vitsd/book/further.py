"""Chapter 8 ("Going further: the paper's recipe, and speed"): its demonstration run of
the paper recipe, the captions of its augmentation and mixing figures as tables, the
recorded speed benchmarks, and the published campaigns, one table per dataset.

Imports neither Keras nor a backend at import time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from vitsd.book.stats import standard_error


# ---------------------------------------------------------------- the figures
def caption_rows(names, captions, columns) -> list:
    """The captions of an augmented-batch figure as table rows: one row per image
    (``names``: what the image shows, e.g. its class; "_" shown as a space), one column
    per augmented row of the figure (``columns``: its titles; ``captions``: one list of
    strings per column, one string per image). Line breaks in a caption become "; "."""
    names = list(names)
    captions = [list(c) for c in captions]
    columns = list(columns)
    if len(captions) != len(columns):
        raise ValueError(f"one column title per caption list: {len(columns)} titles for "
                         f"{len(captions)} lists.")
    for c in captions:
        if len(c) != len(names):
            raise ValueError(f"every caption list needs one caption per image "
                             f"({len(names)}), got {len(c)}.")
    return [{"image": str(name).replace("_", " "),
             **{col: str(c[i]).replace("\n", "; ") for col, c in
                               zip(columns, captions)}}
            for i, name in enumerate(names)]


def label_mix(labels, class_names, top: int = 2, smallest: float = 0.005) -> list:
    """The ``top`` largest weights of each soft label row with their class names, e.g.
    ``"0.62 apple, 0.38 bear"`` (weights below ``smallest`` are left out; "_" in a
    class name shown as a space)."""
    import numpy as np

    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2 or labels.shape[1] != len(class_names):
        raise ValueError(f"labels must be (batch, {len(class_names)}), got {labels.shape}.")
    out = []
    for row in labels:
        order = np.argsort(row, kind="stable")[::-1][:top]
        out.append(", ".join(f"{row[k]:.2f} {str(class_names[k]).replace('_', ' ')}"
                             for k in order
                             if row[k] >= smallest))
    return out


# ------------------------------------------------------------ the recipe table
def recipe_rows(rows) -> list:
    """:func:`vitsd.training.paper_recipe.comparison`'s rows as the chapter's three
    columns: ``item``, ``official code`` (with its file and lines) and ``vitsd, as
    built`` (what was measured; "✗ " in front where it differs from the official
    code)."""
    return [{"item": r["item"], "official code": r["official code"],
             "vitsd, as built": ("" if r["agrees"] else "✗ ") + r["vitsd"]} for r in rows]


# --------------------------------------------------------------- the demo run
def train_paper_run(model: str, config, *, dataset, size: str, epochs: int, limit=None,
                    batch_size: int | None = None, seed: int = 42, runs_dir="runs/book",
                    data=None) -> dict:
    """Train ``model`` with ``config`` (chapter 8's paper-recipe run) quietly -- or
    return the finished run its folder (:func:`vitsd.book.run_folder`) already holds --
    and return its run record plus a ``"book"`` entry: ``run_dir`` and ``reused``
    (True when nothing was trained in this execution), as the run card reads them."""
    from vitsd.book.runs import run_folder
    from vitsd.training.records import RECORD
    from vitsd.training.runner import train

    folder = run_folder(runs_dir, model, dataset=dataset, size=f"paper-{size}", epochs=epochs,
                        limit=limit, batch_size=batch_size, seed=seed, config=config)
    reused = False
    if (folder / RECORD).is_file():
        try:
            reused = json.loads((folder / RECORD).read_text()).get("status") == "complete"
        except (OSError, ValueError):
            reused = False
    record = train(model, out=folder, config=config, data=data, limit=limit, verbose=0)
    return {**record, "book": {"run_dir": folder.as_posix(), "reused": reused}}


def run_facts(record) -> dict:
    """What one run did and reached, for a chapter's table and glued prose:
    ``epochs``, ``train_images``, ``validation_images``, ``test_images``,
    ``parameters`` (trainable), ``minutes`` (training), ``best_epoch``,
    ``validation_top1``, ``test_top1``, ``test_top5`` (fractions), ``chance`` (one over
    the number of classes), ``test_standard_error`` (of ``test_top1``, binomial) and
    ``trained`` (False when the run was reused)."""
    splits = record["splits"]
    history = record.get("history", {})
    best = record.get("best_epoch")
    val = history.get("val_accuracy") or []
    num_classes = (record.get("dataset") or {}).get("num_classes") or \
        (record.get("config") or {}).get("num_classes")
    return {
        "epochs": record["epochs_completed"],
        "train_images": splits["train"],
        "validation_images": splits.get("validation", 0),
        "test_images": splits["test"],
        "parameters": record["parameters"]["trainable"],
        "minutes": (record.get("timing") or {}).get("train_seconds", 0.0) / 60,
        "best_epoch": best,
        "validation_top1": (max(val) if val else float("nan")),
        "test_top1": record["test"]["top1"],
        "test_top5": record["test"]["top5"],
        "chance": 1 / num_classes if num_classes else float("nan"),
        # the binomial standard error of the test accuracy, in the same units
        "test_standard_error": standard_error(record["test"]["top1"], splits["test"]),
        "trained": not (record.get("book") or {}).get("reused", False),
    }


def run_rows(facts) -> list:
    """:func:`run_facts` as a short table: one row per split, its images and top-1 (%)."""
    return [
        {"split": "training", "images": facts["train_images"], "top-1 (%)": "–"},
        {"split": "validation (best epoch)", "images": facts["validation_images"],
         "top-1 (%)": 100 * facts["validation_top1"]},
        {"split": "test", "images": facts["test_images"], "top-1 (%)": 100 * facts["test_top1"]},
    ]


# -------------------------------------------------------------- benchmarks
def benchmark_rows(results_dir=None) -> tuple:
    """The recorded speed benchmarks (``benchmarks/speed.py``'s JSON files in
    ``<results_dir>/benchmarks``; where that folder does not exist -- a notebook
    executed outside the checkout -- the checkout's ``results/benchmarks``):
    ``(rows, machines)``, one row per model and file (``model``, ``reference img/s``,
    ``fast img/s``, ``ratio``), and the distinct machines (device, backend) they were
    measured on, for the prose."""
    from vitsd.sharing.published import RESULTS_DIR

    folder = Path(results_dir or RESULTS_DIR) / "benchmarks"
    if not folder.is_dir():
        folder = Path(RESULTS_DIR) / "benchmarks"
    rows, machines = [], []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        bench = json.loads(path.read_text())
        env = bench["environment"]
        machine = f"{env['device']}, {env['backend']} {env.get('backend_version', '')}".strip()
        if machine not in machines:
            machines.append(machine)
        for r in bench["results"]:
            rows.append({"model": r["model"],
                         "reference img/s": r.get("reference_images_per_second"),
                         "fast img/s": r.get("fast_images_per_second"),
                         "ratio": r.get("ratio")})
    return rows, machines


#: The recorded CPU run of the paper preset's SL-ViT that :func:`full_run_cost` reads
#: (``tools/reproduce.py --name``, committed in results/cpu-sanity/): 2 epochs on 2,000
#: CIFAR-10 photographs on a 2-core CPU, with an earlier version of the preset.
CPU_SANITY_RECORD = Path("cpu-sanity") / "cifar10-jpeg" / "paper-sl-vit.json"


def full_run_cost(config, train_images: int, results_dir=None) -> dict:
    """What the full run of ``config`` (the paper preset: its ``epochs``, batch size and
    passes per epoch) on ``train_images`` training images costs on a CPU, from the
    recorded CPU run of the paper's SL-ViT (:data:`CPU_SANITY_RECORD` under
    ``results_dir``, else the checkout's ``results/``): ``images_per_second`` (its
    training throughput), ``seconds_per_step`` (one batch of ``config.batch_size`` at
    that rate), ``steps`` (of the full run), ``hours`` and ``days`` (the steps at that
    rate), ``device``, ``record`` (its path under results/), ``record_parameters``
    (trainable) and ``record_images`` (training images of the recorded run). Where the
    record is not on this machine (a notebook opened outside the checkout) every number
    is NaN and ``device`` and ``record`` are ``None``."""
    from vitsd.data.sampler import steps_per_epoch
    from vitsd.sharing.published import RESULTS_DIR

    if not isinstance(train_images, int) or train_images <= 0:
        raise ValueError(f"train_images must be a positive number of images, got "
                         f"{train_images!r} (the paper's CIFAR-100 runs: 45,000 here).")
    steps = config.epochs * steps_per_epoch(train_images, config)
    path = Path(results_dir or RESULTS_DIR) / CPU_SANITY_RECORD
    if not path.is_file():
        path = Path(RESULTS_DIR) / CPU_SANITY_RECORD
    nan = float("nan")
    if not path.is_file():
        return {"images_per_second": nan, "seconds_per_step": nan, "steps": steps,
                "hours": nan, "days": nan, "device": None, "record": None,
                "record_parameters": nan, "record_images": nan}
    record = json.loads(path.read_text())
    rate = record["timing"]["train_images_per_second"]
    seconds = config.batch_size / rate
    return {"images_per_second": rate, "seconds_per_step": seconds, "steps": steps,
            "hours": steps * seconds / 3600, "days": steps * seconds / 86400,
            "device": record["environment"]["device"],
            "record": ("results" / CPU_SANITY_RECORD).as_posix(),
            "record_parameters": record["parameters"]["trainable"],
            "record_images": record["splits"]["train"]}


# ------------------------------------------------------ published campaigns
def published_campaigns(results_dir=None) -> dict:
    """``{dataset: {run name: record}}`` of every run :mod:`vitsd.sharing.published`
    lists, dataset by dataset -- whatever has been published. The files are read from
    ``results_dir`` where it is a folder, else found as
    :func:`~vitsd.sharing.published.fetch` finds them (the checkout, or a download)."""
    from vitsd.sharing import published

    where = {"results_dir": results_dir} if results_dir and Path(results_dir).is_dir() else {}
    datasets = sorted({name.split("/")[0] for name in published.published_runs()})
    return {d: published.load_records(d, **where) for d in datasets}


def campaign_rows(records) -> list:
    """One short row per published run: ``run``, ``training images``, ``epochs``,
    ``test top-1 (%)`` -- the dataset, the device and the software are the same within a
    campaign and go in the prose (:func:`campaign_facts`)."""
    return [{"run": name, "training images": r["splits"]["train"],
             "epochs": r["epochs_completed"], "test top-1 (%)": 100 * r["test"]["top1"]}
            for name, r in records.items()]


def campaign_facts(records) -> dict:
    """What the runs of one campaign share, for the prose: ``runs`` (how many),
    ``devices``, ``backends``, ``presets`` and ``test_images`` (distinct values,
    joined by " / "), ``gpu`` (how many ran on a GPU), ``pilots`` (runs marked as
    pilots), ``best`` and ``best_top1`` (the run with the highest test top-1, and that
    top-1 as a fraction), ``seeds`` (most seeds of one configuration: runs named
    ``<name>-s<seed>``), ``seed_spread`` (the largest top-1 range between such seeds, a
    fraction; None with one seed each) and ``standard_error`` (binomial, of a test
    top-1 at the campaign's mean)."""
    runs = list(records.values())
    envs = [r["environment"] for r in runs]

    def distinct(values):
        return " / ".join(dict.fromkeys(str(v) for v in values))

    best = max(records, key=lambda n: records[n]["test"]["top1"]) if records else None
    # runs that differ only in their seed ("<name>-s<seed>"), pilots left out
    groups = {}
    for name, r in records.items():
        if not (r.get("campaign") or {}).get("pilot"):
            groups.setdefault(re.sub(r"-s\d+$", "", name), []).append(r["test"]["top1"])
    spreads = [max(v) - min(v) for v in groups.values() if len(v) > 1]
    top1 = [r["test"]["top1"] for r in runs]
    mean = sum(top1) / len(top1) if top1 else float("nan")
    tests = [r["splits"]["test"] for r in runs]
    return {
        "runs": len(runs),
        "devices": distinct(e["device"] for e in envs),
        "backends": distinct(f"{e['backend']} {e.get('backend_version', '')}".strip()
                             for e in envs),
        "test_images": distinct(f"{r['splits']['test']:,}" for r in runs),
        "gpu": sum("GPU" in str(e["device"]) for e in envs),
        "pilots": sum(bool((r.get("campaign") or {}).get("pilot")) for r in runs),
        "presets": distinct((r.get("campaign") or {}).get("preset", r.get("recipe", "?"))
                            for r in runs),
        "best": best,
        "best_top1": records[best]["test"]["top1"] if best else float("nan"),
        "seeds": max((len(v) for v in groups.values()), default=0),
        "seed_spread": max(spreads) if spreads else None,
        "standard_error": standard_error(mean, min(tests)) if tests else float("nan"),
    }


def campaigns_summary(campaigns) -> dict:
    """For :func:`published_campaigns`' result: ``{"facts": {dataset: campaign_facts},
    "titles": {dataset: table title}, "glue": {name: value}}`` -- the glue names are
    ``<dataset>_runs``, ``_pilots``, ``_seeds``, ``_spread``, ``_se``, ``_best`` (a run's
    name) and ``_best_top1`` (points; ``-`` written ``_``), ``all_runs`` and
    ``gpu_runs``."""
    facts = {d: campaign_facts(r) for d, r in campaigns.items()}
    titles = {d: (f"{d}: {f['runs']} published runs, recipe {f['presets']}, tested on "
                  f"{f['test_images']} images; {f['devices']}, {f['backends']}")
              for d, f in facts.items()}
    glue = {}
    for d, f in facts.items():
        key = d.replace("-", "_")
        glue[f"{key}_runs"] = f["runs"]
        glue[f"{key}_pilots"] = f["pilots"]
        glue[f"{key}_seeds"] = f["seeds"]
        glue[f"{key}_spread"] = 100 * f["seed_spread"] if f["seed_spread"] is not None \
            else float("nan")
        glue[f"{key}_se"] = 100 * f["standard_error"]
        glue[f"{key}_best"] = f["best"] or "–"
        glue[f"{key}_best_top1"] = 100 * f["best_top1"] if f["best"] else float("nan")
    glue["all_runs"] = sum(f["runs"] for f in facts.values())
    glue["gpu_runs"] = sum(f["gpu"] for f in facts.values())
    return {"facts": facts, "titles": titles, "glue": glue}


def first_seed_runs(records) -> dict:
    """The runs of a campaign trained with seed 1 on the whole training pool, pilots
    left out: one run per model, for a plot of their learning curves."""
    chosen = {}
    for name, r in records.items():
        c = r.get("campaign") or {}
        if c.get("seed") == 1 and c.get("training_fraction", 1) == 1 and not c.get("pilot"):
            chosen[name] = r
    return chosen
