"""The tf.data training pipeline (chapter 8): batches, strong augmentation, CutMix or
MixUp measured on constant-colour images, evaluation order, seeds. Runs on every Keras
backend: the preprocessing layers switch to TensorFlow ops inside tf.data."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from vitsd.config import Config
from vitsd.data import augmentation
from vitsd.data.augmentation import strong_augmentation
from vitsd.data.mixing import CutMixOrMixUp, PixelAreaCutMix
from vitsd.data.pipeline import make_dataset
from vitsd.training.recipes import recipe

RNG = np.random.default_rng(0)


def strong_recipe(**overrides):
    """The strong-augmentation recipe vitsd used before the paper preset followed the
    official code: flip, RandAugment and Keras' random erasing, CutMix or MixUp on every
    batch, one pass per epoch."""
    return recipe("paper", **{**dict(
        augment="strong", random_erasing_fill="noise", mixup_alpha=0.8,
        mix_probability=1.0, mix_lambda="per_example", repeated_augmentation=1,
        drop_remainder=False), **overrides})
COLOURS = np.arange(1, 9, dtype="float32") * 20.0  # image k is constant COLOURS[k]


def constant_batch(height=12, width=20):
    """8 constant-colour images (distinct colours) with one-hot labels 0..7."""
    images = np.ones((8, height, width, 3), "float32") * COLOURS[:, None, None, None]
    return images, np.eye(8, dtype="float32")


def run_mixer(mixer, batches):
    """``batches`` applications of ``mixer`` to the constant batch, through tf.data."""
    images, labels = constant_batch()
    ds = tf.data.Dataset.from_tensors({"images": images, "labels": labels}).repeat(batches)
    return [(out["images"].numpy(), out["labels"].numpy()) for out in ds.map(mixer)]


def is_cutmix(images):
    return np.isin(images, COLOURS).all()


def is_mixup(images):
    return bool((np.ptp(images.reshape(len(images), -1), axis=1) < 1e-4).all())


def check_cutmix(images, labels):
    """Label j = fraction of the image's pixels of colour j, for every j."""
    assert is_cutmix(images)
    fractions = (images[..., None] == COLOURS).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(labels, fractions, atol=1e-6)
    np.testing.assert_allclose(labels.sum(1), 1.0, atol=1e-6)
    assert ((labels > 0).sum(1) <= 2).all()
    # The image keeps its own colour outside the pasted rectangle (weight = label[k]).
    own = (images[..., 0] == COLOURS[:, None, None]).mean(axis=(1, 2))
    np.testing.assert_allclose(own, labels[np.arange(8), np.arange(8)], atol=1e-6)


