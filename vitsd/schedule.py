"""Learning-rate schedules (taught in chapter 6, "Training and comparison").

``WarmUpCosine`` rises linearly from ``warmup_learning_rate`` to ``learning_rate``
over ``warmup_steps``, then follows half a cosine down to 0 at ``total_steps`` (and
stays at 0 afterwards). Unlike the keras.io reference, vitsd hands the schedule to
the optimizer -- see :func:`vitsd.train.make_optimizer` -- so it really drives training.
"""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vitsd")
class WarmUpCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup then cosine decay to zero; ``step`` counts optimizer updates."""

    def __init__(
        self,
        learning_rate: float,
        total_steps: int,
        warmup_steps: int,
        warmup_learning_rate: float = 0.0,
    ):
        super().__init__()
        if not total_steps > 0:
            raise ValueError(f"total_steps must be positive, got {total_steps}.")
        if not 0 <= warmup_steps <= total_steps:
            raise ValueError(
                f"warmup_steps must be between 0 and total_steps ({total_steps}), got {warmup_steps}."
            )
        if warmup_learning_rate > learning_rate:
            raise ValueError(
                f"warmup_learning_rate ({warmup_learning_rate}) must not exceed "
                f"learning_rate ({learning_rate})."
            )
        self.learning_rate = float(learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.warmup_learning_rate = float(warmup_learning_rate)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        decay_steps = max(self.total_steps - self.warmup_steps, 1)
        progress = ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        cosine = 0.5 * self.learning_rate * (1.0 + ops.cos(math.pi * progress))
        if self.warmup_steps == 0:
            return cosine
        slope = (self.learning_rate - self.warmup_learning_rate) / self.warmup_steps
        warmup = self.warmup_learning_rate + slope * step
        return ops.where(step < self.warmup_steps, warmup, cosine)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "warmup_learning_rate": self.warmup_learning_rate,
        }
