"""The paper preset against the official code (chapter 8): config switches, repeated
augmentation, constant-fill random erasing, per-batch CutMix/MixUp, the model switches,
the side-by-side table. Runs on every Keras backend (``KERAS_BACKEND=jax`` too)."""

import math
import random

import keras
import numpy as np
import pytest
import tensorflow as tf

import vitsd
from vitsd.config import Config
from vitsd.data import augmentation, mixing, random_erasing, sampler
from vitsd.data.mixing import BatchMix, CutMixOrMixUp
from vitsd.data.pipeline import make_dataset
from vitsd.data.random_erasing import ConstantErasing
from vitsd.layers.lsa import LocalitySelfAttention
from vitsd.training import paper_recipe
from vitsd.training.recipes import RECIPES, recipe

NEW_FIELDS = {  # field: default (today's behaviour)
    "drop_path_schedule": "linear", "mlp_output_activation": "gelu", "qkv_bias": True,
    "temperature": "layer", "temperature_form": "divide", "initialization": "keras",
    "random_erasing_fill": "noise", "mix_probability": 1.0, "mix_lambda": "per_example",
    "repeated_augmentation": 1, "drop_remainder": False, "adam_epsilon": 1e-7,
}


# ------------------------------------------------------------------------ config
def test_new_fields_default_to_todays_behaviour_in_every_other_preset():
    for name in ("reference", "cpu"):
        config = recipe(name)
        assert {k: getattr(config, k) for k in NEW_FIELDS} == NEW_FIELDS
        assert not set(NEW_FIELDS) & set(RECIPES[name])
    # the CPU preset a campaign is training with, value by value
    assert RECIPES["cpu"] == dict(
        image_size=32, patch_size=4, projection_dim=64, num_layers=4, num_heads=4,
        key_dim=16, mlp_units=(128, 64), head_units=(), pooling="mean",
        attention_dropout=0.0, mlp_dropout=0.0, head_dropout=0.0, augment="crop",
        crop_padding=4, label_smoothing=0.1, learning_rate=1e-3, weight_decay=5e-2,
        batch_size=128, epochs=10, warmup_fraction=0.1)


def test_paper_preset_is_the_official_code():
    c = recipe("paper")
    assert (c.augment, c.flip, c.crop_padding) == ("autoaugment", "horizontal", 4)
    assert (c.random_erasing, c.random_erasing_fill) == (0.25, "constant")
    assert (c.cutmix_alpha, c.mixup_alpha, c.mix_probability, c.mix_lambda) == (
        1.0, 1.0, 0.5, "per_batch")
    assert (c.repeated_augmentation, c.drop_remainder) == (3, True)
    assert (c.stochastic_depth, c.drop_path_schedule) == (0.1, "constant")
    assert (c.mlp_output_activation, c.qkv_bias, c.temperature, c.temperature_form) == (
        "linear", False, "head", "multiply")
    assert (c.initialization, c.layer_norm_eps, c.adam_epsilon) == ("official", 1e-5, 1e-8)
    assert (c.label_smoothing, c.learning_rate, c.weight_decay, c.batch_size, c.epochs,
            c.warmup_fraction) == (0.1, 1e-3, 5e-2, 128, 100, 0.1)


def test_new_fields_round_trip_through_dict():
    c = recipe("paper", epochs=3)
    assert Config.from_dict(c.to_dict()) == c
    assert {k: c.to_dict()[k] for k in NEW_FIELDS} == {k: getattr(c, k) for k in NEW_FIELDS}
    # a record written before these fields existed reads back with today's defaults
    old = {k: v for k, v in Config().to_dict().items() if k not in NEW_FIELDS}
    assert Config.from_dict(old) == Config()


