"""The book's CPU campaigns: every run behind chapters 6-8, one command each.

    python tools/campaign.py                       # CIFAR-100: train what is missing, publish
    python tools/campaign.py train                 # train only (resumable; safe to kill)
    python tools/campaign.py publish               # copy finished runs into results/
    python tools/campaign.py status                # what is done, running, to do
    python tools/campaign.py snapshot              # save unfinished runs into results/
    python tools/campaign.py --only cpu-vit-s1 cpu-sl-vit-s1
    python tools/campaign.py --campaign cifar10-jpeg ...   # the CIFAR-10 photo campaign

Two campaigns (:data:`CAMPAIGNS`), both with ``recipe("cpu")`` (width 64, depth 4,
32x32, 4x4 patches, TensorFlow on the CPU):

``cifar100`` (the default) -- the book's own dataset, its official split: the 50,000
training images (of which a stratified 10 % validates and picks the kept epoch) and
the 10,000 test images, scored once per run. In the order it runs, so that a campaign
stopped early has the most useful runs first:

0. a pilot (SL-ViT, seed 0, :data:`PILOT_EPOCHS` epochs) whose validation curves chose
   the campaign's training length, :data:`CIFAR100_EPOCHS` (see there why);
1. seed 1 of vit, sl-vit, the ResNet-20 CNN baseline, spt and lsa; then seed 2 of the
   same; then seed 3 of vit and sl-vit;

``cifar100-why`` -- why SPT costs accuracy on CIFAR-100 at this budget and where SPT
and LSA pay off (issue 23): four stages in the order of :data:`WHY_STAGES`, each with
the hypothesis it tests, named before it ran; 12 CPU-hours in all. ``cifar100-sizes``
is its first stage alone (vit and sl-vit on 20 % of the images, seeds 1 and 2).

``cifar10-jpeg`` -- the CIFAR-10 JPEG photos (45,000 to train on, 5,000 held out), 10
epochs: the four variants with seeds 1 and 2, then vit and sl-vit on 10 % and 30 % of
the pool with equal steps (finished and published; chapter 6's second section).

Runs go to ``runs/<campaign>/<name>/`` and resume after their last finished epoch; a
finished run is never retrained. ``publish`` writes each finished run's record and its
weights (float16) to ``results/<dataset>/`` and their SHA-256 to
``vitsd/sharing/published.json`` (see :mod:`vitsd.sharing.published`). A session of the
machines that run the campaign can end at any time and take its ``runs/`` folder with it:
``snapshot`` copies each unfinished run (record, last weights, best weights where
they differ) to
``results/<dataset>/in-progress/<name>/``, to be committed; ``train`` starts an
unfinished run from its snapshot when its folder is missing, and ``publish`` removes
the snapshot of a run it publishes.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PRESET = "cpu"
VARIANTS = ("vit", "spt", "lsa", "sl-vit")
SIZE_MODELS = ("vit", "sl-vit")

#: The pilot's length (epochs of the full 45,000-image training split).
PILOT_EPOCHS = 10
#: The CIFAR-100 campaign's training length, chosen from the pilot's validation curves
#: (results/cifar100/pilot-sl-vit-e10-s0.json; never from its test score). After 10
#: epochs its validation top-1 was 28.8 % and had risen 1.4, 0.4 and -0.1 points over the
#: last three epochs while the learning rate annealed to zero; validation loss was still
#: falling (3.186, 3.172, 3.167) and the augmented training accuracy only 3.3 points
#: above validation: the preset under-trains at 10 epochs and does not overfit, so the
#: campaign trains as long as its budget allows rather than wider. Budget: 8 CPU-hours
#: for the pilot and 12 runs. Per epoch of 45,000 images, from a 2-epoch probe on 6,300
#: images (TensorFlow 2.21, 2-core Intel Xeon, uncontended) and the pilot's 66-77 s:
#: vit ~58 s, sl-vit ~69 s, resnet20 ~143 s (2.4x vit's time per image) -- about
#: 15.3 minutes per epoch of all 12 runs, so 25 epochs are 6.4 hours, leaving room for
#: the slowdowns of a shared machine (up to 1.5x measured) and, if it remains, the
#: dataset-size runs.
CIFAR100_EPOCHS = 25
SNAPSHOTS = "in-progress"


#: Short tags in run names for the tokenizer switches that differ from the preset's.
SWITCH_TAGS = {("spt_norm", False): "nonorm", ("patch_norm", True): "pnorm"}


def run_name(model: str, seed: int, fraction: float = 1.0, switches=None,
             prefix: str = PRESET) -> str:
    """``cpu-sl-vit-s1`` (whole pool), ``cpu-sl-vit-f10-s1`` (10 % of it),
    ``cpu-spt-nonorm-s1`` (SPT without its LayerNorm: ``switches={"spt_norm": False}``)."""
    tags = "".join(f"-{SWITCH_TAGS[item]}" for item in sorted((switches or {}).items()))
    part = "" if fraction == 1 else f"-f{round(fraction * 100):02d}"
    return f"{prefix}-{model}{tags}{part}-s{seed}"


def _entry(model, seed, fraction=1.0, switches=None, **extra):
    entry = dict(name=run_name(model, seed, fraction, switches), model=model, seed=seed,
                 fraction=fraction, **extra)
    if switches:
        entry["switches"] = dict(switches)
    return entry


CIFAR10_PLAN = (
    [_entry(m, s) for s in (1, 2) for m in VARIANTS]
    + [_entry(m, s, f) for s in (1, 2) for f in (0.1, 0.3) for m in SIZE_MODELS]
)
CIFAR100_ORDER = ("vit", "sl-vit", "resnet20", "spt", "lsa")
CIFAR100_PLAN = (
    [dict(name=f"pilot-sl-vit-e{PILOT_EPOCHS}-s0", model="sl-vit", seed=0, fraction=1.0,
          epochs=PILOT_EPOCHS, pilot=True)]
    + [_entry(m, s) for s in (1, 2) for m in CIFAR100_ORDER]
    + [_entry(m, 3) for m in SIZE_MODELS]
)
#: The dataset-size comparison on CIFAR-100 (vit and sl-vit on 20 % of the training
#: images, equal steps): not in the default campaign -- the 12 main runs used the
#: 8-CPU-hour budget (and its weights would take results/ past 15 MB) -- but one
#: command away: ``--campaign cifar100-sizes``.
CIFAR100_SIZES_PLAN = [_entry(m, s, 0.2) for s in (1, 2) for m in SIZE_MODELS]

NO_SPT_NORM = {"spt_norm": False}
PATCH_NORM = {"patch_norm": True}
#: The screen's length: long enough for the validation curves to separate (the pilot's
#: rose 1.4 points in its 8th epoch and then flattened), half the main runs' cost.
SCREEN_EPOCHS = 12


def _screen(model, switches=None):
    return dict(_entry(model, 1, switches=switches), epochs=SCREEN_EPOCHS, screen=True,
                name=run_name(model, 1, switches=switches, prefix=f"screen-e{SCREEN_EPOCHS}"))


#: Issue 23's campaign, in the order it runs (so that one stopped early has the most
#: useful runs first), each stage with the hypothesis it tests, written down before any
#: of its runs started. What happened to each is in chapter 6 and the README.
WHY_STAGES = [
    dict(stage="sizes-20",
         hypothesis="With a fifth of the training images (9,000, stratified) and the main "
                    "runs' number of optimizer steps, vanilla ViT overfits (its training "
                    "accuracy pulls away from validation) and SL-ViT, which overfits less, "
                    "overtakes it on test, as it did on CIFAR-10 at 10 %.",
         plan=CIFAR100_SIZES_PLAN),
    dict(stage="layernorm-screen",
         hypothesis="SPT's LayerNorm over each token, which removes the brightness and "
                    "contrast of the token's neighbourhood, is what costs SPT accuracy at "
                    "this budget: without it SPT's validation accuracy rises towards vanilla "
                    "ViT's; with one, vanilla ViT's falls. Read on validation only, seed 1, "
                    f"{SCREEN_EPOCHS} epochs, each switch against its own default.",
         plan=[_screen("spt", NO_SPT_NORM), _screen("spt"), _screen("vit", PATCH_NORM),
               _screen("vit")]),
    dict(stage="layernorm",
         hypothesis="As in the screen, at the main budget (25 epochs, seeds 1 and 2): "
                    "spt without its LayerNorm beats spt, vit with a patch LayerNorm trails "
                    "vit; and, if the screen says the LayerNorm matters, sl-vit without it "
                    "beats sl-vit.",
         plan=[_entry(m, s, switches=sw) for s in (1, 2)
               for m, sw in (("spt", NO_SPT_NORM), ("vit", PATCH_NORM))]
         + [dict(_entry("sl-vit", s, switches=NO_SPT_NORM), needs="layernorm-matters")
            for s in (1, 2)]),
    dict(stage="sizes-10",
         hypothesis="The fewer the images, the more SL-ViT gains over vanilla ViT: a third "
                    "seed at 20 %, then a tenth of the images (4,500) with equal steps, "
                    "where SL-ViT's lead is larger than at 20 %.",
         plan=[_entry(m, 3, 0.2) for m in SIZE_MODELS]
         + [_entry(m, s, 0.1) for s in (1, 2) for m in SIZE_MODELS]),
    dict(stage="conv-stem",
         hypothesis="What to use instead: an early convolutional stem (Xiao et al. 2021, "
                    "chapter 8) in place of the patch projection beats vanilla ViT at the "
                    "main budget and closes part of the gap to ResNet-20.",
         plan=[_entry("conv-vit", s) for s in (1, 2)]),
]
CIFAR100_WHY_PLAN = [dict(entry, stage=stage["stage"])
                     for stage in WHY_STAGES for entry in stage["plan"]]


def screen_validation(runs_dir: Path, results_dir: Path, dataset: str = "cifar100") -> dict:
    """Best validation top-1 of each finished screen run, by name (None while unfinished)."""
    out = {}
    for entry in CIFAR100_WHY_PLAN:
        if entry.get("screen"):
            record = _finished_record(entry["name"], runs_dir, results_dir, dataset)
            out[entry["name"]] = (max(record["history"]["val_accuracy"])
                                  if record else None)
    return out


def layernorm_matters(runs_dir: Path, results_dir: Path, dataset: str = "cifar100"):
    """The screen's answer, read on validation only: does switching SPT's LayerNorm
    off move SPT's best validation top-1 by more than the seed-to-seed range of best
    validation top-1 among the main spt runs (seeds 1 and 2)? ``None`` until the screen
    and those runs are finished. Returns ``(answer, why)``."""
    val = screen_validation(runs_dir, results_dir, dataset)
    off = val[run_name("spt", 1, switches=NO_SPT_NORM, prefix=f"screen-e{SCREEN_EPOCHS}")]
    on = val[run_name("spt", 1, prefix=f"screen-e{SCREEN_EPOCHS}")]
    mains = [_finished_record(run_name("spt", s), runs_dir, results_dir, dataset)
             for s in (1, 2)]
    if off is None or on is None or None in mains:
        return None, "the screen (or the main spt runs it is read against) is not finished"
    best = [max(r["history"]["val_accuracy"]) for r in mains]
    noise = max(best) - min(best)
    answer = abs(off - on) > noise
    return answer, (f"best validation top-1 of spt without its LayerNorm {100 * off:.2f} %, "
                    f"with it {100 * on:.2f} % ({SCREEN_EPOCHS} epochs, seed 1); the main spt "
                    f"runs' seed range {100 * noise:.2f} points")


def _finished_record(name: str, runs_dir: Path, results_dir: Path, dataset: str):
    for path in (Path(runs_dir) / name / "run.json",
                 Path(results_dir) / dataset / f"{name}.json"):
        if path.is_file():
            record = json.loads(path.read_text())
            if record.get("status") == "complete":
                return record
    return None

#: name -> the dataset it trains on, the preset's overrides, and its plan.
CAMPAIGNS = {
    "cifar100": dict(dataset="cifar100", overrides={"epochs": CIFAR100_EPOCHS},
                     plan=CIFAR100_PLAN),
    "cifar100-sizes": dict(dataset="cifar100", overrides={"epochs": CIFAR100_EPOCHS},
                           plan=CIFAR100_SIZES_PLAN),
    "cifar100-why": dict(dataset="cifar100", overrides={"epochs": CIFAR100_EPOCHS},
                         plan=CIFAR100_WHY_PLAN),
    "cifar10-jpeg": dict(dataset="cifar10-jpeg", overrides={}, plan=CIFAR10_PLAN),
}
#: Kept for the tests and tools written against the first campaign.
DATASET = "cifar10-jpeg"
PLAN = CIFAR10_PLAN


def steps_per_epoch(train_images: int, config) -> int:
    """Optimizer steps in one epoch after the validation split, as vitsd.train counts."""
    validation = round(config.validation_split * train_images)
    return math.ceil((train_images - validation) / config.batch_size)


def run_config(entry: dict, pool_size: int, fraction_size: int, overrides=None):
    """The run's Config: the preset (with the campaign's ``overrides``) and the run's
    seed; on a fraction of the pool, as many epochs as give the whole-pool run's number
    of steps; a pilot's own ``epochs``."""
    from vitsd.training.recipes import recipe

    config = recipe(PRESET, **(overrides or {}), **entry.get("switches", {}),
                    seed=entry["seed"])
    if "epochs" in entry:
        config = config.replace(epochs=entry["epochs"])
    if entry["fraction"] != 1:
        budget = steps_per_epoch(pool_size, config) * config.epochs
        config = config.replace(
            epochs=max(1, round(budget / steps_per_epoch(fraction_size, config))))
    return config


