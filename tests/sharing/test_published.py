"""Published runs: half-precision weights, the checksum-checked loader (checkout, then a
download from a file:// URL or a 127.0.0.1 server, then a clear error), tampering."""

import json
import socket

import h5py
import numpy as np
import pytest

from vitsd.config import Config
from vitsd.data import load_dataset
from vitsd.sharing import published
from vitsd.sharing.published import PublishedError
from vitsd.training.runner import train

TINY = dict(image_size=32, patch_size=4, projection_dim=16, num_layers=1, num_heads=2,
            key_dim=8, mlp_units=(32, 16), head_units=(), pooling="mean", batch_size=64,
            head_dropout=0.0, rotation=0.0, zoom=0.0, epochs=1)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One tiny finished run, published into a temporary results folder + manifest."""
    root = tmp_path_factory.mktemp("published")
    data = load_dataset("sample", limit=300)
    run_dir = root / "runs" / "tiny"
    train("sl-vit", out=run_dir, config=Config(**TINY), data=data, verbose=0)
    where = dict(results_dir=root / "results", manifest_path=root / "published.json")
    published.publish_run(run_dir, "tiny-s1", "toy", extra={"campaign": {"seed": 1}}, **where)
    return dict(root=root, run_dir=run_dir, data=data, where=where)


def test_publish_lists_both_files_with_their_checksums(site):
    files = published.manifest(site["where"]["manifest_path"])
    assert set(files) == {"toy/tiny-s1.json", "toy/tiny-s1.weights.h5"}
    for key, entry in files.items():
        path = site["where"]["results_dir"] / key
        assert entry["bytes"] == path.stat().st_size
        import hashlib
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert published.published_runs("toy", site["where"]["manifest_path"]) == ["tiny-s1"]
    record = json.loads((site["where"]["results_dir"] / "toy/tiny-s1.json").read_text())
    assert record["campaign"] == {"seed": 1} and record["status"] == "complete"


def test_weights_are_stored_in_half_precision_and_load_back_rounded(site):
    import keras

    original = keras.saving.load_model(site["run_dir"] / "model.keras", compile=False)
    path = site["where"]["results_dir"] / "toy/tiny-s1.weights.h5"
    with h5py.File(path) as f:
        dtypes = set()
        f.visititems(lambda n, o: dtypes.add(o.dtype) if isinstance(o, h5py.Dataset) else None)
    assert np.dtype("float32") not in dtypes and np.dtype("float16") in dtypes
    model, record = published.load_model("tiny-s1", "toy", **site["where"])
    assert record["model"] == "sl-vit"
    for mine, theirs in zip(model.weights, original.weights):
        expected = np.asarray(theirs).astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(np.asarray(mine), expected)
    x = site["data"].x_test[:32]
    np.testing.assert_allclose(model.predict(x, verbose=0), original.predict(x, verbose=0),
                               atol=0.05)
    same = (model.predict(x, verbose=0).argmax(1) == original.predict(x, verbose=0).argmax(1))
    assert same.mean() >= 0.9


def test_a_changed_file_in_the_checkout_is_refused_with_the_fix(site, tmp_path):
    import shutil

    results = tmp_path / "results"
    shutil.copytree(site["where"]["results_dir"], results)
    weights = results / "toy/tiny-s1.weights.h5"
    blob = bytearray(weights.read_bytes())
    blob[-100] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(PublishedError, match=r"tiny-s1\.weights\.h5 does not match.*git checkout"):
        published.load_model("tiny-s1", "toy", results_dir=results,
                             manifest_path=site["where"]["manifest_path"])


def test_downloads_from_a_file_url_when_not_in_a_checkout(site, tmp_path):
    url = site["where"]["results_dir"].as_uri() + "/"
    cache = tmp_path / "cache"
    where = dict(results_dir=tmp_path / "no-checkout", base_url=url, cache_dir=str(cache),
                 manifest_path=site["where"]["manifest_path"])
    model, record = published.load_model("tiny-s1", "toy", **where)
    assert (cache / "vitsd/toy/tiny-s1.weights.h5").is_file()
    assert record["model"] == "sl-vit" and model.name == "sl-vit"


@pytest.mark.parametrize("where_home", ["KERAS_HOME", "HOME"])
def test_the_default_download_cache_is_the_keras_cache(site, tmp_path, monkeypatch,
                                                       where_home):
    """No cache_dir: the file lands where Keras keeps its cache ($KERAS_HOME, else
    ~/.keras), the path every Colab reader takes."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    if where_home == "KERAS_HOME":
        monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
        expected = tmp_path / "kh"
    else:
        monkeypatch.delenv("KERAS_HOME", raising=False)
        expected = home / ".keras"
    path = published.fetch("toy", "tiny-s1.json", results_dir=tmp_path / "none",
                           base_url=site["where"]["results_dir"].as_uri() + "/",
                           manifest_path=site["where"]["manifest_path"])
    assert path == expected / "vitsd" / "toy" / "tiny-s1.json"
    assert json.loads(path.read_text())["model"] == "sl-vit"