@pytest.mark.parametrize("overrides, message", [
    ({"drop_path_schedule": "cosine"},
     r"drop_path_schedule must be one of \('linear', 'constant'\)"),
    ({"mlp_output_activation": "relu"},
     r"mlp_output_activation must be one of \('gelu', 'linear'\)"),
    ({"temperature": "token"}, r"temperature must be one of \('layer', 'head'\)"),
    ({"temperature_form": "add"}, r"temperature_form must be one of \('divide', 'multiply'\)"),
    ({"initialization": "torch"}, r"initialization must be one of \('keras', 'official'\)"),
    ({"random_erasing_fill": "mean"},
     r"random_erasing_fill must be one of \('noise', 'constant'\)"),
    ({"mix_lambda": "per_pixel"}, r"mix_lambda must be one of \('per_example', 'per_batch'\)"),
    ({"augment": "randaugment"}, r"augment must be one of .*'autoaugment'"),
    ({"qkv_bias": "no"}, "qkv_bias must be true or false"),
    ({"drop_remainder": 1}, "drop_remainder must be true or false"),
    ({"repeated_augmentation": 0}, "repeated_augmentation must be a positive integer"),
    ({"repeated_augmentation": 1.5}, "repeated_augmentation must be a positive integer"),
    ({"mix_probability": 0.0}, r"mix_probability must be in \(0, 1\]"),
    ({"mix_probability": 1.5}, r"mix_probability must be in \(0, 1\]"),
    ({"adam_epsilon": 0.0}, "adam_epsilon must be a positive number"),
    ({"cutmix_alpha": 2.0}, "cutmix_alpha must be at most 1"),
])
def test_invalid_new_values_name_the_field_and_the_valid_ones(overrides, message):
    with pytest.raises(ValueError, match=message):
        Config(**overrides)


def test_per_batch_mixing_allows_cutmix_alpha_above_one():
    assert Config(mix_lambda="per_batch", cutmix_alpha=2.0).cutmix_alpha == 2.0


# ------------------------------------------------------------------ the table
def test_side_by_side_table_reads_the_built_model_and_agrees_but_for_the_deliberate_item():
    paper = recipe("paper")
    model = vitsd.build_named("sl-vit", paper)
    rows = paper_recipe.comparison(paper, model)
    assert [r["item"] for r in rows] == [item[0] for item in paper_recipe.ITEMS]
    assert {"SPT", "LSA mask", "LSA temperature"} <= {r["item"] for r in rows}
    assert [r["item"] for r in rows if not r["agrees"]] == ["Evaluation"]
    assert set(paper_recipe.DELIBERATE) == {"Evaluation"}
    for row in rows:
        assert row["where"] in row["official code"] and row["paper"] and row["vitsd"]
    text = {r["item"]: r["vitsd"] for r in rows}
    assert text["Model"] == "9 blocks, width 192, 12 heads of 16, MLP 384; 64 patch tokens"
    assert text["SPT"].startswith("5 views") and "240 values" in text["SPT"]
    assert text["LSA mask"].startswith("attention of a token to itself: 0 ")
    assert text["LSA temperature"] == "12 learned scales per block, start 0.25, multiplying"
    assert text["Repeated augmentation"] == "3 passes: 1,171 steps per epoch on 50,000 images"
    assert text["Evaluation"].startswith("trains on 45,000 of 50,000 images")
    official = paper_recipe.official_config()
    assert official.validation_split == 0.0
    assert all(r["agrees"] for r in paper_recipe.comparison(official))
    assert len(paper_recipe.REMAINING_DIFFERENCES) >= 5


def test_side_by_side_table_sees_what_a_model_or_preset_does_differently():
    paper = recipe("paper")
    # vanilla ViT at the paper recipe: the measurements find no SPT, no mask, fixed scales
    vit = {r["item"]: r for r in paper_recipe.comparison(paper, vitsd.build_named("vit", paper))}
    assert [i for i, r in vit.items() if not r["agrees"]] == [
        "SPT", "LSA mask", "LSA temperature", "Evaluation"]
    assert vit["SPT"]["vitsd"] == "plain patches of 48 values"
    assert float(vit["LSA mask"]["vitsd"].split(": ")[1].split()[0]) > 0.01
    # one switch changed: the row that reads it disagrees, the others still agree
    for overrides, item in [({"qkv_bias": True}, "Query/key/value"),
                            ({"stochastic_depth": 0.2}, "Stochastic depth"),
                            ({"drop_path_schedule": "linear"}, "Stochastic depth"),
                            ({"layer_norm_eps": 1e-6}, "LayerNorm epsilon"),
                            ({"mlp_output_activation": "gelu"}, "MLP"),
                            ({"initialization": "keras"}, "Initialisation"),
                            ({"repeated_augmentation": 1}, "Repeated augmentation"),
                            ({"warmup_fraction": 0.05}, "Schedule"),
                            ({"adam_epsilon": 1e-7}, "Optimiser")]:
        rows = paper_recipe.comparison(recipe("paper", **overrides))
        assert [r["item"] for r in rows if not r["agrees"]] == [item, "Evaluation"], overrides
    reference = {r["item"]: r["agrees"] for r in paper_recipe.comparison(recipe("reference"))}
    for item in ("Model", "Classifier", "AutoAugment", "Repeated augmentation", "Optimiser",
                 "LSA temperature", "Initialisation"):
        assert not reference[item], item


