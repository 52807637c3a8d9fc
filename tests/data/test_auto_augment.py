"""AutoAugment's CIFAR-10 policy (chapter 8): every operation against PIL -- the library
the official code's ``utils/transforms.py`` calls -- on fixed images, pixel for pixel;
the policy against a PIL replay of the same draws; and per-image independence.

The operations are TensorFlow ops inside tf.data, so the file runs on every Keras
backend (``KERAS_BACKEND=jax`` too)."""

import math

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance, ImageOps

from vitsd.data import auto_augment as aa

GREY = (128, 128, 128)


def fixed_images():
    """Six 32x32 RGB images that exercise the edge cases: noise, smooth gradients, a
    low-contrast image, few levels, a flat image, black borders (as after a crop)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:32, 0:32]
    images = np.zeros((6, 32, 32, 3), np.uint8)
    images[0] = rng.integers(0, 256, (32, 32, 3))
    images[1] = np.stack([(yy * 8) % 256, (xx * 8) % 256, ((xx + yy) * 4) % 256], -1)
    images[2] = 60 + rng.integers(0, 60, (32, 32, 3))  # values 60..119 only
    images[3] = (rng.integers(0, 256, (32, 32, 3)) // 64) * 64 + 17
    images[4] = 128
    images[5] = rng.integers(0, 256, (32, 32, 3))
    images[5, :4] = 0
    images[5, :, -3:] = 0
    return images


IMAGES = fixed_images()


def with_pil(function):
    """``function`` (PIL image -> PIL image) applied to every fixed image."""
    return np.stack([np.asarray(function(Image.fromarray(im))) for im in IMAGES])


def same(mine, reference):
    np.testing.assert_array_equal(np.asarray(mine).astype(np.int64),
                                  np.asarray(reference).astype(np.int64))


# ---------------------------------------------------- the PIL reference operations
# Written from utils/transforms.py's behaviour: the PIL calls, their arguments.
def pil_shear_x(im, m):
    return im.transform(im.size, Image.AFFINE, (1, m, 0, 0, 1, 0), Image.BICUBIC, fillcolor=GREY)


def pil_shear_y(im, m):
    return im.transform(im.size, Image.AFFINE, (1, 0, 0, m, 1, 0), Image.BICUBIC, fillcolor=GREY)


def pil_translate_x(im, m):
    return im.transform(im.size, Image.AFFINE, (1, 0, m * im.size[0], 0, 1, 0), fillcolor=GREY)


def pil_translate_y(im, m):
    return im.transform(im.size, Image.AFFINE, (1, 0, 0, 0, 1, m * im.size[1]), fillcolor=GREY)


def pil_rotate(im, degrees):
    rotated = im.convert("RGBA").rotate(degrees)
    return Image.composite(rotated, Image.new("RGBA", rotated.size, (128,) * 4),
                           rotated).convert(im.mode)


PIL_OPS = {
    "shearX": pil_shear_x, "shearY": pil_shear_y,
    "translateX": pil_translate_x, "translateY": pil_translate_y,
    "rotate": pil_rotate,
    "color": lambda im, f: ImageEnhance.Color(im).enhance(f),
    "contrast": lambda im, f: ImageEnhance.Contrast(im).enhance(f),
    "sharpness": lambda im, f: ImageEnhance.Sharpness(im).enhance(f),
    "brightness": lambda im, f: ImageEnhance.Brightness(im).enhance(f),
    "posterize": lambda im, b: ImageOps.posterize(im, int(b)),
    "solarize": lambda im, t: ImageOps.solarize(im, t),
    "autocontrast": lambda im, _: ImageOps.autocontrast(im),
    "equalize": lambda im, _: ImageOps.equalize(im),
    "invert": lambda im, _: ImageOps.invert(im),
}

#: The magnitude levels restated from utils/autoaug.py lines 170-185.
LEVELS = {
    "shearX": np.linspace(0, 0.3, 10), "shearY": np.linspace(0, 0.3, 10),
    "translateX": np.linspace(0, 150 / 331, 10), "translateY": np.linspace(0, 150 / 331, 10),
    "rotate": np.linspace(0, 30, 10), "color": np.linspace(0.0, 0.9, 10),
    "posterize": np.round(np.linspace(8, 4, 10), 0).astype(int),
    "solarize": np.linspace(256, 0, 10), "contrast": np.linspace(0.0, 0.9, 10),
    "sharpness": np.linspace(0.0, 0.9, 10), "brightness": np.linspace(0.0, 0.9, 10),
    "autocontrast": [0] * 10, "equalize": [0] * 10, "invert": [0] * 10,
}
ENHANCE = ("color", "contrast", "sharpness", "brightness")


def test_magnitude_levels_and_signs_are_the_official_ones():
    assert set(aa.MAGNITUDES) == set(LEVELS) == set(aa.OPERATIONS)
    for name, levels in LEVELS.items():
        np.testing.assert_array_equal(aa.MAGNITUDES[name], np.asarray(levels, np.float64))
    assert aa.SIGNED == {"shearX", "shearY", "translateX", "translateY", *ENHANCE}
    assert len(aa.CIFAR10_POLICY) == 25
    assert aa.CIFAR10_POLICY[1] == (0.7, "rotate", 2, 0.3, "translateX", 9)
    assert aa.CIFAR10_POLICY[24] == (0.7, "translateY", 9, 0.9, "autocontrast", 1)


# ------------------------------------------------------ each operation against PIL
def pil_argument(name, magnitude, sign):
    """What utils/transforms.py passes to PIL for a level's magnitude and a sign."""
    if name in ENHANCE:
        return 1 + magnitude * sign
    return magnitude * sign if name in aa.SIGNED else magnitude


