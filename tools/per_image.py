"""Per-image test correctness of the published runs, for the bootstrap of vitsd.book.stats.

    python tools/per_image.py                         # every published CIFAR-100 run
    python tools/per_image.py --dataset cifar10-jpeg  # the CIFAR-10 JPEG runs
    python tools/per_image.py --only cpu-vit-s1 --force

For every published run of the dataset (``results/<dataset>/<name>.json`` with its
``<name>.weights.h5``; not the ``pilot-*`` runs, nothing under ``in-progress/``) it
rebuilds the model from the record's config, loads the (float16) weights, predicts the
dataset's test split (the split the run was scored on), checks that the recomputed
top-1 matches the record's ``test.top1`` and writes
``results/<dataset>/<name>.correct.npz``: the bits of the boolean vector "image i was
classified correctly" (``np.packbits``), the number of images and the SHA-256 of the
weights and record it came from -- a couple of KB, no images, no labels.

A file whose checksums match the run's current files is up to date and skipped (unless
``--force``). A recomputed top-1 more than ``--tolerance`` (default 0.002, 20 images of
10,000) away from the record is an error: nothing is written for that run and the
command exits with status 1. Smaller differences (float16 weights can move a prediction
or two) are reported. Read the files with ``vitsd.book.stats.load_correctness``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vitsd.book.stats import CORRECT_SUFFIX, read_correctness, write_correctness  # noqa: E402

#: The largest |recomputed - recorded| test top-1 accepted (a fraction).
TOLERANCE = 0.002


def published_files(dataset: str, results_dir=None, only=None) -> list:
    """Names of the runs in ``results/<dataset>/`` with a record and weights, sorted;
    not the ``pilot-*`` runs (and nothing in subfolders such as ``in-progress/``)."""
    from vitsd.sharing.published import RESULTS_DIR

    folder = Path(results_dir or RESULTS_DIR) / dataset
    names = sorted(p.name[: -len(".weights.h5")] for p in folder.glob("*.weights.h5")
                   if p.is_file())
    names = [n for n in names if (folder / f"{n}.json").is_file() and not n.startswith("pilot-")]
    if only:
        missing = sorted(set(only) - set(names))
        if missing:
            raise SystemExit(f"not published in {folder}: {', '.join(missing)} "
                             f"(published: {', '.join(names) or 'none'}).")
        names = [n for n in names if n in only]
    return names


def _checksums(folder: Path, name: str) -> dict:
    from vitsd.sharing.published import sha256

    return {"weights_sha256": sha256(folder / f"{name}.weights.h5"),
            "record_sha256": sha256(folder / f"{name}.json")}


def up_to_date(folder: Path, name: str) -> bool:
    """Whether ``<name>.correct.npz`` exists and was made from the run's current files."""
    path = folder / f"{name}{CORRECT_SUFFIX}"
    if not path.is_file():
        return False
    try:
        _, meta = read_correctness(path)
    except (OSError, ValueError, KeyError):
        return False
    current = _checksums(folder, name)
    return all(meta.get(k) == v for k, v in current.items())


def correctness(model, x, y, batch_size: int = 256) -> np.ndarray:
    """Whether ``model``'s top-1 prediction is ``y``, per image (a boolean vector): the
    images as float32 0..255, as the trainer evaluates them."""
    predictions = []
    for start in range(0, len(x), batch_size):
        batch = np.asarray(x[start:start + batch_size], dtype=np.float32)
        predictions.append(np.asarray(model(batch, training=False)).argmax(axis=-1))
    return np.concatenate(predictions) == np.asarray(y).reshape(-1)


