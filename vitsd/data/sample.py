"""The built-in ``sample`` dataset: coloured shapes drawn with NumPy alone (chapter 1,
"Data").

Ten classes of anti-aliased shapes on textured backgrounds, generated in about half a
second without files or network, so that everything in the book also runs offline.
Each shape is rendered from its signed distance function.
"""

from __future__ import annotations

import numbers

import numpy as np

from vitsd.data.dataset import Dataset

#: Classes of the built-in sample dataset, in label order.
SAMPLE_CLASSES = (
    "circle",
    "ring",
    "square",
    "diamond",
    "triangle",
    "plus",
    "star",
    "crescent",
    "heart",
    "horizontal_bars",
)


def make_sample(
    num_train: int = 5000, num_test: int = 1000, seed: int = 0, image_size: int = 32
) -> Dataset:
    """A synthetic dataset of 10 shapes, generated with NumPy alone (no files).

    Each image shows one anti-aliased shape (see :data:`SAMPLE_CLASSES`), upright
    within +-15 degrees, of random position, size and bright colour, with a soft
    shadow, on a darker gradient background of another hue with blotchy texture, plus
    mild pixel noise. Colours are drawn independently of the class and all shapes of
    one size have the same area, so the mean colour of an image says nothing about its
    label: a classifier has to look at the spatial structure. Classes are balanced
    (counts differ by at most one); train and test come from independent random
    streams; the same arguments give byte-identical arrays. 6,000 images take about
    half a second.
    """
    for arg, value, low in (
        ("num_train", num_train, 1), ("num_test", num_test, 0), ("image_size", image_size, 16)
    ):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{arg} must be an integer >= {low}, got {value!r}.")
    train_seq, test_seq = np.random.SeedSequence([int(seed), 0x5D]).spawn(2)
    splits = []
    for n, seq in ((int(num_train), train_seq), (int(num_test), test_seq)):
        rng = np.random.default_rng(seq)
        labels = rng.permutation(np.arange(n) % len(SAMPLE_CLASSES)).astype(np.int64)
        splits.append((_render_shapes(labels, rng, int(image_size)), labels))
    (x_train, y_train), (x_test, y_test) = splits
    return Dataset("sample", x_train, y_train, x_test, y_test, list(SAMPLE_CLASSES))


def _length(x, y):
    return np.sqrt(x * x + y * y)


def _sd_box(x, y, bx, by):
    qx = np.abs(x) - bx
    qy = np.abs(y) - by
    return _length(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0)


def _sd_triangle(x, y, r):
    """Equilateral triangle of side ``2 r`` around its centroid, pointing up (y up)."""
    k = np.float32(np.sqrt(3.0))
    x = np.abs(x) - r
    y = y + r / k
    flip = (x + k * y) > 0
    x, y = np.where(flip, (x - k * y) / 2, x), np.where(flip, (-k * x - y) / 2, y)
    x = x - np.clip(x, -2 * r, 0)
    return -_length(x, y) * np.sign(y)


def _sd_star5(x, y, r, inner):
    """Five-pointed star of outer radius ``r``, ``inner`` sets the dent depth."""
    k1x, k1y = np.float32(0.809016994375), np.float32(-0.587785252292)
    x = np.abs(x)
    for kx in (k1x, -k1x):  # fold the plane onto one arm
        d = 2 * np.maximum(kx * x + k1y * y, 0)
        x, y = x - d * kx, y - d * k1y
    x = np.abs(x)
    y = y - r
    bax, bay = np.float32(inner * -k1y), np.float32(inner * k1x - 1)
    h = np.clip((x * bax + y * bay) / (bax * bax + bay * bay), 0, r)
    return _length(x - bax * h, y - bay * h) * np.sign(y * bax - x * bay)


