"""Image folders: ``<root>/<class>/*.png`` or ``<root>/{train,test}/<class>/*.png``
(chapter 1, "Data").

Images are read with Pillow, converted to RGB and resized to
:data:`FOLDER_IMAGE_SIZE` pixels square; a folder without a train/test split gives
:data:`FOLDER_TEST_FRACTION` of each class to the test split.
"""

from __future__ import annotations

import os

import numpy as np

from vitsd.data.dataset import Dataset, DatasetError
from vitsd.data.splits import train_val_split

#: File extensions read from image folders (compared case-insensitively).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")

#: Side of the square images produced by the folder loader.
FOLDER_IMAGE_SIZE = 32

#: Fraction of each class held out as test set when a folder has no train/test split.
FOLDER_TEST_FRACTION = 0.2


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
