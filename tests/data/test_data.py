"""Tests for vitsd.data: the sample dataset, splitting, image folders and CIFAR caches.

No test touches the network: every test runs with sockets disabled, and the CIFAR
tests point the Keras cache at a temporary folder.
"""

import io
import json
import pickle
import socket
import tarfile

import numpy as np
import pytest
from PIL import Image

import vitsd.data.shared
from vitsd import data as D
from vitsd.data import (
    DATASETS,
    DatasetError,
    load_dataset,
    make_sample,
    stratified_subset,
    train_val_split,
)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection attempt fails at once, like on a machine without network."""

    def offline(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (test offline)")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    monkeypatch.setattr(socket.socket, "connect", offline)
    monkeypatch.setattr(socket, "create_connection", offline)


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    # Nothing kept beside the checkout (shared/data/, $VITSD_DATA) may stand in.
    monkeypatch.delenv("VITSD_DATA", raising=False)
    monkeypatch.setattr(vitsd.data.shared, "data_folders", lambda: [])
    return home


def _mean_colour(x):
    return x.reshape(len(x), -1, 3).astype(np.float64).mean(axis=1)


# --------------------------------------------------------------------------- sample
def test_sample_is_deterministic_and_seed_dependent():
    a = make_sample(200, 50, seed=3)
    b = make_sample(200, 50, seed=3)
    assert a.x_train.tobytes() == b.x_train.tobytes()
    assert a.x_test.tobytes() == b.x_test.tobytes()
    np.testing.assert_array_equal(a.y_train, b.y_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    c = make_sample(200, 50, seed=4)
    assert not np.array_equal(a.x_train, c.x_train)
    assert not np.array_equal(a.y_train, c.y_train)


def test_sample_train_and_test_come_from_separate_streams():
    small = make_sample(100, 10, seed=0)
    large = make_sample(100, 60, seed=0)
    # The size of the test split does not change the training images...
    np.testing.assert_array_equal(small.x_train, large.x_train)
    # ...and no test image repeats a training image.
    train = {img.tobytes() for img in large.x_train}
    assert not any(img.tobytes() in train for img in large.x_test)


def test_sample_shapes_dtypes_labels_and_names():
    ds = make_sample(120, 40)
    assert ds.name == "sample"
    assert ds.x_train.shape == (120, 32, 32, 3) and ds.x_train.dtype == np.uint8
    assert ds.x_test.shape == (40, 32, 32, 3) and ds.x_test.dtype == np.uint8
    assert ds.y_train.shape == (120,) and ds.y_train.dtype == np.int64
    assert ds.y_test.shape == (40,) and ds.y_test.dtype == np.int64
    assert len(ds.class_names) == 10 == len(set(ds.class_names))
    assert list(ds.class_names) == list(D.SAMPLE_CLASSES)
    for y in (ds.y_train, ds.y_test):
        assert y.min() >= 0 and y.max() <= 9
    assert make_sample(20, 5, image_size=48).x_train.shape == (20, 48, 48, 3)
    # Images use the dynamic range: dark backgrounds, bright objects.
    assert ds.x_train.min() < 40 and ds.x_train.max() > 215


def test_sample_classes_are_balanced():
    ds = make_sample(205, 53)
    for y, n in ((ds.y_train, 205), (ds.y_test, 53)):
        counts = np.bincount(y, minlength=10)
        assert counts.sum() == n and len(counts) == 10
        assert counts.max() - counts.min() <= 1


def test_sample_invalid_sizes():
    with pytest.raises(ValueError, match="num_train"):
        make_sample(0, 10)
    with pytest.raises(ValueError, match="image_size"):
        make_sample(10, 10, image_size=8)


def test_sample_mean_colour_is_near_chance_but_pixels_are_not():
    ds = make_sample(2000, 1000, seed=1)
    # Nearest class centroid of the mean RGB colour: chance is 0.10.
    f_train, f_test = _mean_colour(ds.x_train), _mean_colour(ds.x_test)
    centroids = np.stack([f_train[ds.y_train == k].mean(axis=0) for k in range(10)])
    pred = np.argmin(((f_test[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    colour_acc = (pred == ds.y_test).mean()
    assert colour_acc < 0.16  # 0.10 +- 0.0095 (one sd on 1000 images)
    # The spatial layout does carry the class: 5 nearest neighbours on grey pixels.
    a = ds.x_train.astype(np.float32).mean(-1).reshape(len(ds.x_train), -1)
    b = ds.x_test.astype(np.float32).mean(-1).reshape(len(ds.x_test), -1)
    dist = (b**2).sum(1)[:, None] - 2 * b @ a.T + (a**2).sum(1)[None]
    nearest = ds.y_train[np.argsort(dist, axis=1)[:, :5]]
    knn = np.array([np.bincount(row, minlength=10).argmax() for row in nearest])
    assert (knn == ds.y_test).mean() > 0.25 > colour_acc + 0.05


def test_sample_colour_histogram_is_near_chance():
    # A stronger colour-only baseline: nearest centroid of a 4x4x4 RGB histogram.
    # (It finds a class-dependent object hue at once: ~0.8 accuracy.)
    ds = make_sample(2000, 1000, seed=1)

    def histogram(x):
        q = (x // 64).astype(np.int64)
        bins = (q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]).reshape(len(x), -1)
        h = np.stack([np.bincount(row, minlength=64) for row in bins]).astype(float)
        return np.sqrt(h / h.sum(axis=1, keepdims=True))

    a, b = histogram(ds.x_train), histogram(ds.x_test)
    centroids = np.stack([a[ds.y_train == k].mean(axis=0) for k in range(10)])
    pred = np.argmin(((b[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (pred == ds.y_test).mean() < 0.16


def test_sample_objects_cover_the_same_area_in_every_class():
    ds = make_sample(1000, 0, seed=2)
    v = ds.x_train.max(-1).reshape(1000, -1).astype(float)  # HSV value per pixel
    threshold = (np.percentile(v, 5, axis=1) + np.percentile(v, 99, axis=1)) / 2
    bright = (v > threshold[:, None]).mean(axis=1)  # share of object pixels
    per_class = np.array([bright[ds.y_train == k].mean() for k in range(10)])
    assert 0.08 < per_class.min() and per_class.max() < 0.25
    assert per_class.max() / per_class.min() < 1.25  # unequal areas give about 2


def test_sample_images_are_smooth_objects_not_noise():
    x = make_sample(100, 0).x_train.astype(np.float64).mean(-1)
    # Neighbouring pixels are strongly correlated (noise would give ~0).
    left, right = x[:, :, :-1].ravel(), x[:, :, 1:].ravel()
    assert np.corrcoef(left, right)[0, 1] > 0.8
    # Every image has an object clearly brighter (per-pixel max channel) than its
    # background, covering a sensible share of the image.
    v = make_sample(100, 0).x_train.max(-1).reshape(100, -1).astype(float)
    lo, hi = np.percentile(v, 25, axis=1), np.percentile(v, 97, axis=1)
    assert np.all(hi - lo > 40)


def test_sample_shapes_have_equal_area():
    # Area of each class's shape at size s=1 after its size factor, on a fine grid.
    c = (np.arange(600, dtype=np.float32) + 0.5) / 150 - 2
    x, y = np.meshgrid(c, c)
    areas = []
    for label, name in enumerate(D.SAMPLE_CLASSES):
        factor = D._SAMPLE_GEOMETRY[name][1]
        dist = D._shape_distance(label, x[None], y[None], np.float32(factor))
        areas.append((dist < 0).mean() * 16)
    areas = np.array(areas)
    np.testing.assert_allclose(areas, 2.4, rtol=0.03)


def test_load_sample_with_limit():
    ds = load_dataset("sample", limit=50, seed=1)
    assert ds.x_train.shape == (50, 32, 32, 3) and ds.x_test.shape == (50, 32, 32, 3)
    assert np.all(np.bincount(ds.y_train, minlength=10) == 5)
    assert np.all(np.bincount(ds.y_test, minlength=10) == 5)
    again = load_dataset("sample", limit=50, seed=1)
    np.testing.assert_array_equal(ds.x_train, again.x_train)
    summary = ds.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary == {
        "name": "sample",
        "num_classes": 10,
        "train_size": 50,
        "test_size": 50,
        "image_shape": [32, 32, 3],
        "class_names": list(D.SAMPLE_CLASSES),
    }


@pytest.mark.parametrize("limit", [0, -3, 2.5, True, "10"])
def test_limit_must_be_a_positive_int(limit):
    with pytest.raises(ValueError, match="limit"):
        load_dataset("sample", limit=limit)


# ------------------------------------------------------------------------ splitting
def _labelled_ids(counts):
    """x = example ids 0..N-1, y = their labels, class k repeated counts[k] times."""
    y = np.repeat(np.arange(len(counts)), counts)
    y = np.random.default_rng(0).permutation(y)
    return np.arange(len(y)), y


def test_stratified_subset_counts_and_determinism():
    x, y = _labelled_ids([50, 30, 5, 15])
    xs, ys = stratified_subset(x, y, 40, seed=7)
    counts = np.bincount(ys, minlength=4)
    assert counts.sum() == 40
    assert counts[2] == 5  # the small class gives all it has...
    assert sorted(counts[[0, 1, 3]]) in ([11, 12, 12], [11, 11, 13], [12, 12, 11])
    assert counts[[0, 1, 3]].max() - counts[[0, 1, 3]].min() <= 1  # ...the rest share
    assert np.array_equal(y[xs], ys)  # rows stay paired
    assert len(np.unique(xs)) == 40  # no duplicates
    xs2, ys2 = stratified_subset(x, y, 40, seed=7)
    np.testing.assert_array_equal(xs, xs2)
    xs3, _ = stratified_subset(x, y, 40, seed=8)
    assert not np.array_equal(xs, xs3)


def test_stratified_subset_small_and_large_limits():
    x, y = _labelled_ids([4, 4, 4, 4, 4])
    xs, ys = stratified_subset(x, y, 3, seed=0)
    assert len(ys) == 3 and len(set(ys.tolist())) == 3  # three classes, one each
    xs, ys = stratified_subset(x, y, 100, seed=0)
    np.testing.assert_array_equal(xs, x)
    xs, ys = stratified_subset(x, y, 10, seed=0)
    assert np.all(np.bincount(ys) == 2)
    with pytest.raises(ValueError, match="limit"):
        stratified_subset(x, y, 0, seed=0)


def test_train_val_split_is_stratified_disjoint_and_deterministic():
    x, y = _labelled_ids([50, 50, 100, 30, 1])
    xt, yt, xv, yv = train_val_split(x, y, 0.2, seed=3)
    assert len(yv) == round(0.2 * len(y))
    np.testing.assert_array_equal(np.bincount(yv, minlength=5), [10, 10, 20, 6, 0])
    assert set(xt.tolist()).isdisjoint(xv.tolist())
    assert sorted(xt.tolist() + xv.tolist()) == x.tolist()
    assert np.array_equal(y[xt], yt) and np.array_equal(y[xv], yv)
    again = train_val_split(x, y, 0.2, seed=3)
    np.testing.assert_array_equal(xv, again[2])
    assert not np.array_equal(xv, train_val_split(x, y, 0.2, seed=4)[2])
    # Every class keeps at least one training example, even singletons.
    x, y = _labelled_ids([1, 1, 1, 7])
    for seed in range(5):
        xt, yt, xv, yv = train_val_split(x, y, 0.5, seed=seed)
        assert np.all(np.bincount(yt, minlength=4) >= 1) and len(yv) == 4
    xt, yt, xv, yv = train_val_split(x, y, 0.0, seed=3)
    assert len(yv) == 0 and len(yt) == len(y)
    for bad in (1.0, -0.1, "0.1"):
        with pytest.raises(ValueError, match="fraction"):
            train_val_split(x, y, bad, seed=0)


def test_train_val_split_on_images():
    ds = make_sample(100, 0)
    xt, yt, xv, yv = train_val_split(ds.x_train, ds.y_train, 0.1, seed=0)
    assert xt.shape == (90, 32, 32, 3) and xv.shape == (10, 32, 32, 3)
    assert np.all(np.bincount(yv, minlength=10) == 1)


# -------------------------------------------------------------------------- folders
COLOURS = {"red": (230, 20, 20), "green": (20, 200, 30), "blue": (30, 40, 220)}


def _save(path, colour, size=(40, 24), mode="RGB", fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, colour)
    if mode != "RGB":
        image = image.convert(mode)
    image.save(path, format=fmt)


def _make_class_folders(root, per_class=5):
    modes = ["RGB", "RGBA", "P", "RGB", "RGB"]
    suffixes = [".png", ".png", ".gif", ".jpg", ".bmp"]
    for name, colour in COLOURS.items():
        for i in range(per_class):
            _save(root / name / f"img{i}{suffixes[i % 5]}", colour, mode=modes[i % 5])
    (root / "red" / "notes.txt").write_text("not an image, ignored")


def _check_colours(x, y, class_names):
    means = _mean_colour(x)
    for m, label in zip(means, y):
        expected = np.array(COLOURS[class_names[label]], dtype=float)
        assert np.abs(m - expected).max() < 12  # jpeg/gif palettes shift colours a bit


def test_folder_with_holdout(tmp_path):
    root = tmp_path / "shapes"
    _make_class_folders(root)
    ds = load_dataset(str(root), seed=5)
    assert ds.class_names == ["blue", "green", "red"]
    assert ds.name == str(root)
    assert ds.x_train.shape == (12, 32, 32, 3) and ds.x_train.dtype == np.uint8
    assert ds.x_test.shape == (3, 32, 32, 3) and ds.y_test.dtype == np.int64
    assert np.all(np.bincount(ds.y_test, minlength=3) == 1)  # 20% of 5 per class
    assert np.all(np.bincount(ds.y_train, minlength=3) == 4)
    _check_colours(ds.x_train, ds.y_train, ds.class_names)
    _check_colours(ds.x_test, ds.y_test, ds.class_names)
    again = load_dataset(root, seed=5)
    np.testing.assert_array_equal(ds.x_test, again.x_test)
    limited = load_dataset(str(root), limit=6, seed=5)
    assert np.all(np.bincount(limited.y_train, minlength=3) == 2)


def test_folder_with_train_test_split_and_resizing(tmp_path):
    root = tmp_path / "pets"
    for split, n in (("train", 3), ("test", 2)):
        for cls in ("dog", "cat"):
            for i in range(n):
                # Left half white, right half black, 64x48: checks orientation.
                arr = np.zeros((48, 64, 3), np.uint8)
                arr[:, :32] = 255
                if cls == "dog":
                    arr = arr[::-1, ::-1]  # dogs: white on the right
                (root / split / cls).mkdir(parents=True, exist_ok=True)
                Image.fromarray(arr).save(root / split / cls / f"{i}.png")
    ds = load_dataset(str(root))
    assert ds.class_names == ["cat", "dog"]
    assert len(ds.y_train) == 6 and len(ds.y_test) == 4
    assert np.all(np.bincount(ds.y_test) == 2)
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.shape[1:] == (32, 32, 3)
        left, right = x[:, :, :8].mean(axis=(1, 2, 3)), x[:, :, -8:].mean(axis=(1, 2, 3))
        cat = y == 0
        assert np.all(left[cat] > 250) and np.all(right[cat] < 5)
        assert np.all(left[~cat] < 5) and np.all(right[~cat] > 250)


def test_unknown_name_lists_valid_names(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_dataset(str(tmp_path / "nowhere"))
    message = str(err.value)
    for name in DATASETS:
        assert name in message
    assert str(tmp_path / "nowhere") in message


def test_folder_without_class_folders(tmp_path):
    (tmp_path / "loose.png").write_bytes(b"")
    with pytest.raises(DatasetError, match="No class folders"):
        load_dataset(str(tmp_path))


def test_empty_class_folder_is_named(tmp_path):
    _make_class_folders(tmp_path / "d", per_class=2)
    empty = tmp_path / "d" / "yellow"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(DatasetError, match="holds no images") as err:
        load_dataset(str(tmp_path / "d"))
    assert str(empty) in str(err.value)


def test_unreadable_image_is_named(tmp_path):
    _make_class_folders(tmp_path / "d", per_class=2)
    bad = tmp_path / "d" / "green" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    with pytest.raises(DatasetError, match="Cannot read the image") as err:
        load_dataset(str(tmp_path / "d"))
    assert str(bad) in str(err.value)
    assert err.value.__cause__ is not None


def test_train_without_test_folder(tmp_path):
    _save(tmp_path / "d" / "train" / "a" / "0.png", (1, 2, 3))
    with pytest.raises(DatasetError, match="no test/"):
        load_dataset(str(tmp_path / "d"))


# ---------------------------------------------------------------------------- CIFAR
def _cifar_rows(images):
    """(N, 32, 32, 3) HWC -> (N, 3072) rows as stored in the CIFAR pickles."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def _fake_cifar(name, rng):
    """Pickled CIFAR batches with the real keys: {member name: bytes}, and the truth."""
    if name == "cifar10":
        inner, test_files = "cifar-10-batches-py", ["test_batch"]
        train_files = [f"data_batch_{i}" for i in range(1, 6)]
    else:
        inner, train_files, test_files = "cifar-100-python", ["train"], ["test"]
    n_classes = 10 if name == "cifar10" else 100
    members, truth = {}, {"train": ([], []), "test": ([], [])}
    for split, files in (("train", train_files), ("test", test_files)):
        for fname in files:
            images = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
            labels = rng.integers(0, n_classes, 3).tolist()
            batch = {b"batch_label": fname.encode(), b"data": _cifar_rows(images),
                     b"filenames": [f"{i}.png".encode() for i in range(3)]}
            if name == "cifar10":
                batch[b"labels"] = labels
            else:
                batch[b"fine_labels"] = labels
                batch[b"coarse_labels"] = [(k + 1) % 20 for k in labels]  # must be ignored
            protocol = 2 if name == "cifar10" else 4
            members[f"{inner}/{fname}"] = pickle.dumps(batch, protocol=protocol)
            truth[split][0].append(images)
            truth[split][1].extend(labels)
    members[f"{inner}/{'batches.meta' if name == 'cifar10' else 'meta'}"] = pickle.dumps({})
    truth = {k: (np.concatenate(v[0]), np.array(v[1])) for k, v in truth.items()}
    return members, truth


