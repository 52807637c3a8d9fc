"""The command line: ``python -m vitsd train ...`` and ``python -m vitsd evaluate ...``.

Bad arguments exit with status 2 and a one-line reason.
"""

from __future__ import annotations

import argparse
import json
import sys

from vitsd.config import MODELS


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not usage + message
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def parse_overrides(pairs) -> dict:
    """``["num_layers=4", "flip=none"]`` -> ``{"num_layers": 4, "flip": "none"}``."""
    overrides = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--set expects NAME=VALUE, got {pair!r}.")
        try:
            overrides[name] = json.loads(text)
        except json.JSONDecodeError:
            overrides[name] = text
    return overrides


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vitsd", description="Train and evaluate ViTs on small datasets.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train a model and write a run record")
    t.add_argument("--model", choices=sorted(MODELS), default="sl-vit",
                   help="vit, spt (shifted patch tokenization only), lsa (locality "
                        "self-attention only) or sl-vit (both); default sl-vit")
    t.add_argument("--dataset", default="sample",
                   help="cifar100, cifar10, cifar10-jpeg (the JPEG archive in $VITSD_DATA "
                        "or shared/data), sample (built in, offline) or an image folder "
                        "<root>/<class>/*; default sample")
    t.add_argument("--epochs", type=_positive, help="default 50")
    t.add_argument("--limit", type=_positive, help="at most N images per split, stratified")
    t.add_argument("--batch-size", type=_positive, help="default 256")
    t.add_argument("--seed", type=_non_negative, help="default 42")
    t.add_argument("--recipe", choices=["reference", "cpu", "paper"], default="reference",
                   help="hyperparameter preset: the keras.io reference (default), a ViT "
                        "sized for a CPU (chapter 6), or the paper's training recipe "
                        "(chapter 8)")
    t.add_argument("--fast", action="store_true",
                   help="run fast on this machine: augmentation in the input pipeline, and "
                        "on a GPU bfloat16 + XLA (vitsd.speed.fast_config)")
    t.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override any Config field, e.g. --set num_layers=4 "
                        "--set mlp_units=[128,64] (values are JSON; repeatable)")
    t.add_argument("--out", required=True, help="output folder (resumes if it holds this run)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    e = sub.add_parser("evaluate", help="evaluate a finished run on its test split")
    e.add_argument("--run", required=True, help="the --out folder of a train run")
    e.add_argument("--quiet", action="store_true")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    # Imported late so that --help and argument errors are instant.
    from vitsd.quiet import import_keras_quietly

    import_keras_quietly()
    from vitsd.data import DatasetError
    from vitsd.train import RunFolderError, evaluate, train

    verbose = 0 if args.quiet else "auto"
    try:
        if args.command == "train":
            from vitsd.config import recipe

            config = recipe(args.recipe, **parse_overrides(args.set))
            if args.fast:
                from vitsd.speed import fast_config

                config = fast_config(config)
            record = train(
                config=config, model=args.model, dataset=args.dataset, out=args.out, epochs=args.epochs,
                limit=args.limit, batch_size=args.batch_size, seed=args.seed, verbose=verbose,
            )
            print(json.dumps({"out": args.out, "test": record["test"],
                              "epochs_completed": record["epochs_completed"]}))
        else:
            print(json.dumps({"run": args.run, "test": evaluate(args.run, verbose=verbose)}))
    except (ValueError, DatasetError, RunFolderError, FileNotFoundError) as err:
        print(f"vitsd: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vitsd: interrupted; run the same command again to resume.", file=sys.stderr)
        return 130
    return 0
