"""What LSA's learned temperature did in training (chapter 7, "Looking inside").

LSA divides its attention scores by a learned temperature, initialised to
``sqrt(key_dim)``. A trained value below the initial one reads as "the model learned to
sharpen its attention" -- but AdamW's decoupled weight decay shrinks every weight it
applies to, the temperature included, by ``weight_decay * learning_rate`` of itself at
every step. :func:`decay_only_value` is where decay alone would have taken the
temperature over the run's schedule; the difference from the learned value is what the
gradients did.
"""

from __future__ import annotations

import numpy as np


def learned_temperatures(model) -> list:
    """Each transformer block's LSA temperature (a float, or a list with one per head);
    ``None`` for a block with plain attention."""
    from vitsd.inspection.attention import transformer_blocks

    values = []
    for block in transformer_blocks(model):
        temperature = getattr(block.attention, "temperature", None)
        if temperature is None:
            values.append(None)
            continue
        value = np.asarray(temperature, dtype=np.float64).reshape(-1)
        values.append(float(value[0]) if value.size == 1 else value.tolist())
    return values


def decay_only_value(initial: float, config, steps_per_epoch: int, epochs=None) -> float:
    """``initial`` after ``epochs`` (default ``config.epochs``) epochs of AdamW's
    decoupled weight decay alone, on the run's learning-rate schedule: Keras' AdamW sets
    ``w <- w - w * weight_decay * lr(k)`` before each step ``k``'s gradient update, so
    without gradients ``w_T = w_0 * prod_k (1 - weight_decay * lr(k))``."""
    from vitsd.training.compile import make_schedule
    from vitsd.training.runner import applied_learning_rate

    epochs = config.epochs if epochs is None else epochs
    schedule = make_schedule(config, steps_per_epoch)
    steps = steps_per_epoch * epochs
    rates = np.array([applied_learning_rate(schedule, k) for k in range(steps)])
    return float(initial * np.prod(1.0 - config.weight_decay * rates))
