"""The book's real-photo campaign on a CPU: every run behind chapters 6-8, one command.

    python tools/campaign.py                 # train what is missing, then publish
    python tools/campaign.py train           # train only (resumable; safe to kill)
    python tools/campaign.py publish         # copy finished runs into results/
    python tools/campaign.py status          # what is done, running, to do
    python tools/campaign.py --only cpu-vit-s1 cpu-sl-vit-s1

Data: the CIFAR-10 JPEG training split (``load_dataset("cifar10-jpeg")``: 45,000
images to train on, of which 10 % validate; 5,000 held out, stratified, never used for
training or model selection). Preset: ``recipe("cpu")`` (width 64, depth 4, 32x32,
4x4 patches, 10 epochs, TensorFlow on the CPU).

The plan (:data:`PLAN`), in the order it runs, so that a campaign stopped early has the
most useful runs first:

1. the four variants (vit, spt, lsa, sl-vit), seed 1, then seed 2, on the whole pool;
2. vit and sl-vit on 10 % and 30 % of the pool (stratified, drawn with the run's
   seed), seeds 1 and 2, each with the *same number of optimizer steps* as a run on
   the whole pool (so more epochs): the dataset-size experiment.

Runs go to ``runs/campaign/<name>/`` and resume after their last finished epoch; a
finished run is never retrained. ``publish`` writes each finished run's record and its
weights (float16) to ``results/cifar10-jpeg/`` and their SHA-256 to
``vitsd/published.json`` (see :mod:`vitsd.published`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATASET = "cifar10-jpeg"
PRESET = "cpu"
SEEDS = (1, 2)
VARIANTS = ("vit", "spt", "lsa", "sl-vit")
FRACTIONS = (0.1, 0.3)
SIZE_MODELS = ("vit", "sl-vit")


def run_name(model: str, seed: int, fraction: float = 1.0) -> str:
    """``cpu-sl-vit-s1`` (whole pool) or ``cpu-sl-vit-f10-s1`` (10 % of it)."""
    part = "" if fraction == 1 else f"-f{round(fraction * 100):02d}"
    return f"{PRESET}-{model}{part}-s{seed}"


PLAN = (
    [dict(name=run_name(m, s), model=m, seed=s, fraction=1.0) for s in SEEDS for m in VARIANTS]
    + [dict(name=run_name(m, s, f), model=m, seed=s, fraction=f)
       for s in SEEDS for f in FRACTIONS for m in SIZE_MODELS]
)


def steps_per_epoch(train_images: int, config) -> int:
    """Optimizer steps in one epoch after the validation split, as vitsd.train counts."""
    validation = round(config.validation_split * train_images)
    return math.ceil((train_images - validation) / config.batch_size)


def run_config(entry: dict, pool_size: int, fraction_size: int):
    """The run's Config: the preset with the run's seed; on a fraction of the pool,
    as many epochs as give the whole-pool run's number of steps."""
    from vitsd.config import recipe

    config = recipe(PRESET, seed=entry["seed"])
    if entry["fraction"] != 1:
        budget = steps_per_epoch(pool_size, config) * config.epochs
        config = config.replace(
            epochs=max(1, round(budget / steps_per_epoch(fraction_size, config))))
    return config


def train_all(runs_dir: Path, only=None, verbose=2) -> None:
    from vitsd.data import load_dataset, training_fraction
    from vitsd.train import train

    data = load_dataset(DATASET)
    for entry in PLAN:
        if only and entry["name"] not in only:
            continue
        subset = training_fraction(data, entry["fraction"], seed=entry["seed"])
        config = run_config(entry, len(data.y_train), len(subset.y_train))
        out = runs_dir / entry["name"]
        print(f"== {entry['name']}: {entry['model']}, seed {entry['seed']}, "
              f"{len(subset.y_train)} training-pool images, {config.epochs} epochs -> {out}",
              flush=True)
        start = time.time()
        record = train(entry["model"], out=out, config=config, data=subset, verbose=verbose)
        print(f"   hold-out top-1 {record['test']['top1']:.4f} "
              f"({time.time() - start:.0f} s this session)", flush=True)


def publish_all(runs_dir: Path, results_dir: Path, only=None) -> list:
    from vitsd.published import publish_run

    done = []
    for entry in PLAN:
        if only and entry["name"] not in only:
            continue
        run_dir = runs_dir / entry["name"]
        record_path = run_dir / "run.json"
        if not record_path.is_file():
            continue
        record = json.loads(record_path.read_text())
        if record.get("status") != "complete":
            continue
        extra = {"campaign": {"name": entry["name"], "preset": PRESET, "seed": entry["seed"],
                              "training_fraction": entry["fraction"],
                              "command": "python tools/campaign.py"}}
        publish_run(run_dir, entry["name"], DATASET, results_dir=results_dir, extra=extra)
        done.append(entry["name"])
    return done


def status(runs_dir: Path) -> list:
    rows = []
    for entry in PLAN:
        path = runs_dir / entry["name"] / "run.json"
        if path.is_file():
            record = json.loads(path.read_text())
            state = (f"{record['status']} {record['epochs_completed']}/"
                     f"{record['config']['epochs']} epochs")
            if record.get("test"):
                state += f", hold-out top-1 {record['test']['top1']:.4f}"
            seconds = sum(record["history"].get("epoch_seconds", []))
            state += f", {seconds / 60:.1f} min of epochs"
        else:
            state = "to do"
        rows.append(f"{entry['name']:24s} {state}")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", default="all",
                        choices=["all", "train", "publish", "status"])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these runs of the plan only")
    parser.add_argument("--runs", default=str(ROOT / "runs" / "campaign"))
    parser.add_argument("--results", default=None,
                        help="default: results/ of this checkout")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    names = {e["name"] for e in PLAN}
    unknown = sorted(set(args.only or ()) - names)
    if unknown:
        parser.error(f"unknown run(s) {unknown}; the plan has: {', '.join(sorted(names))}")
    runs_dir = Path(args.runs)
    if args.action != "status":
        from vitsd.quiet import import_keras_quietly

        import_keras_quietly()
    if args.action == "status":
        print("\n".join(status(runs_dir)))
        return 0
    if args.action in ("all", "train"):
        train_all(runs_dir, args.only, verbose=0 if args.quiet else 2)
    if args.action in ("all", "publish"):
        from vitsd.published import RESULTS_DIR

        results = Path(args.results) if args.results else RESULTS_DIR
        for name in publish_all(runs_dir, results, args.only):
            print(f"published {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
