"""CIFAR-10 and CIFAR-100 from the Keras cache (chapter 1, "Data").

``load_dataset("cifar100")`` / ``load_dataset("cifar10")`` read the archives that
``keras.datasets.cifar100.load_data()`` / ``cifar10.load_data()`` download into the
Keras cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``): an extracted copy or
an archive that is already there is read without touching the network (and without
Keras); only a download imports Keras. Before downloading, the loaders also look in
``$VITSD_DATA`` and in ``shared/data/`` beside the checkout
(:mod:`vitsd.data.shared`) for the archive (``.tar.gz`` as Keras downloads it, or
``.tar.xz``) or its extracted folder. The pickled batches are read by an unpickler
that accepts NumPy arrays and nothing else.

``load_dataset("cifar100-coarse")`` is CIFAR-100 with its 20 superclass labels
(:data:`CIFAR100_SUPERCLASSES`) instead of the 100 fine ones.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import zlib

import numpy as np

from vitsd.data.dataset import Dataset, DatasetError
from vitsd.data.shared import find_data_file, keras_cache_dir

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

#: The 20 "coarse" labels of CIFAR-100 (its superclasses) in label order, each with its
#: five fine classes: the grouping of the archive's ``coarse_labels``.
CIFAR100_SUPERCLASSES = {
    "aquatic_mammals": ("beaver", "dolphin", "otter", "seal", "whale"),
    "fish": ("aquarium_fish", "flatfish", "ray", "shark", "trout"),
    "flowers": ("orchid", "poppy", "rose", "sunflower", "tulip"),
    "food_containers": ("bottle", "bowl", "can", "cup", "plate"),
    "fruit_and_vegetables": ("apple", "mushroom", "orange", "pear", "sweet_pepper"),
    "household_electrical_devices": ("clock", "keyboard", "lamp", "telephone", "television"),
    "household_furniture": ("bed", "chair", "couch", "table", "wardrobe"),
    "insects": ("bee", "beetle", "butterfly", "caterpillar", "cockroach"),
    "large_carnivores": ("bear", "leopard", "lion", "tiger", "wolf"),
    "large_man-made_outdoor_things": ("bridge", "castle", "house", "road", "skyscraper"),
    "large_natural_outdoor_scenes": ("cloud", "forest", "mountain", "plain", "sea"),
    "large_omnivores_and_herbivores": ("camel", "cattle", "chimpanzee", "elephant", "kangaroo"),
    "medium_mammals": ("fox", "porcupine", "possum", "raccoon", "skunk"),
    "non-insect_invertebrates": ("crab", "lobster", "snail", "spider", "worm"),
    "people": ("baby", "boy", "girl", "man", "woman"),
    "reptiles": ("crocodile", "dinosaur", "lizard", "snake", "turtle"),
    "small_mammals": ("hamster", "mouse", "rabbit", "shrew", "squirrel"),
    "trees": ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"),
    "vehicles_1": ("bicycle", "bus", "motorcycle", "pickup_truck", "train"),
    "vehicles_2": ("lawn_mower", "rocket", "streetcar", "tank", "tractor"),
}


def superclass_of(fine_label: int) -> int:
    """The CIFAR-100 superclass (coarse label) of a fine label."""
    name = CIFAR100_CLASSES[int(fine_label)]
    return next(i for i, members in enumerate(CIFAR100_SUPERCLASSES.values())
                if name in members)


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
        # Looked for in $VITSD_DATA and shared/data/ (vitsd.data.shared), before a
        # download: the archive as Keras downloads it, the .tar.xz kept beside the
        # project, or the folder either unpacks into.
        "shared_names": ("cifar-100-python.tar.xz", "cifar-100-python.tar.gz",
                         "cifar-100-python"),
    },
}
_CIFAR["cifar10"]["shared_names"] = (
    "cifar-10-python.tar.xz", "cifar-10-python.tar.gz", "cifar-10-batches-py")
_CIFAR["cifar100-coarse"] = {
    **_CIFAR["cifar100"], "title": "CIFAR-100 (superclasses)",
    "label_key": "coarse_labels", "classes": tuple(CIFAR100_SUPERCLASSES),
}


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
    base = keras_cache_dir(cache_dir)
    extracted, archives = _cifar_candidates(spec, base)
    folder = next((d for d in extracted if _complete(d, spec)), None)
    archive = next((a for a in archives if os.path.isfile(a)), None)
    if folder is None and archive is None:
        beside = find_data_file(*spec["shared_names"])
        if beside is not None and os.path.isdir(beside):
            folder = beside if _complete(beside, spec) else None
        elif beside is not None:
            archive = beside
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
            "(on another machine if this one is offline), copy it to that path (or "
            "into the folder $VITSD_DATA names) and load the dataset again. To work "
            "offline right now, use the built-in "
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