def _write_tar_gz(path, members):
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for member, payload in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


TARGETS = {"cifar10": "cifar-10-batches-py-target", "cifar100": "cifar-100-python-target"}
ORIGINS = {
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
}


@pytest.fixture
def forbid_download(monkeypatch):
    import keras

    def fail(*args, **kwargs):
        pytest.fail("load_dataset tried to download although the data is cached")

    monkeypatch.setattr(keras.utils, "get_file", fail)


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_missing_archive_offline(name, keras_home):
    with pytest.raises(DatasetError) as err:
        load_dataset(name)
    message = str(err.value)
    archive = keras_home / "datasets" / f"{TARGETS[name]}_archive"
    assert str(archive) in message
    assert ORIGINS[name] in message
    assert 'load_dataset("sample")' in message and "--dataset sample" in message
    assert "could not be downloaded" in message
    assert err.value.__cause__ is not None  # the network error is chained, not shown
    assert not archive.exists()


def test_cifar_missing_archive_in_cache_dir(tmp_path, keras_home):
    cache = tmp_path / "elsewhere"
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10", cache_dir=str(cache))
    assert str(cache / "datasets" / "cifar-10-batches-py-target_archive") in str(err.value)


def test_cifar_corrupt_archive(keras_home, forbid_download):
    archive = keras_home / "datasets" / "cifar-10-batches-py-target_archive"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"<html>captive portal</html>" * 40)
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10")
    message = str(err.value)
    assert str(archive) in message and "corrupt or truncated" in message
    assert "Delete it" in message and ORIGINS["cifar10"] in message


