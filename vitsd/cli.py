"""The command line: ``python -m vitsd train ...``, ``python -m vitsd evaluate ...`` and
``python -m vitsd push ...`` (sharing a model on the Hugging Face Hub, chapter 8).

Bad arguments, and problems the user can fix (a missing file, no token, no network),
exit with status 2 and a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

from vitsd.config import BASELINES, MODELS


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
    t.add_argument("--model", choices=sorted(MODELS) + list(BASELINES), default="sl-vit",
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
    t.add_argument("--recipe", choices=["reference", "cpu", "paper"],
                   help="hyperparameter preset: the keras.io reference, a ViT sized for a "
                        "CPU (chapter 6), or the paper's training recipe (chapter 8); "
                        "default: cpu where no GPU is found, reference where one is. On a "
                        "CPU, reference runs its augmentation in the input pipeline "
                        "(--set augment=reference keeps it in the model)")
    t.add_argument("--fast", action="store_true",
                   help="run fast on this machine: augmentation in the input pipeline, and "
                        "on a GPU bfloat16 + XLA (vitsd.training.fast.fast_config)")
    t.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override any Config field, e.g. --set num_layers=4 "
                        "--set mlp_units=[128,64] (values are JSON; repeatable)")
    t.add_argument("--out", required=True, help="output folder (resumes if it holds this run)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    e = sub.add_parser("evaluate", help="evaluate a finished run, or a shared model, on a "
                                        "test split")
    e.add_argument("--run", help="the --out folder of a train run (scored on its own dataset)")
    e.add_argument("--model", help="a shared model: hf://USER/NAME, a Hub repository id, a "
                                   "downloaded folder or a .keras file")
    e.add_argument("--dataset", help="with --model: the dataset to score on (default: the one "
                                     "in the model's run record)")
    e.add_argument("--limit", type=_positive, help="with --model: at most N test images, "
                                                   "stratified")
    e.add_argument("--quiet", action="store_true")
    p = sub.add_parser("push", help="upload a finished run to the Hugging Face Hub: model, "
                                    "run record, curves and a generated model card")
    p.add_argument("--run", required=True, help="the --out folder of a finished train run")
    p.add_argument("--repo", required=True, metavar="USER/NAME",
                   help="the Hub model repository (created if needed); needs a token: "
                        "HF_TOKEN or `hf auth login`")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.add_argument("--message", help="the commit message (default: model, dataset, top-1)")
    return parser


def _check_evaluate(parser, args) -> None:
    """--run or --model, one of the two; --dataset and --limit only with --model."""
    if args.run is None and args.model is None:
        parser.error("the following arguments are required: --run or --model")
    if args.run is not None and args.model is not None:
        parser.error("argument --model: not allowed with argument --run")
    if args.run is not None and (args.dataset is not None or args.limit is not None):
        parser.error("arguments --dataset and --limit go with --model; --run scores a run "
                     "on its own dataset")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "evaluate":
        _check_evaluate(parser, args)
    verbose = 0 if getattr(args, "quiet", False) else "auto"
    # Imported late so that --help and argument errors are instant.
    from vitsd.quiet import import_keras_quietly

    import_keras_quietly()
    try:
        print(json.dumps(_COMMANDS[args.command](args, verbose)))
    except _user_errors() as err:
        print(f"vitsd: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vitsd: interrupted; run the same command again to resume.", file=sys.stderr)
        return 130
    return 0


def _user_errors() -> tuple:
    """The errors that end the command with their one-line message instead of a
    traceback. Evaluated when an error is raised (so imported late, keeping --help
    instant); RunFolderError can only come from vitsd.training.runner once something imported it."""
    from vitsd.data import DatasetError
    from vitsd.sharing.hub import HubError

    errors = (ValueError, FileNotFoundError, DatasetError, HubError)
    train = sys.modules.get("vitsd.training.runner")
    return errors + ((train.RunFolderError,) if train is not None else ())


def _train(args, verbose) -> dict:
    import dataclasses

    from vitsd.training.device import choose_recipe
    from vitsd.training.runner import train

    # Without --recipe, the preset that fits the device (train prints which, and why).
    choice = choose_recipe(args.recipe, parse_overrides(args.set), cli=True)
    if args.fast:
        from vitsd.training.fast import fast_config

        choice = dataclasses.replace(choice, config=fast_config(choice.config))
    record = train(
        recipe=choice, model=args.model, dataset=args.dataset, out=args.out, epochs=args.epochs,
        limit=args.limit, batch_size=args.batch_size, seed=args.seed, verbose=verbose,
    )
    return {"out": args.out, "recipe": record.get("recipe"), "test": record["test"],
            "epochs_completed": record["epochs_completed"]}


def _evaluate(args, verbose) -> dict:
    if args.run is not None:
        from vitsd.training.runner import evaluate

        return {"run": args.run, "test": evaluate(args.run, verbose=verbose)}
    from vitsd.sharing import hub

    return hub.evaluate(args.model, dataset=args.dataset, limit=args.limit, verbose=verbose)


def _push(args, verbose) -> dict:
    from vitsd.sharing import hub

    return hub.push(args.run, args.repo, private=True if args.private else None,
                    commit_message=args.message)


_COMMANDS = {"train": _train, "evaluate": _evaluate, "push": _push}