def _sd_moon(x, y, d, ra, rb):
    """Disc of radius ``ra`` minus a disc of radius ``rb`` shifted by ``d`` along x."""
    y = np.abs(y)
    a = (ra * ra - rb * rb + d * d) / (2 * d)
    b = np.sqrt(np.maximum(ra * ra - a * a, 0))
    tip = d * (x * b - y * a) > d * d * np.maximum(b - y, 0)
    body = np.maximum(_length(x, y) - ra, -(_length(x - d, y) - rb))
    return np.where(tip, _length(x - a, y - b), body)


def _sd_heart(x, y):
    """Unit heart with its tip at the origin, about 1 high (y up)."""
    x = np.abs(x)
    lobe = _length(x - 0.25, y - 0.75) - np.float32(np.sqrt(2) / 4)
    t = 0.5 * np.maximum(x + y, 0)
    d2 = np.minimum(x * x + (y - 1) ** 2, (x - t) ** 2 + (y - t) ** 2)
    return np.where(x + y > 1, lobe, np.sqrt(d2) * np.sign(x - y))


def _shape_distance(label, x, y, s):
    """Signed distance (pixels, negative inside) to shape ``label`` of size ``s``."""
    name = SAMPLE_CLASSES[label]
    if name == "circle":
        return _length(x, y) - s
    if name == "ring":
        return np.abs(_length(x, y) - 0.8 * s) - 0.25 * s
    if name == "square":
        return _sd_box(x, y, 0.8 * s, 0.8 * s)
    if name == "diamond":
        c = np.float32(np.sqrt(0.5))
        return _sd_box((x + y) * c, (y - x) * c, 0.8 * s, 0.8 * s)
    if name == "triangle":
        return _sd_triangle(x, y, 1.1 * s)
    if name == "plus":
        return np.minimum(_sd_box(x, y, s, 0.32 * s), _sd_box(x, y, 0.32 * s, s))
    if name == "star":
        return _sd_star5(x, y, 1.15 * s, 0.45)
    if name == "crescent":
        return _sd_moon(x, y, 0.55 * s, s, 0.85 * s)
    if name == "heart":
        h = 1.9 * s
        return _sd_heart(x / h, (y + 0.95 * s) / h) * h
    if name == "horizontal_bars":
        gap = 0.62 * s
        return _sd_box(x, y - gap * np.clip(np.round(y / gap), -1, 1), s, 0.2 * s)
    raise AssertionError(name)


#: Per class: (rotation range in degrees, size factor, radius). Shapes keep their
#: upright orientation within +-15 degrees (a square never becomes a diamond). The size
#: factor gives every shape the same area (2.4 s**2, measured on a fine grid) so that
#: the share of object colour in an image says nothing about the class; the radius (in
#: units of s, after the factor) keeps the shape inside the image.
_SAMPLE_GEOMETRY = {
    "circle": (0, 0.874, 0.87),
    "ring": (0, 0.977, 1.03),
    "square": (15, 0.968, 1.09),
    "diamond": (15, 0.967, 1.09),
    "triangle": (15, 1.070, 1.36),
    "plus": (15, 1.056, 1.11),
    "star": (15, 1.171, 1.34),
    "crescent": (15, 1.274, 1.27),
    "heart": (15, 0.863, 1.16),
    "horizontal_bars": (15, 1.000, 1.29),
}


def _hsv_to_rgb(h, s, v):
    i = (np.floor(h * 6).astype(np.int64)) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-1)