def test_downloads_from_a_local_http_server(site, tmp_path):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(site["where"]["results_dir"]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        path = published.fetch("toy", "tiny-s1.json", results_dir=tmp_path / "none",
                               base_url=f"http://127.0.0.1:{server.server_port}/",
                               cache_dir=str(tmp_path / "cache"),
                               manifest_path=site["where"]["manifest_path"])
    finally:
        server.shutdown()
    assert json.loads(path.read_text())["model"] == "sl-vit"


def test_a_tampered_download_is_deleted_and_refused(site, tmp_path):
    import shutil

    origin = tmp_path / "origin"
    shutil.copytree(site["where"]["results_dir"], origin)
    record = origin / "toy/tiny-s1.json"
    record.write_text(record.read_text().replace('"sl-vit"', '"vit"', 1))
    cache = tmp_path / "cache"
    with pytest.raises(PublishedError, match=r"toy/tiny-s1\.json.*does not match.*deleted"):
        published.fetch("toy", "tiny-s1.json", results_dir=tmp_path / "none",
                        base_url=origin.as_uri(), cache_dir=str(cache),
                        manifest_path=site["where"]["manifest_path"])
    assert not (cache / "vitsd/toy/tiny-s1.json").exists()


def test_offline_says_how_to_get_or_train_it(site, tmp_path):
    with socket.socket() as s:  # a port on 127.0.0.1 that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PublishedError, match=r"could not be downloaded.*VITSD_RESULTS_URL.*train"):
        published.fetch("toy", "tiny-s1.json", results_dir=tmp_path / "none",
                        base_url=f"http://127.0.0.1:{port}/", cache_dir=str(tmp_path / "c"),
                        manifest_path=site["where"]["manifest_path"])


def test_an_unpublished_run_names_the_command_that_trains_it(site):
    with pytest.raises(PublishedError, match=r"no published file cifar10-jpeg/cpu-x-s9\.json.*"
                                             r"tools/campaign\.py --campaign cifar10-jpeg "
                                             r"--only cpu-x-s9"):
        published.load_record("cpu-x-s9", "cifar10-jpeg",
                              manifest_path=site["where"]["manifest_path"])
    with pytest.raises(PublishedError, match=r"tools/campaign\.py --only cpu-y-s9"):
        published.load_record("cpu-y-s9", "cifar100", manifest_path=site["where"]["manifest_path"])


def test_the_shipped_manifest_matches_the_committed_results():
    """Every file the package says is published is in results/ with that checksum."""
    files = published.manifest()
    for key, entry in files.items():
        path = published.RESULTS_DIR / key
        assert path.is_file(), key
        assert published.sha256(path) == entry["sha256"], key
        assert entry["bytes"] <= 2 * 1024 * 1024, key
    # results/ may grow to 25 MB (issue 23's investigation)
    assert sum(e["bytes"] for e in files.values()) <= 25 * 1024 * 1024