def test_cifar_truncated_archive(keras_home, forbid_download):
    members, _ = _fake_cifar("cifar100", np.random.default_rng(0))
    archive = keras_home / "datasets" / "cifar-100-python-target_archive"
    _write_tar_gz(archive, members)
    payload = archive.read_bytes()
    archive.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar100")
    assert str(archive) in str(err.value) and "corrupt or truncated" in str(err.value)
    assert err.value.__cause__ is not None


def test_cifar_corrupt_extracted_file(keras_home, forbid_download):
    members, _ = _fake_cifar("cifar10", np.random.default_rng(0))
    folder = keras_home / "datasets" / "cifar-10-batches-py-target"
    for member, payload in members.items():
        (folder / member).parent.mkdir(parents=True, exist_ok=True)
        (folder / member).write_bytes(payload)
    bad = folder / "cifar-10-batches-py" / "data_batch_3"
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10")
    assert str(bad) in str(err.value) and "corrupt or truncated" in str(err.value)


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_cached_archive_is_read_without_network(name, keras_home, forbid_download):
    members, truth = _fake_cifar(name, np.random.default_rng(1))
    _write_tar_gz(keras_home / "datasets" / f"{TARGETS[name]}_archive", members)
    ds = load_dataset(name)
    assert ds.name == name
    np.testing.assert_array_equal(ds.x_train, truth["train"][0])
    np.testing.assert_array_equal(ds.y_train, truth["train"][1])
    np.testing.assert_array_equal(ds.x_test, truth["test"][0])
    np.testing.assert_array_equal(ds.y_test, truth["test"][1])
    assert ds.x_train.dtype == np.uint8 and ds.x_train.flags["C_CONTIGUOUS"]
    assert ds.y_train.dtype == np.int64 and ds.y_train.shape == (len(truth["train"][1]),)
    if name == "cifar10":
        assert ds.x_train.shape == (15, 32, 32, 3)
        assert ds.class_names == ["airplane", "automobile", "bird", "cat", "deer",
                                  "dog", "frog", "horse", "ship", "truck"]
    else:
        assert ds.x_train.shape == (3, 32, 32, 3)
        assert len(ds.class_names) == 100 == len(set(ds.class_names))
        assert ds.class_names == sorted(ds.class_names)
        assert ds.class_names[:10] == ["apple", "aquarium_fish", "baby", "bear", "beaver",
                                       "bed", "bee", "beetle", "bicycle", "bottle"]
        assert ds.class_names[-1] == "worm"
    assert not (keras_home / "datasets" / TARGETS[name]).exists()  # nothing written


