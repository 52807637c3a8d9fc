"""Datasets for vitsd: CIFAR-100, CIFAR-10, image folders and a built-in sample
(taught in chapter 1, "Data").

Every loader returns a :class:`Dataset`: uint8 images of shape ``(N, H, W, 3)``,
int64 labels of shape ``(N,)`` and the class names, split into train and test.

* ``load_dataset("cifar100")`` / ``load_dataset("cifar10")`` read the archives that
  ``keras.datasets.cifar100.load_data()`` / ``cifar10.load_data()`` download into the
  Keras cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``). An archive that is
  already there is read without touching the network.
* ``load_dataset("sample")`` builds a synthetic dataset of coloured shapes with NumPy
  alone, so that everything in the book also runs on a machine without internet.
* ``load_dataset("path/to/folder")`` reads ``<root>/<class>/*.png`` (or ``.jpg``...).

Every data problem (no network, a truncated archive, an empty class folder, an
unreadable image) raises :class:`DatasetError` with a message that says what to do.
"""

from __future__ import annotations

import io
import numbers
import os
import pickle
import tarfile
import zlib
from dataclasses import dataclass

import numpy as np

#: The names :func:`load_dataset` accepts besides a folder path.
DATASETS = ("sample", "cifar100", "cifar10", "cifar10-jpeg")

#: File name of the CIFAR-10 JPEG training split (``load_dataset("cifar10-jpeg")``).
CIFAR10_JPEG = "cifar10_jpeg_train.npz"

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

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

#: The 100 "fine" labels of CIFAR-100 in label order (alphabetical).
CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle",
    "bicycle", "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel",
    "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock",
    "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster",
    "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse",
    "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
    "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine",
    "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea",
    "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip",
    "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip

#: File extensions read from image folders (compared case-insensitively).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")

#: Side of the square images produced by the folder loader.
FOLDER_IMAGE_SIZE = 32

#: Fraction of each class held out as test set when a folder has no train/test split.
FOLDER_TEST_FRACTION = 0.2


class DatasetError(RuntimeError):
    """A dataset could not be loaded; the message says why and what to do."""


