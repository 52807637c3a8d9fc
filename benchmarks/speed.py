"""Reference way vs vitsd's fast path: training images/second, side by side.

    python benchmarks/speed.py                         # reference config, both builds
    python benchmarks/speed.py --recipe paper --models sl-vit
    python benchmarks/speed.py --recipe cpu --steps 20 --repeats 5   # the book's runs
    KERAS_BACKEND=jax python benchmarks/speed.py       # e.g. on a GPU

"reference way": the configuration as the keras.io code runs it -- float32, Keras'
default compilation (``jit_compile="auto"``), the random augmentation layers inside
the model, NumPy arrays into ``fit`` (for ``--recipe cpu``, whose pad-and-crop exists
only in the input pipeline: the keras.io flip/rotation/zoom inside the model instead).
"fast path": :func:`vitsd.training.fast.fast_config` --
augmentation in the parallel tf.data pipeline, and on a GPU bfloat16 + XLA. Both train
the same model on the same random images through one ``model.fit``; the first
``--warmup`` batches (tracing, compilation) are not timed, then the figure is the median
of ``--repeats`` blocks of ``--steps`` batches (steady state).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import keras
import numpy as np

from vitsd.models import adapt_normalization, build_named
from vitsd.training.compile import compile_model
from vitsd.training.fast import accelerator, fast_config
from vitsd.training.recipes import recipe
from vitsd.training.records import environment
from vitsd.training.runner import execution_mode, input_pipeline, uses_input_pipeline


class _BatchClock(keras.callbacks.Callback):
    """Wall-clock time at the end of every training batch."""

    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def train_throughput(name, config, steps, warmup, repeats, reference_way):
    """Steady-state training images/second inside one ``fit``: the first ``warmup``
    batches (tracing, compilation, pipeline start) are not timed; then the median over
    ``repeats`` blocks of ``steps`` batches."""
    rng = np.random.default_rng(0)
    total = warmup + steps * repeats
    n = config.batch_size * total
    x = rng.integers(0, 256, size=(n, *config.input_shape)).astype("uint8")
    y = rng.integers(0, config.num_classes, size=(n,))
    model = build_named(name, config)
    adapt_normalization(model, x[: config.batch_size].astype("float32"))
    compile_model(model, config, steps_per_epoch=total)
    if reference_way:  # Keras' default compilation, as the keras.io code gets it
        model.compile(optimizer=model.optimizer, loss=model.loss,
                      metrics=["accuracy"], jit_compile="auto")
    clock = _BatchClock()
    if uses_input_pipeline(config):
        model.fit(input_pipeline(x, y, config, training=True), epochs=1, verbose=0,
                  callbacks=[clock])
    else:
        model.fit(x.astype("float32"), y, batch_size=config.batch_size, epochs=1, verbose=0,
                  shuffle=True, callbacks=[clock])
    ends = clock.ends[warmup - 1:]
    blocks = [ends[(i + 1) * steps] - ends[i * steps] for i in range(repeats)]
    # What Keras applied, not what was asked: it drops jit_compile=True silently under
    # TensorFlow's op determinism or for a layer without XLA support.
    return config.batch_size * steps / statistics.median(blocks), execution_mode(model, config)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="reference", choices=["reference", "cpu", "paper"])
    parser.add_argument("--models", nargs="+", default=["vit", "sl-vit"])
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches, at least 1")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    base = recipe(args.recipe)
    if args.batch_size:
        base = base.replace(batch_size=args.batch_size)
    fast = fast_config(base)
    # The reference way augments inside the model, as keras.io does.
    reference = base.replace(augment="reference") if base.augment in ("crop", "pipeline") \
        else base
    env = environment()
    print(f"# vitsd speed | backend {env['backend']} {env['backend_version']} | keras "
          f"{env['keras']} | {env['device']} | accelerator: {accelerator() or 'none'}")
    print(f"# recipe {args.recipe}, batch {base.batch_size}; reference way: augment="
          f"{reference.augment}; fast path: augment={fast.augment}, "
          f"precision={fast.precision}, jit_compile requested={fast.jit_compile}; median of "
          f"{args.repeats} x {args.steps} steps after {args.warmup} warmup steps")
    print(f"{'model':8} {'reference img/s':>16} {'fast img/s':>12} {'ratio':>7}")
    results = []
    for name in args.models:
        ref, ref_mode = train_throughput(name, reference, args.steps, args.warmup,
                                         args.repeats, True)
        quick, fast_mode = train_throughput(name, fast, args.steps, args.warmup, args.repeats,
                                            False)
        results.append({"model": name, "reference_images_per_second": ref,
                        "fast_images_per_second": quick, "ratio": quick / ref,
                        "reference_execution": ref_mode, "fast_execution": fast_mode})
        print(f"{name:8} {ref:>16.1f} {quick:>12.1f} {quick / ref:>6.2f}x   XLA applied: "
              f"reference {ref_mode['jit_compile']}, fast {fast_mode['jit_compile']}"
              + (f" ({fast_mode['jit_compile_note']})" if fast_mode["jit_compile_note"] else ""),
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "recipe": args.recipe, "args": vars(args),
                       "fast_config": fast.to_dict(), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