def _selected(campaign, only):
    return [e for e in campaign["plan"] if not only or e["name"] in only]


def _snapshot_dir(results_dir: Path, campaign, name: str) -> Path:
    return Path(results_dir) / campaign["dataset"] / SNAPSHOTS / name


def restore(snapshot: Path, out: Path) -> None:
    """Make the run folder ``out`` from its snapshot (see :func:`snapshot_all`)."""
    shutil.copytree(snapshot, out)
    (out / "record.partial").rename(out / "run.json")
    if not (out / "best.weights.h5").exists() and (out / "last.weights.h5").exists():
        shutil.copy2(out / "last.weights.h5", out / "best.weights.h5")


def train_all(campaign, runs_dir: Path, results_dir: Path, only=None, verbose=2) -> None:
    from vitsd.data import load_dataset, training_fraction
    from vitsd.training.runner import train

    data = load_dataset(campaign["dataset"])
    for entry in _selected(campaign, only):
        subset = training_fraction(data, entry["fraction"], seed=entry["seed"])
        config = run_config(entry, len(data.y_train), len(subset.y_train),
                            campaign["overrides"])
        out = runs_dir / entry["name"]
        published = Path(results_dir) / campaign["dataset"] / f"{entry['name']}.json"
        if not out.exists() and published.is_file():
            print(f"   {entry['name']}: published already, not retrained", flush=True)
            continue
        if entry.get("needs") == "layernorm-matters":
            answer, why = layernorm_matters(runs_dir, results_dir, campaign["dataset"])
            if not answer:
                print(f"   {entry['name']}: skipped -- the LayerNorm screen "
                      f"{'says it does not matter' if answer is False else 'is not done'}"
                      f" ({why})", flush=True)
                continue
        snapshot = _snapshot_dir(results_dir, campaign, entry["name"])
        if not out.exists() and snapshot.is_dir():
            restore(snapshot, out)
            print(f"   {entry['name']}: starting from its snapshot in {snapshot}", flush=True)
        print(f"== {entry['name']}: {entry['model']}, seed {entry['seed']}, "
              f"{len(subset.y_train)} training images, {config.epochs} epochs -> {out}",
              flush=True)
        start = time.time()
        record = train(entry["model"], out=out, config=config, data=subset, verbose=verbose)
        print(f"   test top-1 {record['test']['top1']:.4f} "
              f"({time.time() - start:.0f} s this session)", flush=True)