# ---------------------------------------------------------- repeated augmentation
def test_steps_and_images_per_epoch():
    paper = recipe("paper")
    assert sampler.steps_per_epoch(50_000, paper) == 1171  # the official len(train_loader)
    assert sampler.steps_per_epoch(45_000, paper) == 1054
    assert sampler.images_per_epoch(45_000, paper) == 1054 * 128
    ref = Config()
    assert sampler.steps_per_epoch(45_000, ref) == math.ceil(45_000 / 256)
    assert sampler.images_per_epoch(45_000, ref) == 45_000


def test_an_epoch_too_small_for_one_full_batch_is_refused(tmp_path):
    from vitsd.data import load_dataset
    from vitsd.training.runner import train

    data = load_dataset("sample", limit=12)
    assert sampler.steps_per_epoch(len(data.x_train), recipe("paper")) == 0
    with pytest.raises(ValueError, match="does not fill one batch of 128"):
        train("vit", out=tmp_path / "run", config=recipe("paper"), data=data, verbose=0)


def identity_config(**overrides):
    return recipe("paper", augment="none", cutmix_alpha=0.0, mixup_alpha=0.0,
                  label_smoothing=0.0, **overrides)


def test_an_epoch_is_three_shuffled_passes_each_a_permutation():
    n, batch = 20, 8
    x = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 3), np.uint8)
    y = np.arange(n) % 5
    ds = make_dataset(x, y, identity_config(batch_size=batch), 5, training=True,
                      categorical=False)

    def epoch():
        ids = [int(v) for images, _ in ds.as_numpy_iterator() for v in images[:, 0, 0, 0]]
        return ids

    first = epoch()
    assert len(first) == 3 * n // batch * batch == 56  # 7 batches; the 4 left over dropped
    assert [b[0].shape[0] for b in ds.as_numpy_iterator()] == [batch] * 7
    passes = [first[:n], first[n:2 * n]]
    assert all(sorted(p) == list(range(n)) for p in passes)  # each pass a permutation
    assert passes[0] != passes[1]  # a new permutation per pass
    assert epoch() != first  # and new ones next epoch
    whole = make_dataset(x, y, identity_config(batch_size=batch, drop_remainder=False), 5,
                         True, False)
    assert sum(b[0].shape[0] for b in whole.as_numpy_iterator()) == 3 * n


def test_paper_pipeline_epoch_is_three_augmented_passes_of_full_batches():
    n = 40
    x = np.random.default_rng(0).integers(0, 256, (n, 16, 16, 3)).astype("uint8")
    y = np.arange(n) % 4
    batches = list(make_dataset(x, y, recipe("paper", batch_size=16), 4, training=True,
                                categorical=True, deterministic=True).as_numpy_iterator())
    assert len(batches) == sampler.steps_per_epoch(n, recipe("paper", batch_size=16)) == 7
    assert all(images.shape == (16, 16, 16, 3) for images, _ in batches)


# ------------------------------------------------------------- random erasing
def python_erasing(uniforms, height, width, p=0.25, sl=0.02, sh=0.4, r1=0.3):
    """utils/random_erasing.py's __call__ as a plain loop, reading its random numbers
    from ``uniforms`` instead of Python's random module."""
    if uniforms["gate"] > p:
        return None
    for attempt in range(len(uniforms["area"])):
        area = height * width
        target_area = (sl + (sh - sl) * uniforms["area"][attempt]) * area
        aspect_ratio = r1 + (1 / r1 - r1) * uniforms["ratio"][attempt]
        h = int(round(math.sqrt(target_area * aspect_ratio)))
        w = int(round(math.sqrt(target_area / aspect_ratio)))
        if w < width and h < height:
            x1 = int(uniforms["corner"][0] * (height - h + 1))
            y1 = int(uniforms["corner"][1] * (width - w + 1))
            return x1, y1, h, w
    return None


