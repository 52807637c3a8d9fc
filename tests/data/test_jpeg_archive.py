"""JPEG-archive datasets (.npz of concatenated JPEG files), on an archive made here."""

import io

import numpy as np
import pytest
from PIL import Image

from vitsd.data import DatasetError, load_dataset, load_jpeg_archive, make_sample


def write_archive(path, images, labels, names):
    blobs = []
    for img in images:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=95)
        blobs.append(np.frombuffer(buf.getvalue(), np.uint8))
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype("int64")
    np.savez(path, jpeg=np.concatenate(blobs), offsets=offsets, labels=np.asarray(labels),
             label_names=np.asarray(names))


def test_archive_decodes_and_holds_out_a_stratified_test_split(tmp_path):
    sample = make_sample(num_train=200, num_test=10)
    path = tmp_path / "shapes.npz"
    write_archive(path, sample.x_train, sample.y_train, sample.class_names)
    with pytest.raises(ValueError, match="holdout must be between 1 and 199"):
        load_dataset(str(path), seed=3)  # the default hold-out (5,000) exceeds 200 images
    data = load_jpeg_archive(path, holdout=50, seed=3)
    assert data.class_names == list(sample.class_names)
    assert len(data.x_test) == 50 and len(data.x_train) == 150
    assert np.bincount(data.y_test, minlength=10).tolist() == [5] * 10
    # Pixels are the JPEG-decoded originals: close to, not equal to, the PNG-exact ones.
    decoded = np.concatenate([data.x_train, data.x_test]).astype(int)
    originals = sample.x_train.astype(int)
    for img in decoded[:20]:
        errors = np.sort(np.abs(originals - img).mean(axis=(1, 2, 3)))
        assert errors[0] < 8.0 and errors[1] > 3 * errors[0]  # one clear original each
    again = load_jpeg_archive(path, holdout=50, seed=3)
    np.testing.assert_array_equal(again.x_test, data.x_test)


def test_bad_archives_get_a_clear_error(tmp_path):
    path = tmp_path / "broken.npz"
    np.savez(path, something=np.zeros(3))
    with pytest.raises(DatasetError, match="not a JPEG archive with arrays jpeg, offsets"):
        load_dataset(str(path))
    sample = make_sample(num_train=20, num_test=10)
    write_archive(tmp_path / "ok.npz", sample.x_train, sample.y_train, sample.class_names)
    with pytest.raises(ValueError, match="holdout must be between 1 and 19"):
        load_jpeg_archive(tmp_path / "ok.npz", holdout=20)