def _record(run_dir: Path):
    """The run record in ``run_dir`` (with a ``status``), or None when there is none."""
    path = run_dir / "run.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    record.setdefault("status", "running")
    return record


def snapshot_all(campaign, runs_dir: Path, results_dir: Path, only=None) -> list:
    """Copy each unfinished run with at least one finished epoch into the results."""
    saved = []
    for entry in _selected(campaign, only):
        run_dir = runs_dir / entry["name"]
        path = run_dir / "run.json"
        record = _record(run_dir)
        if not record or record["status"] == "complete" or not record.get("epochs_completed"):
            continue
        target = _snapshot_dir(results_dir, campaign, entry["name"])
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        # The record last: it names the epoch the weights belong to (train commits the
        # weights first), so a copy taken mid-epoch is still consistent.
        # When the last epoch is also the best one, both files hold the same weights
        # (written after the same epoch): the snapshot keeps one, restoring makes two.
        names = ["last.weights.h5"]
        if record.get("best_epoch") != record["epochs_completed"]:
            names.append("best.weights.h5")
        for fname in names:
            if (run_dir / fname).is_file():
                shutil.copy2(run_dir / fname, tmp / fname)
        shutil.copy2(path, tmp / "record.partial")  # not .json: no reader takes it for a result
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        saved.append(f"{entry['name']} after epoch {record['epochs_completed']}")
    return saved


