"""vitsd.book.stats: the two-level (images x seeds) bootstrap interval of a difference of
accuracies, against a slow loop written here, and the per-image correctness files of
tools/per_image.py (round trip on a tiny model, not on the real data)."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from vitsd import book
from vitsd.book import stats

ROOT = Path(__file__).resolve().parents[2]


def _reference(a, b, confidence=0.95, resamples=2000, seed=123):
    """The bootstrap as a plain loop: the same image indices for both models, each
    model's seed rows drawn on their own."""
    rng = np.random.default_rng(seed)
    n = a.shape[1]
    out = np.empty(resamples)
    for i in range(resamples):
        images = rng.integers(0, n, n)
        rows_a = rng.integers(0, len(a), len(a))
        rows_b = rng.integers(0, len(b), len(b))
        out[i] = a[rows_a][:, images].mean() - b[rows_b][:, images].mean()
    tail = (1 - confidence) / 2
    return np.quantile(out, [tail, 1 - tail]), out.std()


def _rows(rng, accuracies, n, base=None):
    """One row per accuracy: image i correct when a uniform draw is below it (the
    same draws for every row when ``base`` is given, so the rows differ little)."""
    u = rng.random(n) if base is None else base
    return np.stack([u < acc for acc in accuracies])


def _width(result):
    return result["high"] - result["low"]


def test_agrees_with_a_plain_loop_within_monte_carlo_error():
    rng = np.random.default_rng(0)
    n = 1000
    base = rng.random(n)  # shared difficulty: the models agree on many images
    a = np.stack([base + 0.08 * rng.random(n) < acc for acc in (0.45, 0.50, 0.42)])
    b = np.stack([base + 0.08 * rng.random(n) < acc for acc in (0.40, 0.41)])
    fast = book.difference_ci(a, b, resamples=10_000, seed=1)
    (low, high), sd = _reference(a, b)
    # Quantile error of 2,000 + 10,000 resamples: ~0.07 bootstrap s.d.; allow 0.3.
    assert fast["low"] == pytest.approx(low, abs=0.3 * sd)
    assert fast["high"] == pytest.approx(high, abs=0.3 * sd)
    assert _width(fast) == pytest.approx(high - low, rel=0.15)
    assert fast["low"] < fast["difference"] < fast["high"]
    assert {k: fast[k] for k in ("confidence", "resamples", "seeds_a", "seeds_b", "images")} \
        == {"confidence": 0.95, "resamples": 10_000, "seeds_a": 3, "seeds_b": 2, "images": n}
    again = book.difference_ci(a, b, resamples=10_000, seed=1)
    assert again == fast  # deterministic for a seed
    assert book.difference_ci(a, b, resamples=10_000, seed=2)["low"] != fast["low"]


def test_pairing_narrows_the_interval_when_the_models_agree_image_by_image():
    rng = np.random.default_rng(1)
    n = 4000
    a = rng.random(n) < 0.5
    close = a.copy()
    flip = rng.choice(n, 40, replace=False)  # 40 of 4,000 images change their answer
    close[flip] = ~close[flip]
    independent = rng.permutation(a)  # the same accuracy, unrelated images
    paired = book.difference_ci(a, close, resamples=2000)
    unpaired = book.difference_ci(a, independent, resamples=2000)
    assert _width(paired) < 0.25 * _width(unpaired)
    # An unpaired 95 % interval of two independent 50 % accuracies: ~ +-1.96 * sqrt(2 * .25 / n)
    assert _width(unpaired) == pytest.approx(2 * 1.96 * np.sqrt(0.5 / n), rel=0.15)
    # Paired: only the 40 flipped images move the difference, +-1.96 * sqrt(40) / n.
    assert _width(paired) == pytest.approx(2 * 1.96 * np.sqrt(40) / n, rel=0.25)


def test_seed_noise_widens_the_interval():
    rng = np.random.default_rng(2)
    n = 3000
    base = rng.random(n)
    b = rng.random(n) < 0.45
    same = _rows(rng, [0.5, 0.5, 0.5], n, base)  # three seeds, the same model
    spread = _rows(rng, [0.44, 0.50, 0.56], n, base)  # same mean, very different seeds
    narrow = book.difference_ci(same, b, resamples=2000)
    wide = book.difference_ci(spread, b, resamples=2000)
    assert narrow["difference"] == pytest.approx(wide["difference"], abs=0.002)
    assert _width(wide) > 1.5 * _width(narrow)


def test_identical_models_differ_by_exactly_zero():
    rng = np.random.default_rng(3)
    a = rng.random(500) < 0.3
    for x, y in [(a, a), (np.stack([a, a, a]), np.stack([a, a, a])), (a, np.stack([a, a]))]:
        result = book.difference_ci(x, y, resamples=500)
        assert (result["difference"], result["low"], result["high"]) == (0.0, 0.0, 0.0)


