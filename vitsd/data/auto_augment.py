"""AutoAugment's CIFAR-10 policy, per image, in TensorFlow (chapter 8, "Going further").

The official code of the SPT/LSA paper (github.com/aanna0701/SPT_LSA_ViT) augments CIFAR
images with the CIFAR-10 policy of AutoAugment (Cubuk et al., arXiv 1805.09501) in the
PIL implementation of DeepVoltaire: ``main.py`` lines 180-185 append
``utils/autoaug.py``'s ``CIFAR10Policy`` after the random flip and the random crop.
Keras has RandAugment but no AutoAugment, so this module writes the policy on TensorFlow
ops, to run inside the ``tf.data`` input pipeline (on every Keras backend):

* **the policy** (:data:`CIFAR10_POLICY`, ``autoaug.py`` lines 76-106): 25 sub-policies;
  each image gets one of them, drawn uniformly (line 109), and each of the sub-policy's
  two operations is applied with its own probability (lines 211-215);
* **the magnitudes** (:data:`MAGNITUDES`, ``autoaug.py`` lines 170-185): ten levels per
  operation; a sub-policy names a level. Shear, translation, colour, contrast, sharpness
  and brightness get a random sign each time they are applied (``utils/transforms.py``);
  rotation does not (always counter-clockwise, ``transforms.py`` line 52);
* **the operations** (``utils/transforms.py``): PIL's ``Image.transform`` (affine; bicubic
  for shears, nearest for translations and rotations, grey 128 where nothing maps),
  ``ImageEnhance`` (colour, contrast, sharpness, brightness) and ``ImageOps``
  (posterize, solarize, autocontrast, equalize, invert). Each is written here to give
  PIL's result pixel for pixel on uint8 images -- including PIL's integer grey
  conversion, its 16.16 fixed-point nearest-neighbour rotation and its float32 blend --
  and ``tests/data/test_auto_augment.py`` checks every one against PIL on fixed images.

Every image of a batch draws its own sub-policy, coin flips and signs: two images of one
batch (almost always) get different operations. The operations work on whole batches
with one parameter per image; :func:`apply_operations` gathers, for each operation, the
images that need it, transforms them together and scatters them back.

Images are ``(batch, height, width, 3)`` with integer values 0..255 (any dtype; they are
rounded and clipped first); results are float32 with integer values.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

#: The 14 operations of the policy, in the order of ``utils/autoaug.py``'s ``ranges``.
OPERATIONS = (
    "shearX", "shearY", "translateX", "translateY", "rotate", "color", "posterize",
    "solarize", "contrast", "sharpness", "brightness", "autocontrast", "equalize",
    "invert",
)

#: The ten magnitude levels of each operation (``utils/autoaug.py`` lines 170-185).
#: Translations are fractions of the image side (150 / 331: AutoAugment's 150 pixels on
#: 331-pixel images); rotations are degrees; posterize keeps that many bits; solarize
#: inverts pixels at or above the threshold; the ``ImageEnhance`` factor is ``1 +/- m``.
MAGNITUDES = {
    "shearX": np.linspace(0.0, 0.3, 10),
    "shearY": np.linspace(0.0, 0.3, 10),
    "translateX": np.linspace(0.0, 150 / 331, 10),
    "translateY": np.linspace(0.0, 150 / 331, 10),
    "rotate": np.linspace(0.0, 30.0, 10),
    "color": np.linspace(0.0, 0.9, 10),
    "posterize": np.array([8, 8, 7, 7, 6, 6, 5, 5, 4, 4], dtype=np.float64),
    "solarize": np.linspace(256.0, 0.0, 10),
    "contrast": np.linspace(0.0, 0.9, 10),
    "sharpness": np.linspace(0.0, 0.9, 10),
    "brightness": np.linspace(0.0, 0.9, 10),
    "autocontrast": np.zeros(10),
    "equalize": np.zeros(10),
    "invert": np.zeros(10),
}

#: Operations whose magnitude gets a random sign when applied (``utils/transforms.py``:
#: ``random.choice([-1, 1])`` in ShearX/Y, TranslateX/Y, Color, Contrast, Sharpness,
#: Brightness).
SIGNED = frozenset({"shearX", "shearY", "translateX", "translateY", "color", "contrast",
                    "sharpness", "brightness"})

#: The 25 sub-policies of the CIFAR-10 policy, ``(p1, operation1, level1, p2,
#: operation2, level2)`` (``utils/autoaug.py`` lines 77-105).
CIFAR10_POLICY = (
    (0.1, "invert", 7, 0.2, "contrast", 6),
    (0.7, "rotate", 2, 0.3, "translateX", 9),
    (0.8, "sharpness", 1, 0.9, "sharpness", 3),
    (0.5, "shearY", 8, 0.7, "translateY", 9),
    (0.5, "autocontrast", 8, 0.9, "equalize", 2),
    (0.2, "shearY", 7, 0.3, "posterize", 7),
    (0.4, "color", 3, 0.6, "brightness", 7),
    (0.3, "sharpness", 9, 0.7, "brightness", 9),
    (0.6, "equalize", 5, 0.5, "equalize", 1),
    (0.6, "contrast", 7, 0.6, "sharpness", 5),
    (0.7, "color", 7, 0.5, "translateX", 8),
    (0.3, "equalize", 7, 0.4, "autocontrast", 8),
    (0.4, "translateY", 3, 0.2, "sharpness", 6),
    (0.9, "brightness", 6, 0.2, "color", 8),
    (0.5, "solarize", 2, 0.0, "invert", 3),
    (0.2, "equalize", 0, 0.6, "autocontrast", 0),
    (0.2, "equalize", 8, 0.6, "equalize", 4),
    (0.9, "color", 9, 0.6, "equalize", 6),
    (0.8, "autocontrast", 4, 0.2, "solarize", 8),
    (0.1, "brightness", 3, 0.7, "color", 0),
    (0.4, "solarize", 5, 0.9, "autocontrast", 3),
    (0.9, "translateY", 9, 0.7, "translateY", 9),
    (0.9, "autocontrast", 2, 0.8, "solarize", 3),
    (0.8, "equalize", 8, 0.1, "invert", 3),
    (0.7, "translateY", 9, 0.9, "autocontrast", 1),
)

#: Grey of the pixels a geometric operation uncovers (``autoaug.py`` line 75,
#: ``fillcolor=(128, 128, 128)``; the rotation composites onto grey 128,
#: ``transforms.py`` line 53).
FILL = 128

_ENHANCE = ("color", "contrast", "sharpness", "brightness")


# ------------------------------------------------------------------ helpers
def _to_int(images) -> tf.Tensor:
    """int32 pixels 0..255 (floats are rounded, then clipped)."""
    images = tf.convert_to_tensor(images)
    if images.dtype.is_floating:
        images = tf.round(images)
    images = tf.cast(images, tf.int32) if images.dtype != tf.int32 else images
    return tf.clip_by_value(images, 0, 255)


def _params(values, batch) -> tf.Tensor:
    """Per-image float64 parameters ``(batch,)`` from a scalar or a sequence."""
    # dtype_hint: Python floats become float64 (by default they would be float32).
    values = tf.cast(tf.convert_to_tensor(values, dtype_hint=tf.float64), tf.float64)
    return tf.broadcast_to(values, [batch]) if values.shape.rank == 0 else values


def _gather_pixels(images, rows, cols, valid, fill):
    """``images[b, rows, cols]`` for every output pixel, ``fill`` where not ``valid``.

    ``rows``/``cols``/``valid``: ``(B, H, W)``; returns ``(B, H, W, C)``."""
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    rows = tf.clip_by_value(rows, 0, height - 1)
    cols = tf.clip_by_value(cols, 0, width - 1)
    picked = tf.gather_nd(images, tf.stack([rows, cols], axis=-1), batch_dims=1)
    return tf.where(valid[..., None], picked, tf.cast(fill, images.dtype))


def _grid(images):
    """Output pixel coordinates as float64 ``(1, H, 1)`` rows and ``(1, 1, W)`` columns,
    and as int64."""
    shape = tf.shape(images)
    y = tf.range(shape[1], dtype=tf.int64)[None, :, None]
    x = tf.range(shape[2], dtype=tf.int64)[None, None, :]
    return y, x


# ---------------------------------------------------------- geometric operations
def affine_matrices(matrices, batch) -> tf.Tensor:
    """``(batch, 6)`` float64 affine coefficients ``(a, b, c, d, e, f)``."""
    m = tf.cast(tf.convert_to_tensor(matrices, dtype_hint=tf.float64), tf.float64)
    return tf.broadcast_to(m, [batch, 6]) if m.shape.rank == 1 else m


def affine_nearest(images, matrices, fill: int = FILL) -> tf.Tensor:
    """PIL's ``Image.transform(size, AFFINE, (a, b, c, d, e, f), NEAREST)``, per image.

    The output pixel ``(x, y)`` takes the input pixel at
    ``(a x' + b y' + c, d x' + e y' + f)``, with ``(x', y')`` the pixel centre, or
    ``fill`` outside the image. As PIL (``libImaging/Geometry.c``), a pure scaling or
    translation (``b == d == 0``) samples in floating point and anything else (a
    rotation) in 16.16 fixed point, which decides some borderline pixels differently.
    """
    images = _to_int(images)
    batch = tf.shape(images)[0]
    m = affine_matrices(matrices, batch)
    a, b, c, d, e, f = (m[:, k][:, None, None] for k in range(6))
    yi, xi = _grid(images)
    y, x = tf.cast(yi, tf.float64), tf.cast(xi, tf.float64)
    # Scaling/translation: first column/row at c + a/2 (f + e/2), then steps of a (e).
    scale_cols = tf.floor((c + a * 0.5) + a * x)
    scale_rows = tf.floor((f + e * 0.5) + e * y)

    def fix(v):  # 16.16 fixed point, rounded
        return tf.cast(tf.floor(v * 65536.0 + 0.5), tf.int64)

    cols_fixed = tf.math.floordiv(fix(c + a * 0.5 + b * 0.5) + yi * fix(b) + xi * fix(a), 65536)
    rows_fixed = tf.math.floordiv(fix(f + d * 0.5 + e * 0.5) + yi * fix(e) + xi * fix(d), 65536)
    pure_scale = (b == 0.0) & (d == 0.0)
    cols = tf.where(pure_scale, tf.cast(scale_cols, tf.int64), cols_fixed)
    rows = tf.where(pure_scale, tf.cast(scale_rows, tf.int64), rows_fixed)
    shape = tf.shape(images, out_type=tf.int64)
    valid = (cols >= 0) & (cols < shape[2]) & (rows >= 0) & (rows < shape[1])
    out = _gather_pixels(images, tf.cast(rows, tf.int32), tf.cast(cols, tf.int32), valid, fill)
    return tf.cast(out, tf.float32)


def _cubic(v1, v2, v3, v4, d):
    """PIL's cubic convolution (``Geometry.c`` ``BICUBIC``, a = -1), same operation order."""
    p1 = v2
    p2 = -v1 + v3
    p3 = 2.0 * (v1 - v2) + v3 - v4
    p4 = -v1 + v2 - v3 + v4
    return p1 + d * (p2 + d * (p3 + d * p4))


