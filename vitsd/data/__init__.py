"""Datasets for vitsd: CIFAR-100, CIFAR-10, image folders, JPEG archives and a built-in
sample (taught in chapter 1, "Data").

Every loader returns a :class:`Dataset`: uint8 images of shape ``(N, H, W, 3)``,
int64 labels of shape ``(N,)`` and the class names, split into train and test.

* ``load_dataset("cifar100")`` / ``load_dataset("cifar10")`` read the archives that
  ``keras.datasets.cifar100.load_data()`` / ``cifar10.load_data()`` download into the
  Keras cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``). An archive that is
  already there, or one in ``$VITSD_DATA`` or ``shared/data/`` beside the checkout
  (``.tar.gz`` or ``.tar.xz``), is read without touching the network: the official
  split, 50,000 training and 10,000 test images (:mod:`vitsd.data.cifar`).
  ``"cifar100-coarse"``: the same images with the 20 superclass labels.
* ``load_dataset("sample")`` builds a synthetic dataset of coloured shapes with NumPy
  alone, so that everything in the book also runs on a machine without internet
  (:mod:`vitsd.data.sample`).
* ``load_dataset("path/to/folder")`` reads ``<root>/<class>/*.png`` (or ``.jpg``...)
  (:mod:`vitsd.data.folders`).
* ``load_dataset("cifar10-jpeg")`` or ``load_dataset("archive.npz")`` decodes an
  archive of concatenated JPEG files (:mod:`vitsd.data.jpeg`).

Subsets and splits that keep classes balanced are in :mod:`vitsd.data.splits`; the
container and the error in :mod:`vitsd.data.dataset`. Everything public about
datasets is importable from ``vitsd.data`` itself.

The training input pipeline (``tf.data``; chapters 6 and 8) is imported on its own, as
it loads TensorFlow: :mod:`vitsd.data.pipeline` (``make_dataset``) maps the chains of
:mod:`vitsd.data.augmentation` over batches made by :mod:`vitsd.data.sampler`
(repeated augmentation), then mixes them (:mod:`vitsd.data.mixing`: CutMix, MixUp).
The chains are built from :mod:`vitsd.data.crop` (pad-and-crop),
:mod:`vitsd.data.auto_augment` (AutoAugment's CIFAR-10 policy) and
:mod:`vitsd.data.random_erasing`.

Every data problem (no network, a truncated archive, an empty class folder, an
unreadable image) raises :class:`DatasetError` with a message that says what to do.
"""

from __future__ import annotations

import os

from vitsd.data.cifar import (
    CIFAR10_CLASSES,
    CIFAR100_CLASSES,
    CIFAR100_SUPERCLASSES,
    _load_cifar,
    superclass_of,
)
from vitsd.data.dataset import Dataset, DatasetError
from vitsd.data.folders import (
    FOLDER_IMAGE_SIZE,
    FOLDER_TEST_FRACTION,
    IMAGE_EXTENSIONS,
    _load_folder,
)
from vitsd.data.jpeg import (
    CIFAR10_JPEG,
    JPEG_HOLDOUT,
    JPEG_HOLDOUT_SEED,
    find_cifar10_jpeg,
    load_jpeg_archive,
)

# The sample's geometry and distance function stay importable from here, as when
# vitsd.data was one module (the tests check the shapes' areas with them).
from vitsd.data.sample import (  # noqa: F401
    _SAMPLE_GEOMETRY,
    SAMPLE_CLASSES,
    _shape_distance,
    make_sample,
)
from vitsd.data.splits import (
    _check_limit,
    stratified_subset,
    train_val_split,
    training_fraction,
)

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_JPEG",
    "CIFAR100_CLASSES",
    "CIFAR100_SUPERCLASSES",
    "DATASETS",
    "FOLDER_IMAGE_SIZE",
    "FOLDER_TEST_FRACTION",
    "IMAGE_EXTENSIONS",
    "JPEG_HOLDOUT",
    "JPEG_HOLDOUT_SEED",
    "SAMPLE_CLASSES",
    "Dataset",
    "DatasetError",
    "find_cifar10_jpeg",
    "load_dataset",
    "load_jpeg_archive",
    "make_sample",
    "stratified_subset",
    "superclass_of",
    "train_val_split",
    "training_fraction",
]

#: The names :func:`load_dataset` accepts besides a folder path.
DATASETS = ("sample", "cifar100", "cifar100-coarse", "cifar10", "cifar10-jpeg")


def load_dataset(
    name: str,
    limit: int | None = None,
    seed: int = 42,
    cache_dir: str | None = None,
) -> Dataset:
    """Load a dataset by name (``"sample"``, ``"cifar100"``, ``"cifar10"``...) or folder.

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
    elif lowered in ("cifar100", "cifar100-coarse", "cifar10"):
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