def check_mixup(images, labels):
    """Each image is the label-weighted blend of (at most) two constant colours."""
    assert is_mixup(images)
    np.testing.assert_allclose(images[:, 0, 0, 0], labels @ COLOURS, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(labels.sum(1), 1.0, atol=1e-5)
    assert ((labels > 1e-7).sum(1) <= 2).all()
    # An image mixed with another one (two classes) has every pixel changed.
    mixed = (labels > 1e-6).sum(1) == 2
    assert (images[mixed] != COLOURS[mixed, None, None, None]).all()


# --------------------------------------------------------------- CutMix / MixUp
def test_cutmix_label_weight_equals_pasted_pixel_area():
    results = run_mixer(CutMixOrMixUp(cutmix_alpha=1.0, mixup_alpha=0.0, seed=1), 6)
    pasted = []
    for images, labels in results:
        assert images.shape == (8, 12, 20, 3) and images.dtype == np.float32
        check_cutmix(images, labels)
        pasted.extend(1 - labels[np.arange(8), np.arange(8)])
    pasted = np.array(pasted)
    assert ((pasted > 0.05) & (pasted < 0.95)).sum() > 10  # real rectangles, of many sizes
    assert np.ptp(pasted) > 0.5


def test_mixup_labels_and_pixels_blend_two_examples():
    results = run_mixer(CutMixOrMixUp(cutmix_alpha=0.0, mixup_alpha=0.8, seed=1), 6)
    for images, labels in results:
        check_mixup(images, labels)
    weights = np.concatenate([labels.max(1) for _, labels in results])
    assert (weights < 0.9).sum() > 5  # really mixed, not just copied


@pytest.mark.backend
def test_exactly_one_of_cutmix_or_mixup_per_batch():
    results = run_mixer(CutMixOrMixUp(cutmix_alpha=1.0, mixup_alpha=0.8, seed=3), 40)
    kinds = []
    for images, labels in results:
        cut, mix = is_cutmix(images), is_mixup(images)
        assert cut != mix  # never both, never neither: one layer per batch
        (check_cutmix if cut else check_mixup)(images, labels)
        kinds.append("cutmix" if cut else "mixup")
    assert 10 <= kinds.count("cutmix") <= 30, kinds  # about half each


def test_cutmix_or_mixup_rejects_bad_alphas():
    with pytest.raises(ValueError, match="cutmix_alpha > 0 or mixup_alpha > 0"):
        CutMixOrMixUp(0.0, 0.0)
    with pytest.raises(ValueError, match="cutmix_alpha must be at most 1"):
        CutMixOrMixUp(1.5, 0.8)
    with pytest.raises(ValueError, match="mixup_alpha"):
        CutMixOrMixUp(1.0, -0.1)
    mixer = CutMixOrMixUp(0.5, 0.8, seed=0)
    assert isinstance(mixer.cutmix, PixelAreaCutMix) and mixer.cutmix.factor == (0.5, 0.5)
    assert isinstance(mixer.mixup, keras.layers.MixUp) and mixer.mixup.alpha == 0.8


# ------------------------------------------------------------ strong augmentation
def test_strong_augmentation_layers_follow_the_config():
    config = strong_recipe()
    aug = strong_augmentation(config)
    assert isinstance(aug, keras.layers.Pipeline)
    flip, rand_augment, erasing = aug.layers
    assert isinstance(flip, keras.layers.RandomFlip) and flip.mode == "horizontal"
    assert isinstance(rand_augment, keras.layers.RandAugment)
    assert rand_augment.num_ops == 2 and rand_augment.factor == (0, 0.5)
    assert tuple(rand_augment.value_range) == (0, 255)
    assert isinstance(erasing, keras.layers.RandomErasing) and erasing.factor == (0.25, 0.25)
    assert [layer.seed for layer in aug.layers] == [42, 43, 44]
    bare = strong_augmentation(config.replace(flip="none", random_erasing=0.0))
    assert [type(layer) for layer in bare.layers] == [keras.layers.RandAugment]


def test_strong_training_pipeline_changes_images_keeps_shape_range_and_seed():
    config = strong_recipe(batch_size=16, mixup_alpha=0.0, cutmix_alpha=0.0,
                           label_smoothing=0.0, randaugment_factor=1.0, random_erasing=0.5)
    x = RNG.integers(0, 256, (24, 8, 8, 3)).astype("uint8")
    y = np.arange(24) % 10
    ds = make_dataset(x, y, config, 10, training=True, categorical=False, deterministic=True)
    epoch1 = list(ds.as_numpy_iterator())
    assert [b[0].shape for b in epoch1] == [(16, 8, 8, 3), (8, 8, 8, 3)]
    images = np.concatenate([b[0] for b in epoch1])
    labels = np.concatenate([b[1] for b in epoch1])
    assert images.dtype == np.float32 and labels.dtype == np.int64
    assert images.min() >= 0 and images.max() <= 255 + 1e-3
    assert sorted(labels.tolist()) == sorted(y.tolist())
    # Compared with every original image, no augmented image is still one of them.
    same = np.isclose(images[:, None], x[None].astype("float32")).all(-1).mean((2, 3))
    assert same.max(1).mean() < 0.5  # most pixels of most images changed

    epoch2 = np.concatenate([b[0] for b in ds.as_numpy_iterator()])
    assert not np.allclose(epoch2, images)  # new draws each epoch
    again = make_dataset(x, y, config, 10, training=True, categorical=False, deterministic=True)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in again.as_numpy_iterator()]),
                                  images)   # same seed, same batches


@pytest.mark.parametrize("preset", ["paper", "strong"])
def test_full_paper_pipeline_in_mixed_precision_gives_float32_one_hot_batches(preset):
    config = recipe("paper", batch_size=8) if preset == "paper" else strong_recipe(batch_size=8)
    x = RNG.integers(0, 256, (16, 8, 8, 3)).astype("uint8")
    y = np.arange(16) % 4
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        ds = make_dataset(x, y, config, 4, training=True, categorical=True)
        batches = list(ds.as_numpy_iterator())
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert len(batches) == (6 if preset == "paper" else 2)  # 3 passes of 16 vs one
    for images, labels in batches:
        assert images.shape == (8, 8, 8, 3) and images.dtype == np.float32
        assert labels.shape == (8, 4) and labels.dtype == np.float32
        np.testing.assert_allclose(labels.sum(1), 1.0, atol=1e-5)
        assert ((labels > 1e-7).sum(1) <= 2).all()
        assert images.min() >= 0 and images.max() <= 255 + 1e-3


@pytest.mark.backend
def test_equalization_workaround_matches_keras():
    """On JAX, RandAugment's equalisation gets the bincount histogram inside tf.data
    (Keras picks the slow per-bin loop by the global backend); the result is the same."""
    images = RNG.integers(0, 256, (4, 8, 8, 3)).astype("float32")
    images[0] = 7.0  # a constant image: the "nothing to equalise" branch

    class Holder:  # stands for RandAugment; 32 bins keep the slow graph small
        equalization = keras.layers.Equalization(value_range=(0, 255), bins=32)

    plain = keras.layers.Equalization(value_range=(0, 255), bins=32)
    installed = augmentation._fast_equalization_in_tf_data(Holder)
    assert installed == (keras.backend.backend() != "tensorflow")
    ds = tf.data.Dataset.from_tensors(images)
    fast = next(iter(ds.map(lambda im: Holder.equalization(im, training=True)))).numpy()
    slow = next(iter(ds.map(lambda im: plain(im, training=True)))).numpy()
    np.testing.assert_array_equal(fast, slow)
    assert not np.allclose(fast[1:], images[1:])