def affine_bicubic(images, matrices, fill: int = FILL) -> tf.Tensor:
    """PIL's ``Image.transform(size, AFFINE, (a, b, c, d, e, f), BICUBIC)``, per image.

    The source point of each output pixel is mapped as in :func:`affine_nearest`; if it
    falls inside the image, the 4x4 neighbouring pixels (clamped at the borders) are
    interpolated with PIL's cubic kernel in float64, the result clipped to 0..255 and
    truncated; otherwise the pixel is ``fill``.
    """
    images = _to_int(images)
    batch = tf.shape(images)[0]
    m = affine_matrices(matrices, batch)
    a, b, c, d, e, f = (m[:, k][:, None, None] for k in range(6))
    yi, xi = _grid(images)
    xs, ys = tf.cast(xi, tf.float64) + 0.5, tf.cast(yi, tf.float64) + 0.5
    src_x = a * xs + b * ys + c
    src_y = d * xs + e * ys + f
    shape = tf.shape(images)
    height, width = tf.cast(shape[1], tf.float64), tf.cast(shape[2], tf.float64)
    inside = (src_x >= 0) & (src_x < width) & (src_y >= 0) & (src_y < height)
    src_x, src_y = src_x - 0.5, src_y - 0.5
    x0, y0 = tf.floor(src_x), tf.floor(src_y)
    dx, dy = (src_x - x0)[..., None], (src_y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    # The 4x4 neighbourhood of every output pixel, clamped: (B, H, W, 4 rows, 4 cols, C).
    offsets = tf.range(-1, 3)
    rows = tf.clip_by_value(y0[..., None] + offsets, 0, shape[1] - 1)[..., :, None]
    cols = tf.clip_by_value(x0[..., None] + offsets, 0, shape[2] - 1)[..., None, :]
    rows, cols = tf.broadcast_to(rows, tf.shape(rows + cols)), tf.broadcast_to(
        cols, tf.shape(rows + cols))
    taps = tf.gather_nd(tf.cast(images, tf.float64), tf.stack([rows, cols], axis=-1),
                        batch_dims=1)
    along_rows = _cubic(*tf.unstack(taps, 4, axis=4), dx[..., None, :])  # (B, H, W, 4, C)
    value = _cubic(*tf.unstack(along_rows, 4, axis=3), dy)
    value = tf.floor(tf.clip_by_value(value, 0.0, 255.0))
    value = tf.where(inside[..., None], value, float(fill))
    return tf.cast(value, tf.float32)


def shear_x(images, shear) -> tf.Tensor:
    """``ShearX``: matrix ``(1, shear, 0, 0, 1, 0)``, bicubic (``transforms.py`` l. 8-15)."""
    images = _to_int(images)
    s = _params(shear, tf.shape(images)[0])
    one, zero = tf.ones_like(s), tf.zeros_like(s)
    return affine_bicubic(images, tf.stack([one, s, zero, zero, one, zero], axis=1))


def shear_y(images, shear) -> tf.Tensor:
    """``ShearY``: matrix ``(1, 0, 0, shear, 1, 0)``, bicubic (``transforms.py`` l. 18-25)."""
    images = _to_int(images)
    s = _params(shear, tf.shape(images)[0])
    one, zero = tf.ones_like(s), tf.zeros_like(s)
    return affine_bicubic(images, tf.stack([one, zero, zero, s, one, zero], axis=1))


def translate_x(images, fraction) -> tf.Tensor:
    """``TranslateX``: content moves left by ``fraction`` of the width (right when
    negative), nearest (``transforms.py`` lines 28-35)."""
    images = _to_int(images)
    t = _params(fraction, tf.shape(images)[0]) * tf.cast(tf.shape(images)[2], tf.float64)
    one, zero = tf.ones_like(t), tf.zeros_like(t)
    return affine_nearest(images, tf.stack([one, zero, t, zero, one, zero], axis=1))


def translate_y(images, fraction) -> tf.Tensor:
    """``TranslateY``: content moves up by ``fraction`` of the height (down when
    negative), nearest (``transforms.py`` lines 38-45)."""
    images = _to_int(images)
    t = _params(fraction, tf.shape(images)[0]) * tf.cast(tf.shape(images)[1], tf.float64)
    one, zero = tf.ones_like(t), tf.zeros_like(t)
    return affine_nearest(images, tf.stack([one, zero, zero, zero, one, t], axis=1))


def rotation_matrix(degrees: float, width: int, height: int) -> tuple:
    """The affine coefficients PIL's ``Image.rotate(degrees)`` uses: counter-clockwise
    about the image centre, coefficients rounded to 15 decimals (Pillow's
    ``Image.rotate``). Plain Python floats, to match PIL's arithmetic exactly."""
    angle = -math.radians(degrees % 360.0)
    cos, sin = round(math.cos(angle), 15), round(math.sin(angle), 15)
    a, b, d, e = cos, sin, round(-math.sin(angle), 15), cos
    cx, cy = width / 2.0, height / 2.0
    c = a * -cx + b * -cy + 0.0 + cx
    f = d * -cx + e * -cy + 0.0 + cy
    return (a, b, c, d, e, f)


def rotate(images, degrees) -> tf.Tensor:
    """``Rotate``: counter-clockwise by ``degrees`` (one value, or one per image, as
    Python/NumPy numbers), nearest, grey outside (``transforms.py`` lines 48-53)."""
    images = _to_int(images)
    height, width = images.shape[1], images.shape[2]
    degrees = np.broadcast_to(np.asarray(degrees, np.float64), (images.shape[0],))
    matrices = np.array([rotation_matrix(float(t), width, height) for t in degrees])
    return affine_nearest(images, matrices)


# ----------------------------------------------------------- ImageEnhance
def luminance(images) -> tf.Tensor:
    """PIL's RGB -> L conversion: ``(19595 R + 38470 G + 7471 B + 32768) >> 16``,
    ``(B, H, W)`` int32 (``libImaging/Convert.c``)."""
    images = _to_int(images)
    weights = tf.constant([19595, 38470, 7471], tf.int32)
    return tf.bitwise.right_shift(tf.reduce_sum(images * weights, axis=-1) + 32768, 16)


def blend(degenerate, images, factor) -> tf.Tensor:
    """PIL's ``Image.blend(degenerate, image, factor)``: ``d + factor * (x - d)`` in
    float32, clipped to 0..255 and truncated (``libImaging/Blend.c``); the
    ``ImageEnhance`` classes all end with it."""
    images = _to_int(images)
    alpha = tf.cast(_params(factor, tf.shape(images)[0]), tf.float32)[:, None, None, None]
    d = tf.cast(_to_int(degenerate), tf.float32)
    value = d + alpha * (tf.cast(images, tf.float32) - d)
    return tf.floor(tf.clip_by_value(value, 0.0, 255.0))


def color(images, factor) -> tf.Tensor:
    """``ImageEnhance.Color``: blend with the image's grey version."""
    images = _to_int(images)
    grey = tf.repeat(luminance(images)[..., None], tf.shape(images)[-1], axis=-1)
    return blend(grey, images, factor)


def contrast(images, factor) -> tf.Tensor:
    """``ImageEnhance.Contrast``: blend with a flat grey at the image's mean luminance
    (rounded to an integer)."""
    images = _to_int(images)
    grey = tf.cast(luminance(images), tf.float64)
    mean = tf.floor(tf.reduce_mean(grey, axis=[1, 2]) + 0.5)
    flat = tf.ones_like(images) * tf.cast(mean, tf.int32)[:, None, None, None]
    return blend(flat, images, factor)


def smooth(images) -> tf.Tensor:
    """PIL's ``ImageFilter.SMOOTH``: the 3x3 kernel ``[[1, 1, 1], [1, 5, 1], [1, 1, 1]]
    / 13``, rounded; the one-pixel border is left as it is (``libImaging/Filter.c``)."""
    images = _to_int(images)
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])
    h, w = tf.shape(images)[1], tf.shape(images)[2]
    total = 4 * images  # 5 x centre + 8 neighbours = 4 x centre + the 3x3 sum
    for dy in range(3):
        for dx in range(3):
            total += padded[:, dy:dy + h, dx:dx + w, :]
    smoothed = tf.math.floordiv(2 * total + 13, 26)  # round(total / 13), never a tie
    rows = tf.range(h)[:, None]
    cols = tf.range(w)[None, :]
    interior = (rows > 0) & (rows < h - 1) & (cols > 0) & (cols < w - 1)
    return tf.where(interior[None, :, :, None], smoothed, images)