def test_constant_erasing_draws_rectangles_as_the_official_code():
    erasing = ConstantErasing(0.25, [1, 2, 3], seed=0)
    rng = np.random.default_rng(1)
    batch, attempts = 400, 100
    uniforms = {"gate": rng.random(batch), "area": rng.random((batch, attempts)),
                "ratio": rng.random((batch, attempts)), "corner": rng.random((batch, 2))}
    uniforms["area"][:5, :3] = 0.999  # first attempts too tall or wide: skipped
    uniforms["ratio"][:5, :3] = 0.999
    for height, width in ((32, 32), (8, 12)):
        got = {k: np.asarray(v) for k, v in erasing.rectangles(uniforms, height, width).items()}
        for i in range(batch):
            ref = python_erasing({k: v[i] for k, v in uniforms.items()}, height, width)
            assert bool(got["erase"][i]) == (ref is not None)
            if ref is not None:
                assert (got["top"][i], got["left"][i], got["rows"][i], got["cols"][i]) == ref


def test_constant_erasing_paints_the_fill_on_about_a_quarter_of_the_images():
    fill = np.array([163.84, 155.87, 143.48], np.float32)
    erasing = ConstantErasing(0.25, fill, seed=3)
    images = np.full((2000, 32, 32, 3), 7.0, np.float32)
    out = np.asarray(erasing(images))
    painted = (out == fill).all(-1)
    untouched = (out == 7.0).all(-1)
    assert (painted | untouched).all()
    erased = painted.any((1, 2))
    assert abs(erased.mean() - 0.25) < 0.03
    area = painted.sum((1, 2))[erased] / 1024
    assert area.min() >= 0.01 and area.max() <= 0.45 and 0.15 < area.mean() < 0.25
    for mask in painted[erased][:50]:  # one solid rectangle each
        rows, cols = np.nonzero(mask)
        assert mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
    np.testing.assert_array_equal(erasing(images[:4], training=False), images[:4])


def test_erasing_fill_is_the_normalised_mean_written_back_as_a_pixel():
    # main.py 206-214: RandomErasing(mean=CIFAR-100 mean) after Normalize(mean, std)
    mean = (0.5070, 0.4865, 0.4409)
    std = (0.2673, 0.2564, 0.2762)
    expected = [255 * (0.5070 + 0.5070 * 0.2673), 255 * (0.4865 + 0.4865 * 0.2564),
                255 * (0.4409 + 0.4409 * 0.2762)]  # 163.84, 155.87, 143.48
    np.testing.assert_allclose(random_erasing.official_erasing_fill(mean, std), expected)
    np.testing.assert_allclose(expected, [163.84, 155.87, 143.48], atol=0.01)
    x = np.random.default_rng(0).integers(0, 256, (300, 8, 8, 3)).astype("uint8")
    m, s = random_erasing.channel_statistics(x, chunk=64)
    np.testing.assert_allclose(m, (x / 255.0).mean((0, 1, 2)), rtol=1e-10)
    np.testing.assert_allclose(s, (x / 255.0).std((0, 1, 2)), rtol=1e-8)


def test_paper_pipeline_erases_with_the_training_images_fill():
    x = np.zeros((64, 16, 16, 3), np.uint8)
    x[:, :, 8:] = 200  # every channel: half 0, half 200 -> mean 100, std 100 (pixels)
    fill = random_erasing.official_erasing_fill(*random_erasing.channel_statistics(x))
    np.testing.assert_allclose(fill, 100 + 100 * 100 / 255)  # 139.2: never a pixel value
    config = recipe("paper", batch_size=64, cutmix_alpha=0.0, mixup_alpha=0.0,
                    label_smoothing=0.0, random_erasing=0.99, repeated_augmentation=1)
    images, _ = next(make_dataset(x, np.zeros(64, int), config, 2, True, False).as_numpy_iterator())
    painted = np.isclose(images, fill.astype("float32")).all(-1)
    assert painted.any((1, 2)).mean() > 0.9
    assert np.array_equal(images[~painted], np.round(images[~painted]))  # the rest: pixels


# ------------------------------------------------------------- CutMix / MixUp
COLOURS = np.arange(1, 9, dtype="float32") * 20.0