@dataclass
class Dataset:
    """Images and labels of one dataset, split into train and test.

    ``x_*`` are uint8 arrays of shape ``(N, H, W, 3)``, ``y_*`` int64 arrays of shape
    ``(N,)`` with values in ``range(len(class_names))``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple:
        return tuple(int(d) for d in self.x_train.shape[1:])

    def summary(self) -> dict:
        """A JSON-ready description: name, sizes, image shape and class names."""
        return {
            "name": str(self.name),
            "num_classes": self.num_classes,
            "train_size": int(len(self.y_train)),
            "test_size": int(len(self.y_test)),
            "image_shape": list(self.image_shape),
            "class_names": [str(c) for c in self.class_names],
        }


# ---------------------------------------------------------------------- entry point
def load_dataset(
    name: str,
    limit: int | None = None,
    seed: int = 42,
    cache_dir: str | None = None,
) -> Dataset:
    """Load a dataset by name (``"sample"``, ``"cifar100"``, ``"cifar10"``) or folder.

    Args:
        name: one of :data:`DATASETS`, or the path of an image folder laid out as
            ``<root>/<class>/*.png`` or ``<root>/{train,test}/<class>/*.png``. The
            built-in names win over a folder of the same name (write ``./sample``).
        limit: if given, keep at most ``limit`` training and at most ``limit`` test
            images, drawn with :func:`stratified_subset` (balanced across classes).
        seed: seeds the ``limit`` subsets and the test hold-out of a folder without a
            train/test split. The sample images themselves are always the same.
        cache_dir: the Keras cache directory for the CIFAR archives (the folder that
            holds ``datasets/``); default ``$KERAS_HOME`` or ``~/.keras``.
    """
    limit = _check_limit(limit)
    key = os.fspath(name) if isinstance(name, os.PathLike) else name
    if not isinstance(key, str) or not key.strip():
        raise DatasetError(
            f"Dataset name must be a non-empty string, got {name!r}. "
            f"Use one of {', '.join(DATASETS)} or the path of an image folder."
        )
    lowered = key.strip().lower()
    if lowered == "sample":
        data = make_sample()
    elif lowered in ("cifar100", "cifar10"):
        data = _load_cifar(lowered, cache_dir)
    elif lowered == "cifar10-jpeg":
        data = load_jpeg_archive(find_cifar10_jpeg())
        data.name = "cifar10-jpeg"
    elif os.path.isdir(key):
        data = _load_folder(key, seed)
    elif key.endswith(".npz") and os.path.isfile(key):
        data = load_jpeg_archive(key)
    elif os.path.exists(key):
        raise DatasetError(
            f"{key!r} is a file, not a folder. An image dataset is a folder laid out "
            "as <root>/<class>/*.png (or <root>/train/<class>/ and <root>/test/<class>/)."
        )
    else:
        raise DatasetError(
            f"Unknown dataset {key!r}: it is not one of {', '.join(DATASETS)}, and "
            f"there is no folder at {os.path.abspath(key)}. Use a built-in name, e.g. "
            '"sample" (works offline), or the path of an image folder laid out as '
            "<root>/<class>/*.png."
        )
    if limit is not None:
        data.x_train, data.y_train = stratified_subset(data.x_train, data.y_train, limit, seed)
        data.x_test, data.y_test = stratified_subset(data.x_test, data.y_test, limit, seed + 1)
    return data


#: Images held out of a JPEG archive as its test split (stratified), and the seed that
#: draws them: fixed, so that runs with different seeds are scored on the same images.
JPEG_HOLDOUT = 5000
JPEG_HOLDOUT_SEED = 42


def find_cifar10_jpeg() -> str:
    """The path of the CIFAR-10 JPEG archive (:data:`CIFAR10_JPEG`).

    Looked for in ``$VITSD_DATA`` (a folder), then in ``shared/data/`` beside any
    parent folder of the working directory or of this package (where the project's
    machines keep it). Raises :class:`DatasetError` saying where to put it.
    """
    places = []
    if os.environ.get("VITSD_DATA"):
        places.append(os.path.join(os.environ["VITSD_DATA"], CIFAR10_JPEG))
    for start in (os.getcwd(), os.path.dirname(os.path.abspath(__file__))):
        folder = os.path.abspath(start)
        while True:
            places.append(os.path.join(folder, "shared", "data", CIFAR10_JPEG))
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
    for path in places:
        if os.path.isfile(path):
            return path
    raise DatasetError(
        f"the CIFAR-10 JPEG archive {CIFAR10_JPEG} was not found: set VITSD_DATA to the "
        "folder that holds it (or keep it in shared/data/ beside the checkout). Without "
        'it, use dataset "cifar10" (downloads) or "sample" (built in, offline).'
    )


def training_fraction(data: Dataset, fraction: float, seed: int = 0) -> Dataset:
    """``data`` with a stratified ``fraction`` of its training images and the *whole*
    test split (chapter 6's dataset-size experiment). ``fraction == 1`` keeps all."""
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) \
            or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}.")
    if fraction == 1:
        return data
    x, y = stratified_subset(data.x_train, data.y_train,
                             max(1, round(fraction * len(data.y_train))), seed)
    return Dataset(data.name, x, y, data.x_test, data.y_test, list(data.class_names))


def load_jpeg_archive(path, holdout: int = JPEG_HOLDOUT,
                      seed: int = JPEG_HOLDOUT_SEED) -> Dataset:
    """A dataset from an ``.npz`` of concatenated JPEG files (chapter 8).

    The archive holds ``jpeg`` (uint8, all files concatenated), ``offsets`` (image ``i``
    is ``jpeg[offsets[i]:offsets[i+1]]``), ``labels`` and ``label_names`` -- the layout
    of the CIFAR-10 JPEG training split kept beside this project for experiments.
    ``holdout`` images, stratified and seeded, become the test split; nothing else is
    ever evaluated on them.
    """
    from PIL import Image

    try:
        archive = np.load(path)
        jpeg, offsets = archive["jpeg"], archive["offsets"]
        labels = archive["labels"].astype("int64")
        names = [str(n) for n in archive["label_names"]]
    except (OSError, KeyError, ValueError) as err:
        raise DatasetError(
            f"{path} is not a JPEG archive with arrays jpeg, offsets, labels and "
            f"label_names ({err})."
        ) from err
    images = np.stack([
        np.asarray(Image.open(io.BytesIO(jpeg[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB"))
        for i in range(len(labels))
    ])
    if not 0 < holdout < len(labels):
        raise ValueError(f"holdout must be between 1 and {len(labels) - 1}, got {holdout}.")
    x_train, y_train, x_test, y_test = train_val_split(images, labels, holdout / len(labels), seed)
    return Dataset(os.path.basename(path), x_train, y_train, x_test, y_test, names)


def _check_limit(limit):
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}.")
    return int(limit)


# ------------------------------------------------------------------------ splitting
def stratified_subset(x, y, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``limit`` examples with per-class counts as equal as possible.

    Each class gets ``limit // num_classes`` examples (classes with fewer examples give
    all they have and their share goes to the others); the remaining few go to
    randomly chosen classes. With ``limit < num_classes``, ``limit`` classes get one
    example each. The choice is seeded and deterministic; the kept examples stay in
    their original order. ``limit >= len(y)`` keeps everything.
    """
    limit = _check_limit(limit)
    if limit is None:
        raise ValueError("limit must be a positive integer, got None.")
    x, y = _check_xy(x, y)
    if limit >= len(y):
        return x.copy(), y.copy()
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    take = _equal_allocation(counts, limit, rng)
    keep = []
    for cls, k in zip(classes, take):
        if k:
            members = np.flatnonzero(y == cls)
            keep.append(rng.choice(members, size=int(k), replace=False))
    keep = np.sort(np.concatenate(keep))
    return x[keep], y[keep]


def train_val_split(x, y, fraction: float, seed: int):
    """Split off a stratified validation set: ``(x_train, y_train, x_val, y_val)``.

    About ``fraction`` of every class goes to validation (``round(fraction * N)`` in
    all, shared between classes by largest remainder) and every class keeps at least
    one training example. Seeded and deterministic; both parts keep the original order.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
        raise ValueError(f"fraction must be a number in [0, 1), got {fraction!r}.")
    if not 0.0 <= float(fraction) < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction!r}.")
    x, y = _check_xy(x, y)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    n_val = _proportional_allocation(counts, float(fraction), rng)
    is_val = np.zeros(len(y), dtype=bool)
    for cls, k in zip(classes, n_val):
        if k:
            members = np.flatnonzero(y == cls)
            is_val[rng.choice(members, size=int(k), replace=False)] = True
    return x[~is_val], y[~is_val], x[is_val], y[is_val]


def _check_xy(x, y):
    x = np.asarray(x)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            f"x and y must hold the same number of examples and y must be 1-D, "
            f"got x {x.shape} and y {y.shape}."
        )
    return x, y


def _equal_allocation(counts, total, rng):
    """Share ``total`` between classes as equally as their ``counts`` allow."""
    counts = np.asarray(counts, dtype=np.int64)
    take = np.zeros_like(counts)
    remaining = min(int(total), int(counts.sum()))
    while remaining > 0:
        open_ = np.flatnonzero(take < counts)
        share = remaining // len(open_)
        if share == 0:
            chosen = rng.choice(open_, size=remaining, replace=False)
            take[chosen] += 1
            break
        add = np.minimum(share, counts[open_] - take[open_])
        take[open_] += add
        remaining -= int(add.sum())
    return take


def _proportional_allocation(counts, fraction, rng):
    """``fraction`` of each class, rounded by largest remainder; each keeps one."""
    counts = np.asarray(counts, dtype=np.int64)
    exact = counts * fraction
    take = np.floor(exact).astype(np.int64)
    take = np.minimum(take, np.maximum(counts - 1, 0))
    extra = int(round(fraction * counts.sum())) - int(take.sum())
    if extra > 0:
        room = np.flatnonzero(take < counts - 1)
        # Largest remainder first; ties broken by a seeded random key.
        order = np.lexsort((rng.random(len(room)), -(exact[room] - take[room])))
        take[room[order[:extra]]] += 1
    return take


# ---------------------------------------------------------------- the sample dataset
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


# ------------------------------------------------------------------------- folders
def _list_subdirs(path):
    return sorted(
        e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith(".")
    )


def _list_images(folder):
    return sorted(
        e.name
        for e in os.scandir(folder)
        if e.is_file()
        and not e.name.startswith(".")
        and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
    )


def _read_image(path, size):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image.size != (size, size):
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError,
            SyntaxError) as exc:
        raise DatasetError(
            f"Cannot read the image {path}: {exc}. Delete or replace the file "
            f"(readable formats: {', '.join(IMAGE_EXTENSIONS)})."
        ) from exc


def _read_class_folders(root, class_names, split_name):
    """Read ``root/<class>/*`` for the classes present; returns (x, y)."""
    xs, ys = [], []
    for label, cls in enumerate(class_names):
        folder = os.path.join(root, cls)
        if not os.path.isdir(folder):
            continue
        files = _list_images(folder)
        if not files:
            raise DatasetError(
                f"The class folder {folder} ({split_name}) holds no images. Put "
                f"{'/'.join(IMAGE_EXTENSIONS)} files in it or remove the folder."
            )
        for fname in files:
            xs.append(_read_image(os.path.join(folder, fname), FOLDER_IMAGE_SIZE))
            ys.append(label)
    x = np.stack(xs).astype(np.uint8)
    return x, np.asarray(ys, dtype=np.int64)


def _load_folder(root, seed):
    layout = (
        "Expected <root>/<class>/*.png (or .jpg, .jpeg, .bmp, .gif), or "
        "<root>/train/<class>/ and <root>/test/<class>/."
    )
    subdirs = _list_subdirs(root)
    has_train, has_test = "train" in subdirs, "test" in subdirs
    if has_train != has_test:
        present, missing = ("train", "test") if has_train else ("test", "train")
        raise DatasetError(
            f"The folder {root} has a {present}/ subfolder but no {missing}/ one. "
            f"Add {os.path.join(root, missing)} or move the class folders up. {layout}"
        )
    if has_train:
        train_root, test_root = os.path.join(root, "train"), os.path.join(root, "test")
        class_names = _list_subdirs(train_root)
        if not class_names:
            raise DatasetError(f"No class folders in {train_root}. {layout}")
        unknown = sorted(set(_list_subdirs(test_root)) - set(class_names))
        if unknown:
            raise DatasetError(
                f"The test classes {unknown} in {test_root} have no folder in "
                f"{train_root}. Every test class needs training images."
            )
        if not _list_subdirs(test_root):
            raise DatasetError(f"No class folders in {test_root}. {layout}")
        x_train, y_train = _read_class_folders(train_root, class_names, "train")
        x_test, y_test = _read_class_folders(test_root, class_names, "test")
    else:
        class_names = subdirs
        if not class_names:
            raise DatasetError(f"No class folders in {root}. {layout}")
        x, y = _read_class_folders(root, class_names, "images")
        x_train, y_train, x_test, y_test = train_val_split(x, y, FOLDER_TEST_FRACTION, seed)
    # Files are read class by class; shuffle so that the order says nothing.
    rng = np.random.default_rng(seed)
    order_train, order_test = rng.permutation(len(y_train)), rng.permutation(len(y_test))
    return Dataset(
        os.fspath(root),
        x_train[order_train],
        y_train[order_train],
        x_test[order_test],
        y_test[order_test],
        list(class_names),
    )


# --------------------------------------------------------------------------- CIFAR
#: What ``keras.datasets.<name>.load_data()`` downloads and where it unpacks it:
#: ``get_file(fname=target, extract=True)`` saves ``datasets/<target>_archive`` and
#: extracts it into ``datasets/<target>/``, which holds ``<inner>/<files>``.
_CIFAR = {
    "cifar10": {
        "title": "CIFAR-10",
        "target": "cifar-10-batches-py-target",
        "inner": "cifar-10-batches-py",
        "origin": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "file_hash": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        "train_files": tuple(f"data_batch_{i}" for i in range(1, 6)),
        "test_files": ("test_batch",),
        "label_key": "labels",
        "classes": CIFAR10_CLASSES,
    },
    "cifar100": {
        "title": "CIFAR-100",
        "target": "cifar-100-python-target",
        "inner": "cifar-100-python",
        "origin": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "file_hash": "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
        "train_files": ("train",),
        "test_files": ("test",),
        "label_key": "fine_labels",
        "classes": CIFAR100_CLASSES,
    },
}


def _keras_cache_dir(cache_dir=None):
    """The Keras cache directory: ``cache_dir``, ``$KERAS_HOME`` or ``~/.keras``."""
    if cache_dir is None:
        home = os.path.expanduser("~")
        cache_dir = os.environ.get("KERAS_HOME") or os.path.join(
            home if os.access(home, os.W_OK) else "/tmp", ".keras"
        )
    return os.path.abspath(os.path.expanduser(os.fspath(cache_dir)))


def _cifar_candidates(spec, base):
    """Where an extracted copy and the archive may lie, most likely first."""
    target, inner = spec["target"], spec["inner"]
    origin_name = spec["origin"].rsplit("/", 1)[-1]
    # keras.utils.get_file falls back to /tmp/.keras when the cache is read-only.
    bases = [base] if os.access(base, os.W_OK) else [base, os.path.join("/tmp", ".keras")]
    extracted, archives = [], []
    for b in bases:
        for folder in (os.path.join(b, "datasets"), b):
            extracted += [
                os.path.join(folder, target, inner),  # Keras 3 get_file(extract=True)
                os.path.join(folder, inner),  # Keras 2, or unpacked by hand
            ]
            archives += [
                os.path.join(folder, f"{target}_archive"),  # Keras 3
                os.path.join(folder, origin_name),  # downloaded by hand
                os.path.join(folder, f"{inner}.tar.gz"),  # Keras 2
            ]
    return extracted, archives


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts of NumPy arrays and lists; refuses any other global."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the file")


_READ_ERRORS = (
    pickle.UnpicklingError, EOFError, ValueError, KeyError, TypeError, IndexError,
    AttributeError, tarfile.TarError, zlib.error, OSError,
)  # fmt: skip


def _parse_batch(raw, spec):
    """One pickled CIFAR batch -> uint8 (N, 32, 32, 3), int64 (N,)."""
    batch = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch[spec["label_key"]], dtype=np.int64).reshape(-1)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ValueError(f"unexpected array shapes {data.shape} and {labels.shape}")
    n_classes = len(spec["classes"])
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels outside 0..{n_classes - 1}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _assemble(spec, batches):
    """Concatenate parsed batches into ``(x_train, y_train, x_test, y_test)``."""
    arrays = []
    for split in ("train_files", "test_files"):
        xs, ys = zip(*(batches[f] for f in spec[split]))
        arrays += [np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)]
    return arrays


def _load_cifar_extracted(spec, folder):
    batches = {}
    for fname in spec["train_files"] + spec["test_files"]:
        path = os.path.join(folder, fname)
        try:
            with open(path, "rb") as f:
                batches[fname] = _parse_batch(f.read(), spec)
        except _READ_ERRORS as exc:
            raise DatasetError(
                f"The {spec['title']} file at {path} is corrupt or truncated ({exc}). "
                f"Delete the folder {os.path.dirname(folder)} and load the dataset "
                "again: it is extracted again from the archive, or downloaded again."
            ) from exc
    return _assemble(spec, batches)


def _load_cifar_archive(spec, archive):
    wanted = spec["train_files"] + spec["test_files"]
    try:
        raw = {}
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                fname = member.name.rsplit("/", 1)[-1]
                if member.isfile() and fname in wanted and fname not in raw:
                    raw[fname] = tar.extractfile(member).read()
        missing = [f for f in wanted if f not in raw]
        if missing:
            raise ValueError(f"the archive has no {', '.join(missing)}")
        batches = {fname: _parse_batch(raw[fname], spec) for fname in wanted}
    except _READ_ERRORS as exc:
        raise DatasetError(
            f"The {spec['title']} archive at {archive} is corrupt or truncated ({exc}). "
            f"Delete it and download it again from {spec['origin']} (loading the "
            "dataset again on a machine that is online does that)."
        ) from exc
    return _assemble(spec, batches)


def _complete(folder, spec):
    files = spec["train_files"] + spec["test_files"]
    return all(os.path.isfile(os.path.join(folder, f)) for f in files)


def _load_cifar(name, cache_dir):
    spec = _CIFAR[name]
    base = _keras_cache_dir(cache_dir)
    extracted, archives = _cifar_candidates(spec, base)
    folder = next((d for d in extracted if _complete(d, spec)), None)
    archive = next((a for a in archives if os.path.isfile(a)), None)
    if folder is not None:
        arrays = _load_cifar_extracted(spec, folder)
    elif archive is not None:
        arrays = _load_cifar_archive(spec, archive)
    else:
        arrays = _download_cifar(spec, base)
    return Dataset(name, *arrays, list(spec["classes"]))


def _download_cifar(spec, base):
    import keras  # only the download needs Keras

    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        pass  # get_file then falls back to /tmp/.keras, and so does the message
    datasets = os.path.join(
        base if os.access(base, os.W_OK) else os.path.join("/tmp", ".keras"), "datasets"
    )
    archive = os.path.join(datasets, f"{spec['target']}_archive")
    try:
        path = keras.utils.get_file(
            fname=spec["target"],
            origin=spec["origin"],
            extract=True,
            file_hash=spec["file_hash"],
            cache_dir=base,
        )
    except Exception as exc:  # urllib, socket, ssl, hash mismatch: all mean the same
        raise DatasetError(
            f"The {spec['title']} dataset could not be downloaded ({exc}). Keras "
            f"expects the archive at {archive}; fetch it from {spec['origin']} "
            "(on another machine if this one is offline), copy it to that path and "
            "load the dataset again. To work offline right now, use the built-in "
            'synthetic dataset: load_dataset("sample") or --dataset sample.'
        ) from exc
    folder = os.path.join(path, spec["inner"])
    if not _complete(folder, spec):
        raise DatasetError(
            f"The {spec['title']} archive at {archive} was downloaded but did not "
            f"unpack into {folder}: it is corrupt or truncated. Delete it and "
            f"{path}, then load the dataset again."
        )
    return _load_cifar_extracted(spec, folder)