def sharpness(images, factor) -> tf.Tensor:
    """``ImageEnhance.Sharpness``: blend with the smoothed image (factor > 1 sharpens)."""
    images = _to_int(images)
    return blend(smooth(images), images, factor)


def brightness(images, factor) -> tf.Tensor:
    """``ImageEnhance.Brightness``: blend with black."""
    images = _to_int(images)
    return blend(tf.zeros_like(images), images, factor)


# ----------------------------------------------------------------- ImageOps
def histograms(images) -> tf.Tensor:
    """``(B, C, 256)`` int32 pixel counts per image and channel."""
    images = _to_int(images)
    shape = tf.shape(images)
    channels = shape[3]
    index = (tf.range(shape[0])[:, None, None, None] * channels
             + tf.range(channels)[None, None, None, :]) * 256 + images
    counts = tf.math.bincount(tf.reshape(index, [-1]), minlength=shape[0] * channels * 256,
                              maxlength=shape[0] * channels * 256)
    return tf.reshape(counts, [shape[0], channels, 256])


def apply_lut(images, lut) -> tf.Tensor:
    """Map every pixel through its image's and channel's table, ``lut``: ``(B, C, 256)``
    (a ``(256,)`` table applies to all), values clipped to 0..255 as PIL's ``point``."""
    images = _to_int(images)
    shape = tf.shape(images)
    lut = tf.clip_by_value(tf.cast(lut, tf.int32), 0, 255)
    lut = tf.broadcast_to(lut, [shape[0], shape[3], 256])
    index = tf.transpose(images, [0, 3, 1, 2])  # (B, C, H, W)
    out = tf.gather(lut, index, batch_dims=2)
    return tf.cast(tf.transpose(out, [0, 2, 3, 1]), tf.float32)