def tf_call(name, argument):
    functions = {
        "shearX": aa.shear_x, "shearY": aa.shear_y, "translateX": aa.translate_x,
        "translateY": aa.translate_y, "rotate": aa.rotate, "color": aa.color,
        "contrast": aa.contrast, "sharpness": aa.sharpness, "brightness": aa.brightness,
        "posterize": aa.posterize, "solarize": aa.solarize,
        "autocontrast": lambda x, _: aa.autocontrast(x),
        "equalize": lambda x, _: aa.equalize(x), "invert": lambda x, _: aa.invert(x),
    }
    return functions[name](IMAGES, argument)


@pytest.mark.parametrize("name", aa.OPERATIONS)
def test_operation_matches_pil_at_every_level_and_sign(name):
    for magnitude in sorted(set(np.asarray(LEVELS[name], np.float64).tolist())):
        for sign in ((-1, 1) if name in aa.SIGNED else (1,)):
            argument = pil_argument(name, magnitude, sign)
            same(tf_call(name, argument), with_pil(lambda im, a=argument: PIL_OPS[name](im, a)))


@pytest.mark.parametrize("name, arguments", [
    ("rotate", [-13.3, 45.0, 90.0, 181.0]),
    ("color", [0.0, 0.37, 2.5]), ("contrast", [0.0, 0.37, 2.5]),
    ("sharpness", [0.0, 0.37, 2.5]), ("brightness", [0.0, 0.37, 2.5]),
    ("posterize", [1, 2, 3]), ("solarize", [1.0, 128.0, 255.5]),
])
def test_operation_matches_pil_beyond_the_policy_levels(name, arguments):
    for argument in arguments:
        same(tf_call(name, argument), with_pil(lambda im, a=argument: PIL_OPS[name](im, a)))


def test_operations_take_one_parameter_per_image():
    factors = np.linspace(0.1, 1.9, len(IMAGES))
    reference = np.stack([np.asarray(ImageEnhance.Contrast(Image.fromarray(im)).enhance(f))
                          for im, f in zip(IMAGES, factors)])
    same(aa.contrast(IMAGES, factors), reference)
    shears = np.linspace(-0.3, 0.3, len(IMAGES))
    reference = np.stack([np.asarray(pil_shear_x(Image.fromarray(im), s))
                          for im, s in zip(IMAGES, shears)])
    same(aa.shear_x(IMAGES, shears), reference)


def test_apply_operations_gives_each_image_its_own_operation():
    names = ["rotate", "shearY", "equalize", "color", "translateX", "invert"]
    rows, expected = [], []
    for im, name in zip(IMAGES, names):
        magnitude, sign = aa.MAGNITUDES[name][6], -1
        rows.append(aa.operation_parameters(name, magnitude, sign, 32, 32))
        argument = pil_argument(name, magnitude, sign)
        expected.append(np.asarray(PIL_OPS[name](Image.fromarray(im), argument)))
    codes = [aa.OPERATIONS.index(n) for n in names]
    same(aa.apply_operations(IMAGES, codes, np.array(rows)), np.stack(expected))
    # -1: no operation; float input is rounded first
    out = aa.apply_operations(IMAGES.astype("float32") + 0.2, [-1] * 6, np.zeros((6, 6)))
    same(out, IMAGES)
    assert out.dtype == tf.float32


