"""The fast path (taught in chapter 8, "Going further").

The keras.io reference trains in float32 with Keras' default compilation, its random
augmentation layers inside the model, fed from NumPy arrays. On TensorFlow those
random layers cannot be XLA-compiled, so the whole train step runs without XLA.

:func:`fast_config` changes only *how* a configuration runs, never what it learns:

* augmentation moves into the parallel tf.data input pipeline (``augment="pipeline"``;
  a ``"strong"`` recipe is there already), so the model holds no random layers and its
  train step compiles with XLA / ``jax.jit``;
* on a GPU: bfloat16 mixed precision (float32 master weights and logits) and XLA.
* on a CPU: float32 and no XLA on TensorFlow (XLA measured slower on a 2-core CPU);
  JAX jit-compiles its steps in any case.
"""

from __future__ import annotations

import keras

from vitsd.config import Config


def accelerator() -> str | None:
    """``"gpu"`` when the current Keras backend sees a GPU, else ``None``
    (:func:`vitsd.training.device.accelerator` asks)."""
    from vitsd.training.device import accelerator as found

    return "gpu" if found() == "gpu" else None


def fast_config(config: Config, device: str | None = "auto") -> Config:
    """``config`` set up to run fast on ``device`` (``"gpu"``, ``None`` for CPU, or
    ``"auto"`` to ask the backend)."""
    if device == "auto":
        device = accelerator()
    augment = "pipeline" if config.augment == "reference" else config.augment
    if device == "gpu":
        return config.replace(augment=augment, precision="mixed_bfloat16", jit_compile=True)
    return config.replace(augment=augment, precision="float32",
                          jit_compile=keras.backend.backend() == "jax")
