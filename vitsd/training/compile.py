"""How a model is compiled for a run (chapter 6, "Training and comparison"): the loss
(label smoothing and soft labels when the config mixes them), the metrics (accuracy,
top-5), and AdamW following a learning-rate schedule of :mod:`vitsd.training.schedules`.
"""

from __future__ import annotations

import keras

from vitsd.config import Config
from vitsd.training.schedules import WarmUpCosine


def make_schedule(config: Config, steps_per_epoch: int):
    """The learning rate the optimizer follows: a :class:`WarmUpCosine` over the whole
    run (``warmup_fraction`` of the steps warming up), a constant, or the triangular
    cyclical policy between ``min_learning_rate`` and ``learning_rate`` with one cycle
    every ``cycle_epochs`` epochs (chapter 8)."""
    if config.schedule == "constant":
        return config.learning_rate
    if config.schedule == "triangular":
        from vitsd.training.schedules import TriangularCyclical

        return TriangularCyclical(
            min_learning_rate=config.min_learning_rate,
            max_learning_rate=config.learning_rate,
            step_size=max(1, config.cycle_epochs * steps_per_epoch // 2),
        )
    total = steps_per_epoch * config.epochs
    return WarmUpCosine(
        learning_rate=config.learning_rate,
        total_steps=total,
        warmup_steps=int(total * config.warmup_fraction),
    )


def make_optimizer(config: Config, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """AdamW following :func:`make_schedule`, with ``config.weight_decay`` and
    ``config.adam_epsilon`` (Keras' default 1e-7; PyTorch's, in the paper preset, 1e-8)."""
    return keras.optimizers.AdamW(
        learning_rate=make_schedule(config, steps_per_epoch), weight_decay=config.weight_decay,
        epsilon=config.adam_epsilon,
    )


def compile_model(model: keras.Model, config: Config, steps_per_epoch: int | None) -> None:
    """Loss and metrics (accuracy, top-5); the optimizer only when ``steps_per_epoch``
    is given (evaluation needs none). Integer labels by default; one-hot labels with
    label smoothing when the config mixes or smooths labels."""
    k = min(5, config.num_classes)
    if config.soft_labels:
        loss = keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=config.label_smoothing)
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy"),
                   keras.metrics.TopKCategoricalAccuracy(k, name="top5")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                   keras.metrics.SparseTopKCategoricalAccuracy(k, name="top5")]
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch) if steps_per_epoch else None,
        loss=loss,
        metrics=metrics,
        jit_compile=config.jit_compile,
    )


def applied_learning_rate(schedule, step: int) -> float:
    """The learning rate a schedule (or constant) gives at optimizer step ``step``."""
    value = schedule(step) if callable(schedule) else schedule
    return float(keras.ops.convert_to_numpy(value))