def test_cifar_extracted_folder_and_cache_dir_and_limit(tmp_path, forbid_download):
    # The layout keras.utils.get_file(extract=True) leaves after a download.
    members, truth = _fake_cifar("cifar10", np.random.default_rng(2))
    folder = tmp_path / "cache" / "datasets" / "cifar-10-batches-py-target"
    for member, payload in members.items():
        (folder / member).parent.mkdir(parents=True, exist_ok=True)
        (folder / member).write_bytes(payload)
    ds = load_dataset("cifar10", cache_dir=str(tmp_path / "cache"))
    np.testing.assert_array_equal(ds.x_train, truth["train"][0])
    np.testing.assert_array_equal(ds.y_test, truth["test"][1])
    small = load_dataset("cifar10", limit=4, cache_dir=str(tmp_path / "cache"))
    assert len(small.y_train) == 4 and len(small.y_test) == 3


# ------------------------------------------- CIFAR beside the checkout (shared/data)
REAL_DATA_FOLDERS = vitsd.data.shared.data_folders


def _write_tar(path, members, mode):
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as tar:
        for member, payload in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


@pytest.mark.parametrize("fname,mode", [("cifar-100-python.tar.xz", "w:xz"),
                                        ("cifar-100-python.tar.gz", "w:gz")])