def publish_all(campaign, runs_dir: Path, results_dir: Path, only=None,
                command="python tools/campaign.py") -> list:
    from vitsd.sharing.published import publish_run

    done = []
    for entry in _selected(campaign, only):
        run_dir = runs_dir / entry["name"]
        record = _record(run_dir)
        if not record or record["status"] != "complete":
            continue
        extra = {"campaign": {"name": entry["name"], "preset": PRESET, "seed": entry["seed"],
                              "training_fraction": entry["fraction"],
                              "pilot": bool(entry.get("pilot")), "command": command}}
        for key in ("stage", "switches", "screen"):
            if key in entry:
                extra["campaign"][key] = entry[key]
        publish_run(run_dir, entry["name"], campaign["dataset"], results_dir=results_dir,
                    extra=extra)
        shutil.rmtree(_snapshot_dir(results_dir, campaign, entry["name"]), ignore_errors=True)
        done.append(entry["name"])
    return done


def status(campaign, runs_dir: Path, results_dir: Path) -> list:
    rows = []
    for entry in campaign["plan"]:
        path = runs_dir / entry["name"] / "run.json"
        snapshot = _snapshot_dir(results_dir, campaign, entry["name"]) / "record.partial"
        published = Path(results_dir) / campaign["dataset"] / f"{entry['name']}.json"
        if not path.is_file():
            path = published if published.is_file() else snapshot
        if path.is_file():
            record = json.loads(path.read_text())
            state = (f"{record['status']} {record['epochs_completed']}/"
                     f"{record['config']['epochs']} epochs")
            if record.get("test"):
                state += f", test top-1 {record['test']['top1']:.4f}"
            seconds = sum(record["history"].get("epoch_seconds", []))
            state += f", {seconds / 60:.1f} min of epochs"
            if path == snapshot:
                state += " (snapshot)"
            elif path == published:
                state += " (published)"
        else:
            state = "to do"
        rows.append(f"{entry['name']:24s} {state}")
    return rows


