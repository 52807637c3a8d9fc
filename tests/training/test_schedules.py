"""The warmup-cosine schedule, and the learning rate AdamW really applies."""

import math

import keras
import numpy as np
import pytest

from vitsd.config import Config
from vitsd.training.compile import make_optimizer
from vitsd.training.schedules import WarmUpCosine


def reference_lr(step, base, total, warmup):
    if step < warmup:
        return base * step / warmup
    if step >= total:
        return 0.0
    return 0.5 * base * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


def value(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_schedule_values_at_key_points():
    s = WarmUpCosine(learning_rate=1e-3, total_steps=1000, warmup_steps=100)
    assert value(s, 0) == 0.0
    assert value(s, 50) == pytest.approx(5e-4)
    assert value(s, 100) == pytest.approx(1e-3)           # warmup end: the peak
    assert value(s, 550) == pytest.approx(5e-4, rel=1e-5)  # half-way down the cosine
    assert value(s, 1000) == pytest.approx(0.0, abs=1e-12)
    assert value(s, 5000) == pytest.approx(0.0, abs=1e-12)
    for step in range(0, 1200, 37):
        assert value(s, step) == pytest.approx(reference_lr(step, 1e-3, 1000, 100), abs=1e-9)


def test_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmUpCosine(1e-3, total_steps=10, warmup_steps=11)
    with pytest.raises(ValueError, match="total_steps"):
        WarmUpCosine(1e-3, total_steps=0, warmup_steps=0)


def test_schedule_round_trips_through_config():
    s = WarmUpCosine(1e-3, total_steps=10, warmup_steps=2)
    assert WarmUpCosine.from_config(s.get_config()).get_config() == s.get_config()


@pytest.mark.backend
def test_adamw_applies_the_scheduled_learning_rate_each_step():
    """Train w on loss = sum(w) (constant gradient 1). Adam's step is then lr_t * 1
    (m_hat = g, v_hat = g^2), and AdamW first decays w by lr_t * wd. Replaying that
    in NumPy with the schedule's values must give the weights Keras produced."""
    config = Config(epochs=4, learning_rate=0.1, weight_decay=0.01, warmup_fraction=0.25)
    steps_per_epoch = 2
    optimizer = make_optimizer(config, steps_per_epoch)
    assert optimizer.get_config()["learning_rate"]["class_name"] == "WarmUpCosine"

    w0 = np.array([1.0, -2.0, 3.0], "float32")
    w = keras.Variable(w0)
    expected = w0.astype("float64")
    total = steps_per_epoch * config.epochs
    applied = []
    for step in range(total):
        lr = reference_lr(step, 0.1, total, int(total * 0.25))
        applied.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
        optimizer.apply_gradients([(keras.ops.ones((3,)), w)])
        expected = expected - lr * 0.01 * expected
        expected = expected - lr * 1.0 / (1.0 + 1e-7)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(w), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(applied, [reference_lr(s, 0.1, total, 2) for s in range(total)],
                               atol=1e-7)
    assert applied[0] == 0.0 and max(applied) == pytest.approx(0.1)


def test_constant_schedule_option():
    optimizer = make_optimizer(Config(schedule="constant", learning_rate=0.01), 10)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0.01)