def test_cifar100_archive_in_vitsd_data(fname, mode, keras_home, tmp_path, monkeypatch,
                                         forbid_download):
    members, truth = _fake_cifar("cifar100", np.random.default_rng(5))
    _write_tar(tmp_path / "data" / fname, members, mode)
    monkeypatch.setattr(vitsd.data.shared, "data_folders", REAL_DATA_FOLDERS)
    monkeypatch.setenv("VITSD_DATA", str(tmp_path / "data"))
    ds = load_dataset("cifar100")
    np.testing.assert_array_equal(ds.x_train, truth["train"][0])
    np.testing.assert_array_equal(ds.y_test, truth["test"][1])
    assert not any(keras_home.iterdir())  # read in place, nothing unpacked


def test_cifar100_extracted_folder_beside_checkout(keras_home, tmp_path, monkeypatch,
                                                    forbid_download):
    members, truth = _fake_cifar("cifar100", np.random.default_rng(6))
    data = tmp_path / "shared" / "data"
    for member, payload in members.items():
        (data / member).parent.mkdir(parents=True, exist_ok=True)
        (data / member).write_bytes(payload)
    monkeypatch.setattr(vitsd.data.shared, "data_folders", lambda: [str(data)])
    ds = load_dataset("cifar100")
    np.testing.assert_array_equal(ds.x_test, truth["test"][0])


