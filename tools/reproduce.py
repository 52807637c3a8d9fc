"""Reproduce the CIFAR-100 results: every preset and ablation variant, one command.

    python tools/reproduce.py                      # CIFAR-100, needs network + a GPU
    python tools/reproduce.py --dataset cifar10 --only reference
    python tools/reproduce.py --dataset sample --epochs 2 --limit 500   # a dry run
    python tools/reproduce.py --dataset ../shared/data/cifar10_jpeg_train.npz \
        --name cifar10-jpeg                        # the CIFAR-10 JPEG split, 5,000 held out

Trains, with the fast path (vitsd.training.fast.fast_config):
  * the reference preset (keras.io hyperparameters, 50 epochs): vit, spt, lsa, sl-vit;
  * the paper preset (arXiv 2112.13492 recipe, 100 epochs): vit, sl-vit.
Full runs (weights, checkpoints) go to runs/<dataset>/<recipe>-<model>/; their run
records are copied to results/<dataset>/<recipe>-<model>.json (small JSON files, meant
to be committed). Interrupted? Run the same command again: finished runs are kept and
an unfinished one resumes after its last completed epoch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PLAN = {"reference": ["vit", "spt", "lsa", "sl-vit"], "paper": ["vit", "sl-vit"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar100")
    parser.add_argument("--only", choices=sorted(PLAN), help="one preset only")
    parser.add_argument("--models", nargs="+", help="a subset of the preset's models")
    parser.add_argument("--epochs", type=int, help="override the presets' epochs")
    parser.add_argument("--limit", type=int, help="at most N images per split")
    parser.add_argument("--runs", default="runs", help="folder for full runs")
    parser.add_argument("--results", default="results", help="folder for run records")
    parser.add_argument("--name", help="folder name for this dataset's runs and results "
                        "(default: the dataset's name)")
    parser.add_argument("--no-fast", action="store_true", help="run as the reference code does")
    args = parser.parse_args(argv)

    from vitsd.data import load_dataset
    from vitsd.training.fast import fast_config
    from vitsd.training.recipes import recipe
    from vitsd.training.runner import train

    data = load_dataset(args.dataset, limit=args.limit)
    name = args.name or Path(args.dataset).name
    results = Path(args.results) / name
    results.mkdir(parents=True, exist_ok=True)
    for preset in [args.only] if args.only else list(PLAN):
        for model in args.models or PLAN[preset]:
            config = recipe(preset)
            if args.epochs:
                config = config.replace(epochs=args.epochs)
            if not args.no_fast:
                config = fast_config(config)
            out = Path(args.runs) / name / f"{preset}-{model}"
            print(f"== {preset} / {model} -> {out}", flush=True)
            record = train(model, out=out, config=config, data=data, limit=args.limit)
            record["recipe"] = preset
            target = results / f"{preset}-{model}.json"
            target.write_text(json.dumps(record, indent=1))
            print(f"   test top-1 {record['test']['top1']:.4f}, top-5 "
                  f"{record['test']['top5']:.4f} -> {target}", flush=True)


if __name__ == "__main__":
    main()