def score_run(folder: Path, name: str, data, tolerance: float = TOLERANCE) -> dict:
    """Rebuild run ``name`` from ``folder`` (its record and weights), score it on
    ``data``'s test split and write ``<name>.correct.npz`` unless its top-1 is more than
    ``tolerance`` off the record's. Returns what happened."""
    from vitsd.config import Config
    from vitsd.models import build_named

    record = json.loads((folder / f"{name}.json").read_text())
    checksums = _checksums(folder, name)  # before loading: the files scored
    expected = record.get("splits", {}).get("test")
    if expected is not None and expected != len(data.y_test):
        return {"name": name, "ok": False,
                "error": f"the record was scored on {expected} test images, the data has "
                         f"{len(data.y_test)}"}
    model = build_named(record["model"], Config.from_dict(record["config"]))
    model.load_weights(folder / f"{name}.weights.h5")
    correct = correctness(model, data.x_test, data.y_test,
                          batch_size=int(record["config"].get("batch_size", 256)))
    top1 = float(correct.mean())
    recorded = float(record["test"]["top1"])
    difference = round(top1 - recorded, 6) + 0.0  # the record's top-1 is a float32; no -0.0
    result = {"name": name, "top1": top1, "recorded": recorded, "difference": difference,
              "images": int(correct.size), "ok": abs(top1 - recorded) <= tolerance}
    if result["ok"]:
        write_correctness(folder / f"{name}{CORRECT_SUFFIX}", correct, top1=top1,
                          recorded_top1=recorded, dataset=str(record["dataset"]["name"]),
                          **checksums)
    else:
        result["error"] = (f"recomputed top-1 {top1:.4f} is {top1 - recorded:+.4f} off the "
                           f"record's {recorded:.4f} (tolerance {tolerance})")
    return result


def run(dataset: str = "cifar100", results_dir=None, only=None, force: bool = False,
        data=None, tolerance: float = TOLERANCE, say=print, manifest_path=None) -> list:
    """Score every published run of ``dataset`` that needs it; ``data`` (a
    :class:`vitsd.data.Dataset`) defaults to ``load_dataset(dataset)``, loaded only when
    some run needs scoring. Every file written or found up to date is listed with its
    SHA-256 in the manifest (default: ``vitsd/sharing/published.json`` for this checkout's
    ``results/``, ``<results_dir>/published.json`` for another folder), so that readers
    without a checkout download it like the weights. Returns one result dict per run."""
    from vitsd.sharing.published import MANIFEST, RESULTS_DIR, list_files

    if manifest_path is None:
        manifest_path = MANIFEST if results_dir is None else Path(results_dir) / "published.json"

    folder = Path(results_dir or RESULTS_DIR) / dataset
    results = []
    for name in published_files(dataset, results_dir, only):
        if not force and up_to_date(folder, name):
            say(f"{name}: up to date")
            results.append({"name": name, "ok": True, "skipped": True})
            continue
        if data is None:
            from vitsd.data import load_dataset

            say(f"loading {dataset} ...")
            data = load_dataset(dataset)
        result = score_run(folder, name, data, tolerance)
        if "top1" in result:
            say(f"{name}: top-1 {result['top1']:.4f} recomputed, {result['recorded']:.4f} "
                f"recorded ({result['difference']:+.5f}; "
                f"{round(result['difference'] * result['images']):+d} images)"
                + ("" if result["ok"] else f"  ERROR: {result['error']}"))
        else:
            say(f"{name}: ERROR: {result['error']}")
        results.append(result)
    written = [folder / f"{r['name']}{CORRECT_SUFFIX}" for r in results if r["ok"]]
    if written:
        list_files(dataset, written, manifest_path=manifest_path)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="cifar100",
                        help="the dataset folder of results/ (default cifar100)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these runs")
    parser.add_argument("--force", action="store_true",
                        help="rewrite files that are up to date")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="the results folder (default: this checkout's results/)")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE,
                        help=f"largest accepted |recomputed - recorded| top-1 "
                             f"(default {TOLERANCE})")
    args = parser.parse_args(argv)
    from vitsd.quiet import import_keras_quietly

    import_keras_quietly()  # without TensorFlow's start-up lines

    results = run(args.dataset, args.results_dir, args.only, args.force,
                  tolerance=args.tolerance)
    failed = [r["name"] for r in results if not r["ok"]]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
