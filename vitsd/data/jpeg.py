"""Datasets stored as one ``.npz`` of concatenated JPEG files, such as the CIFAR-10 JPEG
training split kept beside the project (chapter 1, "Data"; used from chapter 6 on).

The test split of such an archive is a fixed, stratified hold-out, so that runs with
different seeds are scored on the same images.
"""

from __future__ import annotations

import io
import os

import numpy as np

from vitsd.data.dataset import Dataset, DatasetError
from vitsd.data.shared import find_data_file
from vitsd.data.splits import train_val_split

#: File name of the CIFAR-10 JPEG training split (``load_dataset("cifar10-jpeg")``).
CIFAR10_JPEG = "cifar10_jpeg_train.npz"

#: Images held out of a JPEG archive as its test split (stratified), and the seed that
#: draws them: fixed, so that runs with different seeds are scored on the same images.
JPEG_HOLDOUT = 5000
JPEG_HOLDOUT_SEED = 42


def find_cifar10_jpeg() -> str:
    """The path of the CIFAR-10 JPEG archive (:data:`CIFAR10_JPEG`).

    Looked for in ``$VITSD_DATA`` (a folder), then in ``shared/data/`` beside any
    parent folder of the working directory or of this package (where the project's
    machines keep it; :func:`vitsd.data.shared.data_folders`). Raises
    :class:`DatasetError` saying where to put it.
    """
    path = find_data_file(CIFAR10_JPEG)
    if path is not None and os.path.isfile(path):
        return path
    raise DatasetError(
        f"the CIFAR-10 JPEG archive {CIFAR10_JPEG} was not found: set VITSD_DATA to the "
        "folder that holds it (or keep it in shared/data/ beside the checkout). Without "
        'it, use dataset "cifar10" (downloads) or "sample" (built in, offline).'
    )


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