def test_the_point_estimate_is_the_difference_of_mean_accuracies():
    rng = np.random.default_rng(4)
    a = rng.random((3, 700)) < 0.6
    b = (rng.random((2, 700)) < 0.4).astype(np.int64)  # 0/1 integers work too
    result = book.difference_ci(a, b, resamples=200)
    expected = np.mean([row.mean() for row in a]) - np.mean([row.mean() for row in b])
    assert result["difference"] == pytest.approx(expected, abs=1e-12)
    one = book.difference_ci(a[0], b[0].astype(float), resamples=200)  # 1-D: one seed
    assert one["seeds_a"] == one["seeds_b"] == 1
    assert one["difference"] == pytest.approx(a[0].mean() - b[0].mean(), abs=1e-12)


def test_the_interval_covers_the_true_difference_in_simulations():
    """Models with true accuracies 0.55 and 0.50, per-seed accuracies scattered around
    them, tested on fresh images each time: the 95 % interval should hold 0.05 about 19
    times in 20 (with so few seeds, a bit less: the seed level is a rough stand-in)."""
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(20):
        n = 2000
        difficulty = rng.random(n)
        a = _rows(rng, 0.55 + 0.01 * rng.standard_normal(3), n, difficulty)
        b = _rows(rng, 0.50 + 0.01 * rng.standard_normal(3), n,
                  np.clip(difficulty + 0.3 * rng.standard_normal(n), 0, 1))
        result = book.difference_ci(a, b, resamples=500, seed=int(rng.integers(1000)))
        covered += result["low"] <= 0.05 <= result["high"]
    assert covered >= 16


@pytest.mark.parametrize("kwargs, match", [
    (dict(correct_a=np.array([[0.2, 0.9]]), correct_b=[[True, False]]), r"correct_a.*0/1"),
    (dict(correct_a=[[True, False]], correct_b=np.array([["a", "b"]])), r"correct_b.*dtype"),
    (dict(correct_a=np.zeros((2, 2, 2), bool), correct_b=[[True, False]]), r"correct_a.*2-D"),
    (dict(correct_a=np.zeros((0, 5), bool), correct_b=np.zeros((1, 5), bool)),
     r"correct_a.*empty"),
    (dict(correct_a=[[True, False, True]], correct_b=[[True, False]]),
     r"correct_a and correct_b.*same test images.*3.*2"),
    (dict(correct_a=[True, False], correct_b=[True, True], confidence=1.0), r"confidence"),
    (dict(correct_a=[True, False], correct_b=[True, True], confidence=95), r"confidence"),
    (dict(correct_a=[True, False], correct_b=[True, True], resamples=10), r"resamples.*100"),
    (dict(correct_a=[True, False], correct_b=[True, True], resamples=1000.0), r"resamples"),
    (dict(correct_a=[True, False], correct_b=[True, True], seed=-1), r"seed"),
])
def test_bad_inputs_name_the_parameter_and_the_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        book.difference_ci(**kwargs)


def test_correctness_files_round_trip_and_load_as_seed_rows(tmp_path):
    rng = np.random.default_rng(6)
    rows = rng.random((2, 1003)) < 0.4  # not a multiple of 8
    folder = tmp_path / "toy"
    folder.mkdir()
    for i, row in enumerate(rows, 1):
        stats.write_correctness(folder / f"m-s{i}.correct.npz", row, top1=float(row.mean()),
                                weights_sha256="ab" * 32)
    back, meta = stats.read_correctness(folder / "m-s1.correct.npz")
    np.testing.assert_array_equal(back, rows[0])
    assert meta == {"top1": pytest.approx(rows[0].mean()), "weights_sha256": "ab" * 32}
    assert (folder / "m-s1.correct.npz").stat().st_size < 2000  # bits, not images
    loaded = book.load_correctness("toy", ["m-s1", "m-s2"], results_dir=tmp_path)
    assert loaded.dtype == bool and loaded.shape == (2, 1003)
    np.testing.assert_array_equal(loaded, rows)
    with pytest.raises(FileNotFoundError, match=r"m-s3\.correct\.npz.*tools/per_image\.py"):
        book.load_correctness("toy", ["m-s1", "m-s3"], results_dir=tmp_path)
    stats.write_correctness(folder / "short.correct.npz", rows[0][:10])
    with pytest.raises(ValueError, match="different numbers of test images"):
        book.load_correctness("toy", ["m-s1", "short"], results_dir=tmp_path)
    with pytest.raises(ValueError, match="boolean"):
        stats.write_correctness(folder / "x.correct.npz", rows.astype(int)[0])


def test_published_correctness_files_load_when_present():
    """The committed files of the CIFAR-100 runs (skipped where they are not written)."""
    from vitsd.sharing.published import RESULTS_DIR

    names = sorted(p.name[: -len(".correct.npz")]
                   for p in (RESULTS_DIR / "cifar100").glob("cpu-*.correct.npz"))
    if not names:
        pytest.skip("no per-image correctness files in results/cifar100")
    correct = book.load_correctness("cifar100", names)
    assert correct.shape == (len(names), 10_000)
    for name, row in zip(names, correct):
        record = json.loads((RESULTS_DIR / "cifar100" / f"{name}.json").read_text())
        assert row.mean() == pytest.approx(record["test"]["top1"], abs=0.002), name