def _render_shapes(labels, rng, size):
    """Draw one shape per label: uint8 array ``(len(labels), size, size, 3)``."""
    n = len(labels)
    f32 = np.float32

    def per_image(v):  # (n,) float64 -> (n, 1, 1) float32, broadcasts over pixels
        return np.asarray(v, dtype=f32)[:, None, None]

    coords = np.arange(size, dtype=f32) + f32(0.5)  # pixel centres
    px, py = coords[None, None, :], coords[None, :, None]

    # Per-image parameters (all drawn in a fixed order: determinism).
    rotation, factor, radius = (
        np.array([_SAMPLE_GEOMETRY[c][i] for c in SAMPLE_CLASSES], dtype=float)[labels]
        for i in range(3)
    )
    s = rng.uniform(6.0, 9.5, n) * (size / 32)
    margin = radius * s + 1
    cx = rng.uniform(margin, size - margin)
    cy = rng.uniform(margin, size - margin)
    angle = np.deg2rad(rng.uniform(-1, 1, n) * rotation)
    s = s * factor
    # Colours, independent of the class: a bright saturated object on a darker
    # background of a clearly different hue.
    hue = rng.uniform(0, 1, n)
    fg = _hsv_to_rgb(hue, rng.uniform(0.5, 1.0, n), rng.uniform(0.7, 1.0, n))
    bg_hue = (hue + rng.uniform(0.25, 0.75, n)) % 1
    bg_saturation = rng.uniform(0.2, 0.7, n)
    bg_value = rng.uniform(0.1, 0.45, n)
    bg1 = _hsv_to_rgb(bg_hue, bg_saturation, bg_value)
    bg2 = _hsv_to_rgb(
        (bg_hue + rng.uniform(-0.08, 0.08, n)) % 1,
        np.clip(bg_saturation + rng.uniform(-0.15, 0.15, n), 0.0, 1.0),
        np.clip(bg_value + rng.uniform(-0.2, 0.2, n), 0.05, 1.0),
    )
    gradient_angle = rng.uniform(0, 2 * np.pi, n)
    blotches = rng.standard_normal((n, 5, 5), dtype=f32) * per_image(rng.uniform(0.03, 0.09, n))

    # Background: linear gradient bg1 -> bg2 (weight t), brightness modulated by
    # blotches (a 5x5 random grid upsampled bilinearly).
    t = (px - size / 2) * per_image(np.cos(gradient_angle) / size)
    t = t + (py - size / 2) * per_image(np.sin(gradient_angle) / size) + f32(0.5)
    np.clip(t, 0, 1, out=t)
    grid_pos = coords / size * 4
    i0 = np.clip(np.floor(grid_pos).astype(np.int64), 0, 3)
    w = (grid_pos - i0).astype(f32)
    rows = blotches[:, i0, :] * (1 - w)[:, None] + blotches[:, i0 + 1, :] * w[:, None]
    brightness = rows[:, :, i0] * (1 - w) + rows[:, :, i0 + 1] * w
    brightness += 1

    # Object: signed distance in the object's frame (y up), one class at a time.
    dx, dy = px - per_image(cx), py - per_image(cy)
    cos, sin = per_image(np.cos(angle)), per_image(np.sin(angle))
    ox, oy = cos * dx + sin * dy, sin * dx - cos * dy
    dist = np.empty((n, size, size), dtype=f32)
    s32 = np.asarray(s, dtype=f32)
    for label in range(len(SAMPLE_CLASSES)):
        idx = np.flatnonzero(labels == label)
        if len(idx):
            dist[idx] = _shape_distance(label, ox[idx], oy[idx], s32[idx, None, None])
    coverage = np.clip(f32(0.5) - dist, 0, 1)  # anti-aliased edge, one pixel wide
    shadow = np.clip(f32(0.5) - (dist - 1) / 3, 0, 1)  # soft halo around the object
    brightness *= 1 - f32(0.35) * shadow
    light = 1 + f32(0.12) * np.clip((dx + dy) * per_image(-0.5 / s), -1, 1)  # top-left

    # Composite per channel: bg1 * a + (bg2 - bg1) * (t * a) + fg * b.
    a = brightness * (1 - coverage)
    ta = t * a
    b = coverage * light
    out = np.empty((n, size, size, 3), dtype=f32)
    for ch in range(3):
        o = out[..., ch]
        np.multiply(a, per_image(bg1[:, ch] * 255), out=o)
        o += ta * per_image((bg2[:, ch] - bg1[:, ch]) * 255)
        o += b * per_image(fg[:, ch] * 255)
    noise = rng.standard_normal((n, size, size), dtype=f32)
    noise *= f32(3.0)  # mild luminance noise, std 3 grey levels
    noise += f32(0.5)  # round to nearest in the uint8 cast below
    out += noise[..., None]
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)
