"""Training and inference throughput of the vanilla and SL builds (images/second).

    python benchmarks/throughput.py                    # reference configuration
    python benchmarks/throughput.py --batch-size 128 --steps 10
    KERAS_BACKEND=jax python benchmarks/throughput.py

Prints one table for the current machine and Keras backend. Images are random
uint8 pixels: throughput does not depend on what they show. Each figure is the median
over ``--repeats`` timed blocks of ``--steps`` batches, after ``--warmup`` untimed
batches (graph tracing / compilation). The models are built and compiled exactly as
``vitsd.training.runner`` does (AdamW + warmup-cosine, augmentation inside the model).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import keras
import numpy as np

from vitsd.config import Config
from vitsd.models import adapt_normalization, build_named, count_parameters
from vitsd.training.compile import compile_model
from vitsd.training.records import environment


def _block(fn, steps):
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return time.perf_counter() - start


def measure(name: str, config: Config, steps: int, warmup: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    b = config.batch_size
    x = rng.integers(0, 256, size=(b, *config.input_shape)).astype("float32")
    y = rng.integers(0, config.num_classes, size=(b,))
    model = build_named(name, config)
    adapt_normalization(model, x)
    compile_model(model, config, steps_per_epoch=100)

    def train_step():
        model.train_on_batch(x, y)

    def predict_step():
        keras.ops.convert_to_numpy(model.predict_on_batch(x))

    result = {"model": name, "parameters": count_parameters(model)["total"]}
    for label, fn in (("train", train_step), ("inference", predict_step)):
        for _ in range(warmup):
            fn()
        times = [_block(fn, steps) for _ in range(repeats)]
        result[f"{label}_images_per_second"] = b * steps / statistics.median(times)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["vit", "sl-vit"])
    parser.add_argument("--batch-size", type=int, default=Config().batch_size)
    parser.add_argument("--steps", type=int, default=3, help="batches per timed block")
    parser.add_argument("--repeats", type=int, default=3, help="timed blocks (median)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches first")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    config = Config(batch_size=args.batch_size)
    env = environment()
    print(f"# vitsd throughput | backend {env['backend']} {env['backend_version']} | "
          f"keras {env['keras']} | {env['device']}")
    print(f"# reference config: {config.image_size}x{config.image_size}, "
          f"patch {config.patch_size}, "
          f"{config.num_layers} layers, batch {config.batch_size}; median of {args.repeats} x "
          f"{args.steps} steps after {args.warmup} warmup steps")
    print(f"{'model':8} {'params':>12} {'train img/s':>12} {'infer img/s':>12}")
    results = []
    for name in args.models:
        r = measure(name, config, args.steps, args.warmup, args.repeats)
        results.append(r)
        print(f"{name:8} {r['parameters']:>12,} {r['train_images_per_second']:>12.1f} "
              f"{r['inference_images_per_second']:>12.1f}", flush=True)
    if len(results) == 2:
        a, b = results
        train = b["train_images_per_second"] / a["train_images_per_second"]
        inference = b["inference_images_per_second"] / a["inference_images_per_second"]
        print(f"# {b['model']} / {a['model']}: train x{train:.2f}, inference x{inference:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "config": config.to_dict(), "args": vars(args),
                       "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