def test_the_tool_scores_a_tiny_published_run_and_skips_it_when_up_to_date(tmp_path, load_tool):
    from vitsd.config import Config
    from vitsd.data.dataset import Dataset
    from vitsd.models import build_named
    from vitsd.sharing.published import write_half_precision_weights

    tool = load_tool("per_image")
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (300, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 300)
    data = Dataset("toy", images[:100], labels[:100], images[100:], labels[100:],
                   [f"c{i}" for i in range(10)])
    config = Config(image_size=32, patch_size=8, projection_dim=8, num_layers=1, num_heads=1,
                    key_dim=4, mlp_units=(8, 8), head_units=(), pooling="mean",
                    num_classes=10, input_shape=(32, 32, 3))
    folder = tmp_path / "toy"
    folder.mkdir()
    model = build_named("vit", config)
    write_half_precision_weights(model, folder / "tiny-s1.weights.h5")
    # What a float16 copy of the model gets right: the record's top-1 (as if trained so).
    halved = build_named("vit", config)
    halved.load_weights(folder / "tiny-s1.weights.h5")
    truth = tool.correctness(halved, data.x_test, data.y_test)
    record = {"model": "vit", "config": config.to_dict(), "dataset": {"name": "toy"},
              "splits": {"test": len(data.y_test)}, "test": {"top1": float(truth.mean())}}
    for name, top1 in (("tiny-s1", truth.mean()), ("tiny-s2", truth.mean() + 0.1),
                       ("pilot-tiny-s0", truth.mean())):
        (folder / f"{name}.json").write_text(json.dumps({**record, "test": {"top1": top1}}))
        if name != "tiny-s1":
            (folder / f"{name}.weights.h5").write_bytes((folder / "tiny-s1.weights.h5")
                                                         .read_bytes())
    (folder / "in-progress" / "tiny-s3").mkdir(parents=True)
    said = []
    results = tool.run("toy", tmp_path, data=data, say=said.append)
    assert [r["name"] for r in results] == ["tiny-s1", "tiny-s2"]  # no pilot, no in-progress
    assert results[0]["ok"] and results[0]["difference"] == 0
    assert not results[1]["ok"] and "-0.1000 off the record" in results[1]["error"]
    assert not (folder / "tiny-s2.correct.npz").exists()  # nothing written for a mismatch
    # listed in the folder's manifest with its SHA-256, for readers without a checkout
    listed = json.loads((tmp_path / "published.json").read_text())["files"]
    assert list(listed) == ["toy/tiny-s1.correct.npz"]
    assert listed["toy/tiny-s1.correct.npz"]["sha256"] == hashlib.sha256(
        (folder / "tiny-s1.correct.npz").read_bytes()).hexdigest()
    loaded = book.load_correctness("toy", ["tiny-s1"], results_dir=tmp_path)
    np.testing.assert_array_equal(loaded[0], truth)
    _, meta = stats.read_correctness(folder / "tiny-s1.correct.npz")
    assert meta["dataset"] == "toy" and len(meta["weights_sha256"]) == 64
    again = tool.run("toy", tmp_path, only=["tiny-s1"], data=data, say=said.append)
    assert again == [{"name": "tiny-s1", "ok": True, "skipped": True}]
    assert said[-1] == "tiny-s1: up to date"
    forced = tool.run("toy", tmp_path, only=["tiny-s1"], data=data, force=True, say=said.append)
    assert forced[0]["ok"] and "skipped" not in forced[0]


def test_load_correctness_downloads_a_published_file_from_a_local_server(tmp_path, monkeypatch):
    """A reader without a checkout (Colab): the file is listed in the manifest, not on disk,
    so it comes from the results server -- here one on 127.0.0.1 -- checked against its
    SHA-256."""
    import functools
    import http.server
    import threading

    from vitsd.sharing import published

    origin = tmp_path / "origin"
    truth = np.random.default_rng(3).random(77) < 0.4
    stats.write_correctness(origin / "toy" / "m-s1.correct.npz", truth)
    manifest = tmp_path / "published.json"
    published.list_files("toy", [origin / "toy" / "m-s1.correct.npz"], manifest_path=manifest)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(origin))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("VITSD_RESULTS_URL", f"http://127.0.0.1:{server.server_port}/")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    try:
        loaded = book.load_correctness("toy", ["m-s1"], results_dir=tmp_path / "empty",
                                       manifest_path=manifest)
    finally:
        server.shutdown()
    np.testing.assert_array_equal(loaded, truth[np.newaxis])
    assert (tmp_path / "keras_home" / "vitsd" / "toy" / "m-s1.correct.npz").is_file()