# --------------------------------------------------------------- make_dataset
def test_evaluation_pipeline_is_ordered_and_unaugmented():
    config = recipe("paper", batch_size=4)  # strong augmentation and mixing are on...
    x = RNG.integers(0, 256, (10, 8, 8, 3)).astype("uint8")
    y = (np.arange(10) * 3) % 5
    ds = make_dataset(x, y, config, 5, training=False, categorical=True)
    batches = list(ds.as_numpy_iterator())  # ...but evaluation sees the images as given
    assert [b[0].shape for b in batches] == [(4, 8, 8, 3), (4, 8, 8, 3), (2, 8, 8, 3)]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x.astype("float32"))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), np.eye(5)[y])
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.float32
    sparse = make_dataset(x, y[:, None], config, 5, training=False, categorical=False)
    labels = np.concatenate([b[1] for b in sparse.as_numpy_iterator()])
    assert labels.dtype == np.int64 and labels.tolist() == y.tolist()


@pytest.mark.parametrize("augment", ["none", "reference"])
def test_training_pipeline_shuffles_each_epoch_with_a_seed(augment):
    """Without strong augmentation the images pass unchanged (the reference model
    augments inside itself); the order is a seeded permutation, new every epoch."""
    config = Config(augment=augment, batch_size=5)
    x = np.ones((12, 4, 4, 3), "uint8") * np.arange(12, dtype="uint8")[:, None, None, None]
    y = np.arange(12) % 4

    def order(ds):
        images, labels = zip(*ds.as_numpy_iterator())
        images, labels = np.concatenate(images), np.concatenate(labels)
        ids = images[:, 0, 0, 0].astype(int)
        np.testing.assert_array_equal(images, x[ids].astype("float32"))  # unchanged
        np.testing.assert_array_equal(labels, np.eye(4)[ids % 4])       # and paired
        return ids.tolist()

    ds = make_dataset(x, y, config, 4, training=True, categorical=True)
    first, second = order(ds), order(ds)
    assert [b[0].shape[0] for b in ds.as_numpy_iterator()] == [5, 5, 2]
    assert sorted(first) == sorted(second) == list(range(12))
    assert first != second and first != list(range(12))
    assert order(make_dataset(x, y, config, 4, training=True, categorical=True)) == first
    assert order(make_dataset(x, y, config.replace(seed=1), 4, True, True)) != first


def test_soft_labels():
    assert not Config().soft_labels
    assert Config(label_smoothing=0.1).soft_labels
    assert Config(mixup_alpha=0.2).soft_labels
    assert Config(cutmix_alpha=1.0).soft_labels
    assert recipe("paper").soft_labels


def test_make_dataset_rejects_bad_inputs():
    x = np.zeros((4, 8, 8, 3), "uint8")
    y = np.arange(4)
    with pytest.raises(ValueError, match="categorical=True"):
        make_dataset(x, y, recipe("paper"), 4, training=True, categorical=False)
    with pytest.raises(ValueError, match="one integer label per image"):
        make_dataset(x, y[:3], Config(), 4, training=False, categorical=False)
    with pytest.raises(ValueError, match="integer class labels"):
        make_dataset(x, y.astype("float32"), Config(), 4, training=False, categorical=False)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        make_dataset(x, y, Config(), 3, training=False, categorical=False)
    with pytest.raises(ValueError, match="images"):
        make_dataset(x[0], y, Config(), 4, training=False, categorical=False)


@pytest.mark.backend
def test_reference_augmentation_can_run_in_the_pipeline_instead_of_the_model():
    import vitsd

    config = Config(augment="pipeline", rotation=0.0, zoom=0.0, batch_size=8,
                    num_layers=1, head_units=(8,), num_classes=3)
    model = vitsd.build_named("vit", config)
    assert "augmentation" not in [layer.name for layer in model.layers]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (16, 32, 32, 3)).astype("uint8")
    y = rng.integers(0, 3, 16)
    batches = list(make_dataset(x, y, config, 3, training=True, categorical=False))
    flipped = 0
    for images, labels in batches:
        for img, label in zip(images.numpy(), labels.numpy()):
            matches = [i for i in range(16) if y[i] == label and (
                np.array_equal(img, x[i]) or np.array_equal(img, x[i][:, ::-1]))]
            assert matches, "every image is an input image, as is or mirrored"
            flipped += not any(np.array_equal(img, x[i]) for i in matches)
    assert 0 < flipped < 16