def posterize(images, bits) -> tf.Tensor:
    """``ImageOps.posterize``: keep the ``bits`` highest bits of every value."""
    images = _to_int(images)
    bits = tf.cast(_params(bits, tf.shape(images)[0]), tf.int32)
    mask = -tf.bitwise.left_shift(tf.ones_like(bits), 8 - bits)  # ~(2**(8 - bits) - 1)
    levels = tf.range(256)[None, :]
    return apply_lut(images, tf.bitwise.bitwise_and(levels, mask[:, None])[:, None, :])


def solarize(images, threshold) -> tf.Tensor:
    """``ImageOps.solarize``: invert every value at or above ``threshold``."""
    images = _to_int(images)
    t = _params(threshold, tf.shape(images)[0])[:, None]
    levels = tf.range(256)[None, :]
    lut = tf.where(tf.cast(levels, tf.float64) < t, levels, 255 - levels)
    return apply_lut(images, lut[:, None, :])


def invert(images) -> tf.Tensor:
    """``ImageOps.invert``: ``255 - x``."""
    return tf.cast(255 - _to_int(images), tf.float32)


def autocontrast(images) -> tf.Tensor:
    """``ImageOps.autocontrast`` (no cutoff): per channel, stretch the darkest..lightest
    value to 0..255, ``int(x * scale + offset)`` in float64; flat channels unchanged."""
    images = _to_int(images)
    present = histograms(images) > 0
    levels = tf.range(256, dtype=tf.int32)
    lo = tf.reduce_min(tf.where(present, levels, 256), axis=-1)
    hi = tf.reduce_max(tf.where(present, levels, -1), axis=-1)
    scale = 255.0 / tf.cast(tf.maximum(hi - lo, 1), tf.float64)
    offset = -tf.cast(lo, tf.float64) * scale
    value = tf.cast(levels, tf.float64) * scale[..., None] + offset[..., None]
    stretched = tf.cast(value, tf.int32)  # int() truncates towards zero
    lut = tf.where((hi > lo)[..., None], stretched, levels)
    return apply_lut(images, lut)


