"""Learning-rate schedules (taught in chapter 6, "Training and comparison").

``WarmUpCosine`` rises linearly from ``warmup_learning_rate`` to ``learning_rate``
over ``warmup_steps``, then follows half a cosine down to 0 at ``total_steps`` (and
stays at 0 afterwards). Unlike the keras.io reference, vitsd hands the schedule to
the optimizer -- see :func:`vitsd.training.runner.make_optimizer` -- so it really drives training.

``TriangularCyclical`` (chapter 8, "Going further") is the triangular cyclical policy of
Smith, "Cyclical Learning Rates for Training Neural Networks" (arXiv 1506.01186), as
used by the PyTorch-Lightning CIFAR-100 ViT tutorial: the rate climbs linearly from
``min_learning_rate`` to ``max_learning_rate`` over ``step_size`` steps, falls back
over the next ``step_size`` steps, and the cycle repeats.
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


@keras.saving.register_keras_serializable(package="vitsd")
class TriangularCyclical(keras.optimizers.schedules.LearningRateSchedule):
    """Smith's triangular cycle; ``step`` counts optimizer updates.

    With ``x = |step / step_size - 2 * floor(step / (2 * step_size)) - 1|`` (1 at the
    start of a cycle, 0 half-way), the rate is
    ``min_learning_rate + (max_learning_rate - min_learning_rate) * (1 - x)``: the
    minimum at steps ``0, 2s, 4s, ...``, the maximum at ``s, 3s, 5s, ...``
    (``s = step_size``, which may be fractional, e.g. half of an odd number of steps).
    """

    def __init__(self, min_learning_rate: float, max_learning_rate: float, step_size: float):
        super().__init__()
        for name, value in (("min_learning_rate", min_learning_rate),
                            ("max_learning_rate", max_learning_rate),
                            ("step_size", step_size)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}.")
        if min_learning_rate < 0:
            raise ValueError(f"min_learning_rate must be non-negative, got {min_learning_rate}.")
        if not max_learning_rate > min_learning_rate:
            raise ValueError(
                f"max_learning_rate ({max_learning_rate}) must be greater than "
                f"min_learning_rate ({min_learning_rate})."
            )
        if not step_size > 0:
            raise ValueError(
                f"step_size (steps of half a cycle) must be positive, got {step_size}."
            )
        self.min_learning_rate = float(min_learning_rate)
        self.max_learning_rate = float(max_learning_rate)
        self.step_size = float(step_size)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        # Position inside the current cycle, in half-cycles: 0 .. 2. Taking the step
        # modulo the cycle first keeps float32 exact far into training.
        phase = ops.mod(step, 2.0 * self.step_size) / self.step_size
        height = 1.0 - ops.abs(phase - 1.0)
        height = ops.clip(height, 0.0, 1.0)  # guards float rounding at cycle edges
        return self.min_learning_rate + (self.max_learning_rate - self.min_learning_rate) * height

    def get_config(self):
        return {
            "min_learning_rate": self.min_learning_rate,
            "max_learning_rate": self.max_learning_rate,
            "step_size": self.step_size,
        }