# --------------------------------------------------------------------- the policy
def pil_policy(image, draws, i):
    """The official SubPolicy.__call__ on one PIL image, replaying the draws."""
    p1, op1, level1, p2, op2, level2 = aa.CIFAR10_POLICY[int(draws["subpolicy"][i])]
    img = Image.fromarray(image)
    for stage, (p, op, level) in enumerate(((p1, op1, level1), (p2, op2, level2))):
        if draws["uniform"][i, stage] < p:
            sign = 2 * int(draws["sign"][i, stage]) - 1
            img = PIL_OPS[op](img, pil_argument(op, float(LEVELS[op][level]), sign))
    return np.asarray(img)


def test_policy_matches_a_pil_replay_of_its_draws():
    policy = aa.CIFAR10Policy(seed=3)
    images = np.concatenate([IMAGES] * 20)  # 120 images, most sub-policies
    draws = {k: np.asarray(v) for k, v in policy.draw(len(images)).items()}
    assert len(set(draws["subpolicy"].tolist())) >= 20
    out = policy.apply(images, draws)
    same(out, np.stack([pil_policy(im, draws, i) for i, im in enumerate(images)]))
    captions = policy.describe(draws)
    assert len(captions) == len(images)
    for i, caption in enumerate(captions):
        row = aa.CIFAR10_POLICY[int(draws["subpolicy"][i])]
        applied = [row[1 + 3 * s] for s in (0, 1) if draws["uniform"][i, s] < row[3 * s]]
        assert caption == "identity" if not applied else all(op in caption for op in applied)


def test_every_image_of_a_batch_draws_its_own_subpolicy_coins_and_signs():
    policy = aa.CIFAR10Policy(seed=0)
    draws = {k: np.asarray(v) for k, v in policy.draw(20000).items()}
    counts = np.bincount(draws["subpolicy"], minlength=25)
    assert counts.min() > 650 and counts.max() < 950  # uniform over 25 (800 each)
    for k, row in enumerate(aa.CIFAR10_POLICY):
        chosen = draws["subpolicy"] == k
        for stage in (0, 1):
            rate = (draws["uniform"][chosen, stage] < row[3 * stage]).mean()
            assert abs(rate - row[3 * stage]) < 0.06, (k, stage, rate)
    assert abs(draws["sign"].mean() - 0.5) < 0.02


def test_identical_images_in_one_batch_come_out_differently():
    """If every image of a batch got the same operations, these 32 copies of one image
    would come out identical."""
    batch = np.repeat(IMAGES[1:2], 32, axis=0)
    out = np.asarray(aa.CIFAR10Policy(seed=5)(batch))
    distinct = {o.tobytes() for o in out}
    assert len(distinct) >= 12
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 255


def test_policy_runs_in_tf_data_and_is_seeded():
    def run(seed):
        policy = aa.CIFAR10Policy(seed=seed)
        ds = tf.data.Dataset.from_tensors(IMAGES.astype("float32")).repeat(3)
        return np.stack([b.numpy() for b in ds.map(policy)])

    first = run(11)
    np.testing.assert_array_equal(first, run(11))
    assert not np.array_equal(first, run(12))
    assert not np.array_equal(first[0], first[1])  # new draws for every batch


def test_rotation_matrix_is_pillows():
    a, b, c, d, e, f = aa.rotation_matrix(30.0, 32, 32)
    angle = -math.radians(30.0)
    assert (a, b, d, e) == (round(math.cos(angle), 15), round(math.sin(angle), 15),
                            round(-math.sin(angle), 15), round(math.cos(angle), 15))
    # the centre maps onto itself
    assert a * 16 + b * 16 + c == pytest.approx(16) and d * 16 + e * 16 + f == pytest.approx(16)


def test_bad_inputs():
    with pytest.raises(ValueError, match="operation must be one of"):
        aa.operation_parameters("blur", 0.1, 1, 32, 32)
    with pytest.raises(ValueError, match="sub-policy"):
        aa.CIFAR10Policy(policy=[(0.5, "blur", 1, 0.5, "invert", 0)])