def test_cifar_keras_cache_wins_over_shared_copy(keras_home, tmp_path, monkeypatch,
                                                 forbid_download):
    cached, truth = _fake_cifar("cifar100", np.random.default_rng(7))
    other, _ = _fake_cifar("cifar100", np.random.default_rng(8))
    _write_tar_gz(keras_home / "datasets" / "cifar-100-python-target_archive", cached)
    _write_tar(tmp_path / "data" / "cifar-100-python.tar.xz", other, "w:xz")
    monkeypatch.setattr(vitsd.data.shared, "data_folders", lambda: [str(tmp_path / "data")])
    np.testing.assert_array_equal(load_dataset("cifar100").y_train, truth["train"][1])


def test_cifar100_coarse_labels(keras_home, forbid_download):
    members, _ = _fake_cifar("cifar100", np.random.default_rng(9))
    _write_tar_gz(keras_home / "datasets" / "cifar-100-python-target_archive", members)
    fine, coarse = load_dataset("cifar100"), load_dataset("cifar100-coarse")
    # _fake_cifar's coarse labels are (fine + 1) % 20: read from the file, not derived.
    np.testing.assert_array_equal(coarse.y_train, (fine.y_train + 1) % 20)
    assert coarse.name == "cifar100-coarse" and coarse.class_names[0] == "aquatic_mammals"
    assert len(coarse.class_names) == 20


def test_superclasses_partition_the_fine_classes():
    members = [m for group in D.CIFAR100_SUPERCLASSES.values() for m in group]
    assert sorted(members) == list(D.CIFAR100_CLASSES) and len(members) == 100
    assert list(D.CIFAR100_SUPERCLASSES)[D.superclass_of(D.CIFAR100_CLASSES.index("baby"))] \
        == "people"