def constant_batch(height=16, width=16):
    images = np.ones((8, height, width, 3), "float32") * COLOURS[:, None, None, None]
    return images, np.eye(8, dtype="float32")


def rand_bbox(height, width, lam, center):
    """utils/mix.py rand_bbox with its two np.random.randint draws given as uniforms
    (``size[2]`` is the height: the box's first pair indexes rows)."""
    cut_rat = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * cut_rat), int(width * cut_rat)
    cy, cx = int(center[0] * height), int(center[1] * width)
    return (np.clip(cy - cut_h // 2, 0, height), np.clip(cy + cut_h // 2, 0, height),
            np.clip(cx - cut_w // 2, 0, width), np.clip(cx + cut_w // 2, 0, width))


def test_cutmix_box_is_the_official_rand_bbox():
    rng = np.random.default_rng(0)
    for _ in range(300):
        lam, center = rng.random(), rng.random(2)
        height, width = int(rng.integers(4, 40)), int(rng.integers(4, 40))
        got = [int(v) for v in BatchMix.cutmix_box(height, width, tf.constant(lam, tf.float64),
                                                   tf.constant(center))]
        assert got == [int(v) for v in rand_bbox(height, width, lam, center)]


def run_batch_mix(mix, batches):
    images, labels = constant_batch()
    ds = tf.data.Dataset.from_tensors({"images": images, "labels": labels}).repeat(batches)
    return [(out["images"].numpy(), out["labels"].numpy()) for out in ds.map(mix)]


def test_batch_mix_half_clean_quarter_cutmix_quarter_mixup_one_weight_per_batch():
    results = run_batch_mix(BatchMix(1.0, 1.0, probability=0.5, seed=4), 400)
    kinds, weights = [], []
    own = np.arange(8)
    for images, labels in results:
        np.testing.assert_allclose(labels.sum(1), 1.0, atol=1e-5)
        if np.array_equal(labels, np.eye(8)):
            assert np.array_equal(images, constant_batch()[0])
            kinds.append("clean")
            continue
        partner = labels.copy()
        partner[own, own] = 0
        mixed = partner.sum(1) > 1e-6  # rows not paired with themselves
        lam = labels[own, own][mixed]
        assert np.ptp(lam) < 1e-5  # one weight for the whole batch
        weights.append(lam[0])
        if np.isin(images, COLOURS).all():  # CutMix: pasted pixels, one box for all
            kinds.append("cutmix")
            pasted = images[mixed, :, :, 0] != COLOURS[mixed, None, None]
            assert (pasted == pasted[0]).all()
            np.testing.assert_allclose(1 - pasted[0].mean(), lam[0], atol=1e-6)
        else:  # MixUp: every pixel blended with the same weight
            kinds.append("mixup")
            np.testing.assert_allclose(images[:, 0, 0, 0], labels @ COLOURS, rtol=1e-5)
    counts = {k: kinds.count(k) for k in ("clean", "cutmix", "mixup")}
    assert abs(counts["clean"] - 200) < 40 and abs(counts["cutmix"] - 100) < 35 \
        and abs(counts["mixup"] - 100) < 35, counts


def draw_weights(mix, count):
    """``count`` per-batch weights drawn the way the pipeline draws them (in tf.data)."""
    ds = tf.data.Dataset.range(count).map(lambda _: mix.draw(8)["lam"])
    return np.fromiter(ds.as_numpy_iterator(), float)


def test_batch_mix_weights_follow_beta_one_one():
    lams = draw_weights(BatchMix(1.0, 1.0, probability=1.0, seed=0), 3000)
    assert abs(lams.mean() - 0.5) < 0.02 and abs(lams.var() - 1 / 12) < 0.008  # U(0, 1)
    assert np.histogram(lams, bins=5, range=(0, 1))[0].min() > 500
    small = draw_weights(BatchMix(0.2, 0.2, probability=1.0, seed=0), 2000)
    assert ((small < 0.1) | (small > 0.9)).mean() > 0.5  # Beta(0.2, 0.2): U-shaped


def test_the_pipeline_builds_the_mixing_of_the_config(monkeypatch):
    made = []
    original = mixing.BatchMix.__init__

    def spy(self, *args, **kwargs):
        made.append((args, kwargs))
        original(self, *args, **kwargs)

    monkeypatch.setattr(mixing.BatchMix, "__init__", spy)
    x = np.zeros((16, 8, 8, 3), "uint8")
    make_dataset(x, np.arange(16) % 4, recipe("paper", batch_size=8), 4, True, True)
    assert made == [((1.0, 1.0), {"probability": 0.5, "seed": 45})]
    keras_mix = CutMixOrMixUp(1.0, 0.8, seed=0, probability=0.5)
    assert keras_mix.probability == 0.5
    outs = run_batch_mix(keras_mix, 80)
    clean = sum(np.array_equal(labels, np.eye(8)) for _, labels in outs)
    assert 20 <= clean <= 60
    with pytest.raises(ValueError, match="probability"):
        BatchMix(1.0, 1.0, probability=0.0)
    with pytest.raises(ValueError, match="cutmix_alpha > 0 or mixup_alpha > 0"):
        BatchMix(0.0, 0.0)


# ------------------------------------------------------- the AutoAugment chain
def test_autoaugment_chain_gives_each_image_of_a_batch_its_own_operations():
    image = np.random.default_rng(2).integers(0, 256, (1, 32, 32, 3)).astype("uint8")
    x = np.repeat(image, 32, axis=0)
    config = recipe("paper", batch_size=32, cutmix_alpha=0.0, mixup_alpha=0.0,
                    label_smoothing=0.0, repeated_augmentation=1)
    images, _ = next(make_dataset(x, np.zeros(32, int), config, 2, True, False,
                                  deterministic=True).as_numpy_iterator())
    assert images.dtype == np.float32 and images.shape == (32, 32, 32, 3)
    assert images.min() >= 0 and images.max() <= 255
    assert len({im.tobytes() for im in images}) >= 28  # copies of one image, made different
    again, _ = next(make_dataset(x, np.zeros(32, int), config, 2, True, False,
                                 deterministic=True).as_numpy_iterator())
    np.testing.assert_array_equal(images, again)  # seeded


def test_autoaugment_views_for_the_figure():
    images = np.random.default_rng(3).integers(0, 256, (6, 32, 32, 3)).astype("uint8")
    views, captions = augmentation.autoaugment_views(images, recipe("paper"), passes=2)
    assert len(views) == len(captions) == 2
    assert all(v.shape == images.shape and v.dtype == np.uint8 for v in views)
    assert all(len(c) == 6 and all(isinstance(s, str) and s for s in c) for c in captions)
    assert not np.array_equal(views[0], views[1])


# ------------------------------------------------------------ model switches
def small(**overrides):
    return recipe("paper", projection_dim=16, num_layers=3, num_heads=2, key_dim=8,
                  mlp_units=(32, 16), num_classes=4, **overrides)


def test_paper_blocks_use_the_official_attention_mlp_and_drop_path():
    model = vitsd.build_named("vit", small())
    for i in range(3):
        block = model.get_layer(f"block_{i}")
        assert block.drop_path == pytest.approx(0.1)  # constant, every block
        assert isinstance(block.attention, LocalitySelfAttention)
        assert not block.attention.diagonal_masking and not block.attention.learnable_temperature
        assert block.mlp[0].activation is keras.activations.gelu
        assert block.mlp[-2].activation is keras.activations.linear
        names = [w.path.split("/")[-2:] for w in block.attention.weights]
        assert ["query", "bias"] not in names and ["attention_output", "bias"] in names
    linear = vitsd.build_named("vit", small(drop_path_schedule="linear"))
    assert [linear.get_layer(f"block_{i}").drop_path for i in range(3)] == pytest.approx(
        [0.0, 0.05, 0.1])
    reference = vitsd.build_named("vit", Config(num_layers=1, head_units=(8,), num_classes=3))
    assert isinstance(reference.get_layer("block_0").attention, keras.layers.MultiHeadAttention)


def ref_lsa(x, wq, wk, wv, wo, bo, scale):
    """Official Attention.forward (models/vit.py 75-92) with LSA, in NumPy."""
    q, k, v = (np.einsum("bnc,chd->bhnd", x, w) for w in (wq, wk, wv))
    dots = np.einsum("bhid,bhjd->bhij", q, k) * scale[None, :, None, None]
    n = x.shape[1]
    dots[:, :, np.arange(n), np.arange(n)] = -987654321
    attn = np.exp(dots - dots.max(-1, keepdims=True))
    attn /= attn.sum(-1, keepdims=True)
    out = np.einsum("bhij,bhjd->bihd", attn, v)
    return np.einsum("bihd,hde->bie", out, wo) + bo


def test_per_head_multiplied_scale_matches_the_official_attention():
    layer = LocalitySelfAttention(3, 4, qkv_bias=False, temperature="head",
                                  temperature_form="multiply")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 6)).astype("float32")
    layer(x)
    assert layer.temperature is None and tuple(layer.scale.shape) == (3,)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.scale), 0.5)  # 4 ** -0.5
    layer.scale.assign(np.array([0.2, 0.5, 1.3], "float32"))
    np.testing.assert_allclose(layer.temperatures(), [5.0, 2.0, 1 / 1.3], rtol=1e-6)
    weights = {w.path.split("/")[-2] + "/" + w.path.split("/")[-1]:
               keras.ops.convert_to_numpy(w) for w in layer.weights}
    assert "query/bias" not in weights
    expected = ref_lsa(x, weights["query/kernel"], weights["key/kernel"],
                       weights["value/kernel"], weights["attention_output/kernel"],
                       weights["attention_output/bias"], np.array([0.2, 0.5, 1.3]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, atol=1e-5)
    per_head = LocalitySelfAttention(3, 4, temperature="head")
    per_head(x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(per_head.temperature), 2.0)
    with pytest.raises(ValueError, match="temperature must be"):
        LocalitySelfAttention(3, 4, temperature="token")


def test_official_initialisation_draws_the_official_distributions():
    model = vitsd.build_named("sl-vit", recipe("paper"))
    weights = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights}
    assert abs(weights["class_token/token"].std() - 1) < 0.2  # N(0, 1), 192 values
    embeddings = weights["position/position_embedding/embeddings"]
    assert abs(embeddings.std() - 1) < 0.02 and abs(embeddings.mean()) < 0.02
    # Xavier normal with PyTorch's fans: to_qkv is Linear(192, 576) (vit.py line 61)
    for path, std in [("block_0/attention/query/kernel", math.sqrt(2 / (192 + 576))),
                      ("block_0/attention/attention_output/kernel", math.sqrt(2 / 384)),
                      ("block_0/mlp_dense_0/kernel", math.sqrt(2 / (192 + 384))),
                      ("tokenizer/projection/kernel", math.sqrt(2 / (240 + 192))),
                      ("logits/kernel", math.sqrt(2 / (192 + 100)))]:
        assert weights[path].std() == pytest.approx(std, rel=0.05), path
    assert not weights["block_0/attention/attention_output/bias"].any()
    np.testing.assert_allclose(weights["block_0/attention/scale"], 0.25)
    keras_init = vitsd.build_named("sl-vit", recipe("paper", initialization="keras"))
    token = keras.ops.convert_to_numpy(keras_init.get_layer("class_token").token)
    assert not token.any()  # Keras' zero class token


