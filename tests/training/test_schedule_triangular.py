"""The triangular cyclical schedule (chapter 8) against Smith's formula in NumPy."""

import keras
import numpy as np
import pytest

from vitsd.training.schedules import TriangularCyclical


def smith(step, low, high, step_size):
    """Smith (2017), eq. in section 3.1, as in torch.optim.lr_scheduler.CyclicLR
    (mode="triangular"): cycle = floor(1 + t / 2s), x = |t / s - 2 cycle + 1|."""
    step = np.asarray(step, "float64")
    cycle = np.floor(1 + step / (2 * step_size))
    x = np.abs(step / step_size - 2 * cycle + 1)
    return low + (high - low) * np.maximum(0.0, 1 - x)


def values(schedule, steps):
    return np.asarray(keras.ops.convert_to_numpy(schedule(np.asarray(steps, "int64"))))


@pytest.mark.parametrize("step_size", [1, 7, 50, 12.5])
def test_values_follow_smiths_formula(step_size):
    s = TriangularCyclical(1e-5, 1e-3, step_size)
    steps = np.arange(0, int(8 * step_size) + 3)
    np.testing.assert_allclose(values(s, steps), smith(steps, 1e-5, 1e-3, step_size),
                               rtol=1e-5, atol=1e-9)
    for t in (0, 3, 99, 1234, 40_000):  # scalar steps, as the optimizer passes them
        assert float(keras.ops.convert_to_numpy(s(t))) == pytest.approx(
            smith(t, 1e-5, 1e-3, step_size), rel=1e-4, abs=1e-9)


def test_peaks_troughs_and_linear_ramps():
    s = TriangularCyclical(0.1, 1.1, 10)
    v = values(s, np.arange(0, 61))
    np.testing.assert_allclose(v[[0, 20, 40, 60]], 0.1, rtol=1e-6)   # troughs at 2ks
    np.testing.assert_allclose(v[[10, 30, 50]], 1.1, rtol=1e-6)      # peaks at (2k+1)s
    np.testing.assert_allclose(v[5], 0.6, rtol=1e-6)
    np.testing.assert_allclose(np.diff(v[:11]), 0.1, rtol=1e-4)      # up by (max-min)/s
    np.testing.assert_allclose(np.diff(v[10:21]), -0.1, rtol=1e-4)   # and down again
    assert v.min() >= 0.1 - 1e-7 and v.max() <= 1.1 + 1e-7
    np.testing.assert_allclose(v[:20], v[20:40], rtol=1e-6)          # periodic, period 2s


@pytest.mark.backend
def test_optimizer_follows_the_schedule():
    schedule = TriangularCyclical(0.0, 0.4, 2)
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    w = keras.Variable(np.zeros(1, "float32"))
    applied = []
    for _ in range(9):
        applied.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
        optimizer.apply_gradients([(keras.ops.ones((1,)), w)])
    np.testing.assert_allclose(applied, [0, 0.2, 0.4, 0.2, 0, 0.2, 0.4, 0.2, 0], atol=1e-7)
    # SGD: w = -sum of the applied rates.
    assert float(keras.ops.convert_to_numpy(w)[0]) == pytest.approx(-sum(applied), rel=1e-5)


@pytest.mark.parametrize("args,match", [
    ((1e-3, 1e-3, 10), "max_learning_rate"),
    ((1e-3, 1e-4, 10), "max_learning_rate"),
    ((-1e-5, 1e-3, 10), "min_learning_rate"),
    ((1e-5, 1e-3, 0), "step_size"),
    ((1e-5, 1e-3, -5), "step_size"),
    ((1e-5, float("nan"), 10), "max_learning_rate"),
    ((1e-5, 1e-3, "10"), "step_size"),
    ((None, 1e-3, 10), "min_learning_rate"),
])
def test_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        TriangularCyclical(*args)


def test_serialization_round_trip():
    s = TriangularCyclical(min_learning_rate=1e-5, max_learning_rate=1e-3, step_size=25)
    config = s.get_config()
    assert config == {"min_learning_rate": 1e-5, "max_learning_rate": 1e-3, "step_size": 25.0}
    clone = TriangularCyclical.from_config(config)
    steps = np.arange(0, 200, 7)
    np.testing.assert_array_equal(values(clone, steps), values(s, steps))
    # Through Keras' registry (how a saved optimizer finds it again).
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(s))
    assert isinstance(revived, TriangularCyclical) and revived.get_config() == config
    optimizer = keras.optimizers.AdamW(learning_rate=s)
    assert optimizer.get_config()["learning_rate"]["class_name"] == "TriangularCyclical"
    clone_opt = keras.optimizers.AdamW.from_config(optimizer.get_config())
    assert clone_opt.get_config()["learning_rate"] == optimizer.get_config()["learning_rate"]
