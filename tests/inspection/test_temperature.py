"""LSA's temperature after training: the decay-only reference against Keras' own AdamW
(zero gradients: only the decoupled weight decay moves the variable), and the
self-attention share against NumPy."""

import keras
import numpy as np
import pytest

from vitsd.config import Config
from vitsd.inspection.attention import attention_scores, self_attention_share
from vitsd.inspection.temperature import decay_only_value, learned_temperatures
from vitsd.models import build_named
from vitsd.training.compile import make_optimizer

TINY = dict(image_size=32, patch_size=8, projection_dim=16, num_layers=2, num_heads=2,
            key_dim=8, mlp_units=(32, 16), head_units=(), pooling="mean", num_classes=3)


@pytest.mark.backend
def test_decay_only_value_is_what_keras_adamw_does_without_gradients():
    config = Config(**TINY, epochs=3, weight_decay=0.05, learning_rate=1e-2,
                    warmup_fraction=0.2)
    steps_per_epoch = 7
    variable = keras.Variable(4.0, name="temperature")
    optimizer = make_optimizer(config, steps_per_epoch)
    for _ in range(steps_per_epoch * config.epochs):
        optimizer.apply_gradients([(keras.ops.zeros(()), variable)])
    expected = decay_only_value(4.0, config, steps_per_epoch)
    assert float(keras.ops.convert_to_numpy(variable)) == pytest.approx(expected, rel=1e-5)
    assert expected < 4.0
    # The book's own number: 10 epochs of the CPU preset on 40,500 images.
    from vitsd.training.recipes import recipe

    cpu = recipe("cpu")
    assert decay_only_value(4.0, cpu, 317) == pytest.approx(3.70, abs=0.01)


def test_self_attention_share_against_numpy():
    rng = np.random.default_rng(0)
    p = rng.random((2, 3, 5, 5))
    p /= p.sum(-1, keepdims=True)
    masked = p.copy()
    masked[..., np.arange(5), np.arange(5)] = 0.0
    rows = self_attention_share([p, masked])
    expected = np.mean([p[b, h, i, i] for b in range(2) for h in range(3) for i in range(5)])
    assert rows[0]["self"] == pytest.approx(expected) and rows[0]["uniform"] == 0.2
    assert rows[0]["ratio"] == pytest.approx(expected * 5)
    assert rows[1]["self"] == 0.0 and [r["block"] for r in rows] == [0, 1]


def test_an_lsa_model_pays_itself_nothing_and_reports_its_temperatures():
    config = Config(**TINY)
    images = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3)).astype("float32")
    lsa, plain = build_named("lsa", config), build_named("vit", config)
    assert [r["self"] for r in self_attention_share(attention_scores(lsa, images))] == [0, 0]
    shares = self_attention_share(attention_scores(plain, images))
    assert all(r["self"] > 0 for r in shares)
    assert learned_temperatures(lsa) == [pytest.approx(8 ** 0.5)] * 2
    assert learned_temperatures(plain) == [None, None]