def results_table(campaign, results_dir: Path, against: str | None = None) -> str:
    """The campaign's published runs (not pilots, not screens) as a Markdown table, one
    row per model and setting: parameters, seeds, test top-1 per seed, mean and spread
    (half the range), epochs, minutes of epochs per run (wall time, as recorded) and the
    machine. Campaigns with tokenizer switches or training fractions get a column each.

    ``against="vit"`` adds each row's difference of mean test top-1 from that model
    trained on the same number of images, with its 95 % confidence interval
    (:func:`vitsd.book.stats.difference_ci`: test images resampled in pairs, seeds within
    each model), read from the runs' per-image files (``tools/per_image.py``)."""
    folder = Path(results_dir) / campaign["dataset"]
    rows = {}
    for entry in campaign["plan"]:
        path = folder / f"{entry['name']}.json"
        if not entry.get("pilot") and not entry.get("screen") and path.is_file():
            key = (entry["model"], tuple(sorted(entry.get("switches", {}).items())),
                   entry["fraction"])
            rows.setdefault(key, []).append(json.loads(path.read_text()))
    show_switches = any(e.get("switches") for e in campaign["plan"])
    show_fraction = any(e["fraction"] != 1 for e in campaign["plan"])
    head = (["model"] + (["switches"] if show_switches else [])
            + (["training images"] if show_fraction else [])
            + ["parameters", "seeds", "test top-1 per seed (%)", "mean ± spread", "epochs",
               "minutes per run", "machine"])
    if against:
        head.insert(head.index("epochs"), f"difference from {against} (95% CI), points")
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for (model, switches, fraction), records in rows.items():
        top1 = [100 * r["test"]["top1"] for r in records]
        minutes = [sum(r["history"]["epoch_seconds"]) / 60 for r in records]
        env = records[0]["environment"]
        machine = sorted({r["environment"]["device"] for r in records})
        cells = [model]
        if show_switches:
            cells.append(", ".join(f"{k}={v}" for k, v in switches) or "defaults")
        if show_fraction:
            cells.append(f"{records[0]['splits']['train']:,} ({fraction:.0%})")
        cells += [
            f"{records[0]['parameters']['total']:,}",
            ", ".join(str(r["config"]["seed"]) for r in records),
            " / ".join(f"{v:.2f}" for v in top1),
            (f"{sum(top1) / len(top1):.2f} ± {(max(top1) - min(top1)) / 2:.2f}"
             if len(top1) > 1 else f"{top1[0]:.2f} (one seed: no spread)"),
        ]
        if against:
            reference = rows.get((against, (), fraction))
            cells.append(_difference_cell(campaign["dataset"], records, reference,
                                          results_dir))
        cells += [
            f"{records[0]['config']['epochs']}",
            " / ".join(f"{m:.0f}" for m in minutes),
            f"{'; '.join(machine)}, {env['backend']} {env['backend_version']}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _difference_cell(dataset: str, records: list, reference, results_dir: Path) -> str:
    from vitsd.book.stats import difference_ci, load_correctness

    if reference is None:
        return "no reference runs"
    if reference is records:
        return "(reference)"
    names = [[r["campaign"]["name"] for r in group] for group in (records, reference)]
    try:
        a, b = (load_correctness(dataset, group, results_dir) for group in names)
    except FileNotFoundError:
        return "per-image files missing: tools/per_image.py"
    ci = difference_ci(a, b)
    return (f"{100 * ci['difference']:+.2f} ({100 * ci['low']:+.2f} to "
            f"{100 * ci['high']:+.2f})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", default="all",
                        choices=["all", "train", "publish", "status", "snapshot", "table"])
    parser.add_argument("--against", metavar="MODEL", default=None,
                        help="table: add each row's difference from MODEL with its 95%% "
                             "confidence interval (e.g. --against vit)")
    parser.add_argument("--campaign", choices=sorted(CAMPAIGNS), default="cifar100")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these runs of the plan only")
    parser.add_argument("--runs", default=None, help="default: runs/<campaign>/ of this checkout")
    parser.add_argument("--results", default=None,
                        help="default: results/ of this checkout")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    campaign = CAMPAIGNS[args.campaign]
    names = {e["name"] for e in campaign["plan"]}
    unknown = sorted(set(args.only or ()) - names)
    if unknown:
        parser.error(f"unknown run(s) {unknown}; the plan has: {', '.join(sorted(names))}")
    # The first campaign kept its runs in runs/campaign/; the CIFAR-100 ones share one.
    default_runs = {"cifar10-jpeg": "campaign", "cifar100-sizes": "cifar100",
                    "cifar100-why": "cifar100"}.get(
        args.campaign, args.campaign)
    runs_dir = Path(args.runs or ROOT / "runs" / default_runs)
    results = Path(args.results) if args.results else ROOT / "results"
    command = "python tools/campaign.py" + (
        "" if args.campaign == "cifar100" else f" --campaign {args.campaign}")
    if args.action == "status":
        print("\n".join(status(campaign, runs_dir, results)))
        return 0
    if args.action == "table":
        print(results_table(campaign, results, against=args.against))
        return 0
    if args.action == "snapshot":
        for line in snapshot_all(campaign, runs_dir, results, args.only):
            print(f"snapshot of {line}")
        return 0
    from vitsd.quiet import import_keras_quietly

    import_keras_quietly()
    if args.action in ("all", "train"):
        train_all(campaign, runs_dir, results, args.only, verbose=0 if args.quiet else 2)
    if args.action in ("all", "publish"):
        for name in publish_all(campaign, runs_dir, results, args.only, command):
            print(f"published {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