def equalize(images) -> tf.Tensor:
    """``ImageOps.equalize``: per channel, map values through the cumulative histogram,
    ``step = (pixels - count of the lightest value) // 255`` and
    ``lut[i] = (step // 2 + pixels below i) // step``; unchanged when a channel has
    fewer than two values or ``step`` is 0."""
    images = _to_int(images)
    counts = tf.cast(histograms(images), tf.int64)
    levels = tf.range(256)
    present = counts > 0
    last = tf.reduce_max(tf.where(present, levels, -1), axis=-1)
    last_count = tf.gather(counts, tf.maximum(last, 0), batch_dims=2)
    step = (tf.reduce_sum(counts, axis=-1) - last_count) // 255
    below = tf.cumsum(counts, axis=-1, exclusive=True)
    safe = tf.maximum(step, 1)[..., None]
    mapped = (safe // 2 + below) // safe
    keep = (tf.reduce_sum(tf.cast(present, tf.int32), axis=-1) <= 1) | (step == 0)
    lut = tf.where(keep[..., None], tf.cast(levels, tf.int64), mapped)
    return apply_lut(images, lut)


# ------------------------------------------------------------------ dispatch
#: The operation behind each code (index in :data:`OPERATIONS`), called on a batch of
#: int32 images with one parameter row ``(batch, 6)`` each: the affine matrix for the
#: geometric operations, otherwise the factor, bits or threshold in column 0.
_APPLY = {
    "shearX": affine_bicubic,
    "shearY": affine_bicubic,
    "translateX": affine_nearest,
    "translateY": affine_nearest,
    "rotate": affine_nearest,
    "color": lambda x, p: color(x, p[:, 0]),
    "posterize": lambda x, p: posterize(x, p[:, 0]),
    "solarize": lambda x, p: solarize(x, p[:, 0]),
    "contrast": lambda x, p: contrast(x, p[:, 0]),
    "sharpness": lambda x, p: sharpness(x, p[:, 0]),
    "brightness": lambda x, p: brightness(x, p[:, 0]),
    "autocontrast": lambda x, p: autocontrast(x),
    "equalize": lambda x, p: equalize(x),
    "invert": lambda x, p: invert(x),
}


def operation_parameters(operation: str, magnitude: float, sign: int, width: int,
                         height: int) -> tuple:
    """The six parameters :func:`apply_operations` takes for ``operation`` at
    ``magnitude`` with ``sign`` (+1 or -1; ignored by unsigned operations), computed
    with Python floats in the order of ``utils/transforms.py``."""
    if operation not in _APPLY:
        raise ValueError(f"operation must be one of {OPERATIONS}, got {operation!r}.")
    m = float(magnitude) * (sign if operation in SIGNED else 1)
    if operation == "shearX":
        return (1.0, m, 0.0, 0.0, 1.0, 0.0)
    if operation == "shearY":
        return (1.0, 0.0, 0.0, m, 1.0, 0.0)
    if operation == "translateX":  # magnitude * x.size[0] * sign
        return (1.0, 0.0, float(magnitude) * width * sign, 0.0, 1.0, 0.0)
    if operation == "translateY":  # magnitude * x.size[1] * sign
        return (1.0, 0.0, 0.0, 0.0, 1.0, float(magnitude) * height * sign)
    if operation == "rotate":
        return rotation_matrix(m, width, height)
    if operation in _ENHANCE:
        return (1.0 + m, 0.0, 0.0, 0.0, 0.0, 0.0)
    return (m, 0.0, 0.0, 0.0, 0.0, 0.0)


@tf.function(autograph=False, reduce_retracing=True, input_signature=[
    tf.TensorSpec([None, None, None, None], tf.int32),
    tf.TensorSpec([None], tf.int32),
    tf.TensorSpec([None, 6], tf.float64),
])
def _apply_operations(images, operations, parameters):
    # One graph function, traced once and called for both operations of a sub-policy.
    out = images
    for code, name in enumerate(OPERATIONS):
        where = tf.where(operations == code)  # (n, 1)
        chosen = tf.gather_nd(images, where)
        result = _APPLY[name](chosen, tf.gather_nd(parameters, where))
        out = tf.tensor_scatter_nd_update(out, where, tf.cast(result, tf.int32))
    return out


def apply_operations(images, operations, parameters) -> tf.Tensor:
    """Apply to each image its own operation.

    ``operations``: ``(batch,)`` int codes, indices into :data:`OPERATIONS` (-1: none);
    ``parameters``: ``(batch, 6)`` float64 rows from :func:`operation_parameters`.
    Each operation runs once, on the images that need it. Returns float32.
    """
    images = _to_int(images)
    operations = tf.cast(tf.convert_to_tensor(operations), tf.int32)
    parameters = tf.cast(tf.convert_to_tensor(parameters, dtype_hint=tf.float64), tf.float64)
    out = _apply_operations(images, operations, parameters)
    out.set_shape(images.shape)
    return tf.cast(out, tf.float32)


class CIFAR10Policy:
    """AutoAugment's CIFAR-10 policy applied per image, as the official code's
    ``CIFAR10Policy`` (``utils/autoaug.py`` lines 62-113) does to each PIL image.

    A ``tf.data`` map function on ``(B, H, W, C)`` batches of integer-valued 0..255
    images; returns float32. For every image: a sub-policy drawn uniformly among the 25
    (``random.randint(0, 24)``), then each of its two operations applied with its
    probability, with a random sign where ``utils/transforms.py`` draws one. The draws
    come from a seeded TensorFlow random generator.

    :meth:`draw` and :meth:`apply` split a call in two, and :meth:`describe` names what
    a draw does to each image (the book's figure captions).
    """

    def __init__(self, seed: int | None = None, policy=CIFAR10_POLICY):
        self.policy = tuple(policy)
        for row in self.policy:
            if len(row) != 6 or row[1] not in _APPLY or row[4] not in _APPLY:
                raise ValueError(f"a sub-policy is (p1, op1, level1, p2, op2, level2), got {row}.")
        self._rng = (tf.random.Generator.from_non_deterministic_state() if seed is None
                     else tf.random.Generator.from_seed(seed))
        self._codes = np.array([[OPERATIONS.index(r[1]), OPERATIONS.index(r[4])]
                                for r in self.policy], np.int32)
        self._probabilities = np.array([[r[0], r[3]] for r in self.policy], np.float64)
        self._tables = {}

    def table(self, width: int, height: int) -> np.ndarray:
        """``(sub-policies, 2 operations, 2 signs [-1, +1], 6)`` float64 parameters."""
        key = (int(width), int(height))
        if key not in self._tables:
            self._tables[key] = np.array([
                [[operation_parameters(op, MAGNITUDES[op][level], sign, width, height)
                  for sign in (-1, 1)]
                 for op, level in ((r[1], r[2]), (r[4], r[5]))]
                for r in self.policy])
        return self._tables[key]

    def draw(self, batch) -> dict:
        """Random choices for ``batch`` images: ``subpolicy`` ``(B,)`` int32,
        ``applied`` ``(B, 2)`` bool, ``sign`` ``(B, 2)`` int32 (0: minus, 1: plus)."""
        uniforms = self._rng.uniform([batch, 2], dtype=tf.float64)
        return {
            "subpolicy": self._rng.uniform([batch], 0, len(self.policy), dtype=tf.int32),
            "uniform": uniforms,
            "sign": self._rng.uniform([batch, 2], 0, 2, dtype=tf.int32),
        }

    def _stage(self, draws, stage: int, width: int, height: int):
        k = draws["subpolicy"]
        probability = tf.gather(tf.constant(self._probabilities[:, stage]), k)
        applied = draws["uniform"][:, stage] < probability
        code = tf.where(applied, tf.gather(tf.constant(self._codes[:, stage]), k), -1)
        table = tf.constant(self.table(width, height)[:, stage])  # (P, 2, 6)
        params = tf.gather_nd(table, tf.stack([k, draws["sign"][:, stage]], axis=1))
        return code, params

    def apply(self, images, draws) -> tf.Tensor:
        """Apply the operations chosen by ``draws`` (from :meth:`draw`)."""
        images = _to_int(images)
        height, width = images.shape[1], images.shape[2]
        if height is None or width is None:
            raise ValueError(f"CIFAR10Policy needs images of a static size, got {images.shape}.")
        for stage in (0, 1):
            code, params = self._stage(draws, stage, width, height)
            images = _to_int(apply_operations(images, code, params))
        return tf.cast(images, tf.float32)

    @tf.autograph.experimental.do_not_convert
    def __call__(self, images, training: bool = True) -> tf.Tensor:
        if not training:
            return tf.cast(_to_int(images), tf.float32)
        return self.apply(images, self.draw(tf.shape(images)[0]))

    def describe(self, draws) -> list:
        """One caption per image: the operations applied, with their signed magnitude
        (``"identity"`` when neither coin came up)."""
        k = np.asarray(draws["subpolicy"])
        u = np.asarray(draws["uniform"])
        sign = np.asarray(draws["sign"]) * 2 - 1
        captions = []
        for i in range(len(k)):
            row, parts = self.policy[k[i]], []
            for stage, (p, op, level) in enumerate((row[:3], row[3:])):
                if u[i, stage] < p:
                    m = MAGNITUDES[op][level]
                    if op in SIGNED:
                        parts.append(f"{op} {m * sign[i, stage] + 0.0:+.2g}")  # no "-0"
                    elif op in ("autocontrast", "equalize", "invert"):
                        parts.append(op)
                    else:
                        parts.append(f"{op} {m:.3g}")
            captions.append(", ".join(parts) or "identity")
        return captions
