"""The real CIFAR-100 archive kept beside the checkout (``../shared/data``): counts,
shapes, class names, the official split and the superclasses. Skips where it is absent
(a user's machine); nothing here is committed or written."""

import pickle
import tarfile

import numpy as np
import pytest

from vitsd.data import CIFAR100_CLASSES, CIFAR100_SUPERCLASSES, load_dataset, superclass_of
from vitsd.data.shared import find_data_file

ARCHIVE = find_data_file("cifar-100-python.tar.xz")
pytestmark = pytest.mark.skipif(ARCHIVE is None, reason="no cifar-100-python.tar.xz beside "
                                "the checkout (../shared/data) or in $VITSD_DATA")


@pytest.fixture(scope="module")
def raw():
    """The pickles, read here with plain pickle (latin1 keys): an independent reader."""
    out = {}
    with tarfile.open(ARCHIVE, "r:*") as tar:
        for member in tar:
            if member.isfile():
                out[member.name.rsplit("/", 1)[-1]] = pickle.load(
                    tar.extractfile(member), encoding="latin1")
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    import os

    old = os.environ.get("KERAS_HOME")
    os.environ["KERAS_HOME"] = str(tmp_path_factory.mktemp("empty_keras_home"))
    try:
        return load_dataset("cifar100")
    finally:
        if old is None:
            del os.environ["KERAS_HOME"]
        else:
            os.environ["KERAS_HOME"] = old


def test_official_split_counts_and_shapes(data):
    assert data.x_train.shape == (50000, 32, 32, 3) and data.x_test.shape == (10000, 32, 32, 3)
    assert data.x_train.dtype == np.uint8
    assert (np.bincount(data.y_train, minlength=100) == 500).all()
    assert (np.bincount(data.y_test, minlength=100) == 100).all()
    # The first labels of the official files (the archive's README).
    assert data.y_train[:5].tolist() == [19, 29, 0, 11, 1]
    assert data.y_test[:5].tolist() == [49, 33, 72, 51, 71]


def test_pixels_and_names_match_an_independent_reader(data, raw):
    assert list(CIFAR100_CLASSES) == raw["meta"]["fine_label_names"]
    assert list(CIFAR100_SUPERCLASSES) == raw["meta"]["coarse_label_names"]
    for split, x in (("train", data.x_train), ("test", data.x_test)):
        rows = np.asarray(raw[split]["data"], dtype=np.uint8)
        idx = [0, 1, 777, len(rows) - 1]
        expected = rows[idx].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        np.testing.assert_array_equal(x[idx], expected)
    mean = data.x_train.reshape(-1, 3).mean(axis=0) / 255
    np.testing.assert_allclose(mean, [0.5071, 0.4865, 0.4409], atol=1e-4)


def test_superclasses_match_the_archive(raw):
    fine = np.asarray(raw["train"]["fine_labels"])
    coarse = np.asarray(raw["train"]["coarse_labels"])
    np.testing.assert_array_equal([superclass_of(f) for f in range(100)],
                                  [coarse[fine == f][0] for f in range(100)])
    for f in range(100):
        assert (coarse[fine == f] == coarse[fine == f][0]).all()


def test_training_takes_a_stratified_tenth_for_validation(data):
    from vitsd.data import train_val_split

    x_tr, y_tr, x_val, y_val = train_val_split(data.x_train, data.y_train, 0.1, seed=1)
    assert len(y_tr) == 45000 and len(y_val) == 5000
    assert (np.bincount(y_val, minlength=100) == 50).all()