def test_paper_model_trains_a_step_saves_and_reloads(tmp_path):
    config = small(batch_size=8)
    model = vitsd.build_named("sl-vit", config)
    from vitsd.training.compile import compile_model

    compile_model(model, config, steps_per_epoch=2)
    assert model.optimizer.epsilon == pytest.approx(1e-8)
    x = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3)).astype("float32")
    y = np.eye(4, dtype="float32")[np.arange(16) % 4]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "paper.keras"
    model.save(path)
    loaded = vitsd.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x[:4], training=False)),
                               keras.ops.convert_to_numpy(model(x[:4], training=False)),
                               atol=1e-5)
    block = loaded.get_layer("block_0")
    assert (block.qkv_bias, block.temperature, block.temperature_form,
            block.mlp_output_activation) == (False, "head", "multiply", "linear")


def test_python_random_is_not_used():
    """The pipeline draws from TensorFlow generators only: Python's and NumPy's global
    random states are left alone (the official code uses both)."""
    state = random.getstate()
    np_state = np.random.get_state()[1].copy()
    x = np.zeros((8, 8, 8, 3), "uint8")
    list(make_dataset(x, np.arange(8) % 2, recipe("paper", batch_size=4), 2, True, True))
    assert random.getstate() == state and (np.random.get_state()[1] == np_state).all()
