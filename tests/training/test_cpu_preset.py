"""The CPU preset of the book's real runs: its model (counted by hand), its per-image
pad-and-crop (against NumPy), the dataset-size subsets, the campaign plan."""

import json
from pathlib import Path

import numpy as np
import pytest

from vitsd.data import DatasetError, find_cifar10_jpeg, load_dataset, make_sample, training_fraction
from vitsd.data.crop import RandomPadCrop
from vitsd.models import build_named, count_parameters
from vitsd.training.recipes import recipe

ROOT = Path(__file__).resolve().parents[2]


def test_parameter_counts_of_the_cpu_preset_by_hand():
    config = recipe("cpu", num_classes=10)
    d, n, p, mlp, heads, kd = 64, 64, 4, 128, 4, 16
    assert (config.projection_dim, config.num_patches, config.patch_size) == (d, n, p)
    values = p * p * 3
    block = (2 * d                                    # layer norm before attention
             + 3 * (d * heads * kd + heads * kd)      # query, key, value (with bias)
             + heads * kd * d + d                     # output projection
             + 2 * d                                  # layer norm before the MLP
             + d * mlp + mlp + mlp * d + d)           # MLP
    vit = (values * d + d                             # patch projection
           + n * d                                    # position embedding
           + config.num_layers * block
           + 2 * d                                    # final layer norm
           + d * 10 + 10)                             # logits (mean pooling, no head MLP)
    normalization = 3 + 3 + 1                         # mean, variance, count
    sl_vit = vit + (2 * 5 * values + 5 * values * d - values * d) + config.num_layers
    assert count_parameters(build_named("vit", config)) == {
        "trainable": vit, "non_trainable": normalization, "total": vit + normalization}
    assert count_parameters(build_named("sl-vit", config))["total"] == sl_vit + normalization
    assert vit + normalization == 141_905 and sl_vit + normalization == 154_677


def _numpy_pad_crop(images, corners, p):
    padded = np.pad(images, ((0, 0), (p, p), (p, p), (0, 0)))
    h, w = images.shape[1:3]
    return np.stack([padded[b, r:r + h, c:c + w] for b, (r, c) in enumerate(corners)])


def test_pad_and_crop_matches_numpy_per_image():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 8, 10, 3)).astype("float32")
    corners = rng.integers(0, 9, (6, 2))
    out = np.asarray(RandomPadCrop(4, seed=1).crop(images, corners))
    np.testing.assert_array_equal(out, _numpy_pad_crop(images, corners, 4))


def test_pad_and_crop_moves_each_image_of_a_batch_differently():
    image = np.arange(32 * 32 * 3, dtype="float32").reshape(1, 32, 32, 3) % 251 + 1
    batch = np.repeat(image, 16, axis=0)
    crop = RandomPadCrop(4, seed=7)
    corners = np.asarray(crop.offsets(16))
    assert corners.min() >= 0 and corners.max() <= 8
    out = np.asarray(crop(batch))
    distinct = {out[i].tobytes() for i in range(16)}
    assert len(distinct) > 4, "images of one batch must get their own crops"
    for i in range(16):  # every output is some crop of the padded image
        assert any(np.array_equal(out[i], _numpy_pad_crop(image, [(r, c)], 4)[0])
                   for r in range(9) for c in range(9))
    first = np.asarray(RandomPadCrop(4, seed=11)(batch))
    np.testing.assert_array_equal(first, np.asarray(RandomPadCrop(4, seed=11)(batch)))
    with pytest.raises(ValueError, match="padding must be a non-negative integer"):
        RandomPadCrop(-1)


def test_training_fraction_subsets_the_training_pool_only():
    data = make_sample()
    part = training_fraction(data, 0.1, seed=3)
    assert len(part.y_train) == round(0.1 * len(data.y_train))
    counts = np.bincount(part.y_train, minlength=len(data.class_names))
    assert counts.max() - counts.min() <= 1  # stratified
    np.testing.assert_array_equal(part.x_test, data.x_test)  # the same hold-out
    assert training_fraction(data, 1.0) is data
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        training_fraction(data, 0)


def test_the_jpeg_archive_is_found_through_vitsd_data(tmp_path, monkeypatch):
    (tmp_path / "cifar10_jpeg_train.npz").write_bytes(b"")
    monkeypatch.setenv("VITSD_DATA", str(tmp_path))
    assert find_cifar10_jpeg() == str(tmp_path / "cifar10_jpeg_train.npz")
    monkeypatch.setenv("VITSD_DATA", str(tmp_path / "nowhere"))
    monkeypatch.chdir(tmp_path)
    import vitsd.data.shared

    monkeypatch.setattr(vitsd.data.shared, "__file__", str(tmp_path / "pkg" / "shared.py"))
    with pytest.raises(DatasetError, match="set VITSD_DATA.*\"sample\""):
        find_cifar10_jpeg()


@pytest.fixture
def campaign(load_tool):
    return load_tool("campaign")


def test_the_campaign_gives_every_run_the_same_number_of_steps(campaign):
    names = [e["name"] for e in campaign.PLAN]
    assert len(names) == len(set(names)) == 16
    assert names[:8] == [f"cpu-{m}-s{s}" for s in (1, 2) for m in ("vit", "spt", "lsa", "sl-vit")]
    pool = 45_000
    budgets = []
    for entry in campaign.PLAN:
        size = round(entry["fraction"] * pool)
        config = campaign.run_config(entry, pool, size)
        assert config.seed == entry["seed"] and config.augment == "crop"
        budgets.append(campaign.steps_per_epoch(size, config) * config.epochs)
    full = budgets[0]
    assert full == 317 * 10
    for budget in budgets:  # equal up to less than one epoch of the smallest subset
        assert abs(budget - full) <= 36, budgets


@pytest.mark.skipif(not (ROOT.parent / "shared" / "data" / "cifar10_jpeg_train.npz").is_file(),
                    reason="the CIFAR-10 JPEG archive (../shared/data) is not on this machine")
def test_the_hold_out_is_the_same_for_every_run_seed():
    # By its name and by the path of its .npz (each decodes all 50,000 JPEGs, so this
    # test also holds the archive's shapes, formerly in tests/data/test_real_images.py).
    a = load_dataset("cifar10-jpeg", seed=1)
    b = load_dataset(find_cifar10_jpeg(), seed=2)
    assert a.name == "cifar10-jpeg" and len(a.y_test) == 5000
    assert a.x_train.shape == (45000, 32, 32, 3) and a.x_test.shape == (5000, 32, 32, 3)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert np.bincount(a.y_test).tolist() == [500] * 10
    assert a.class_names == b.class_names and a.class_names[0] == "airplane"


def test_the_cifar100_plan_has_the_seeds_the_baseline_and_equal_steps(campaign):
    plan = campaign.CAMPAIGNS["cifar100"]["plan"]
    names = [e["name"] for e in plan]
    assert len(names) == len(set(names))
    assert plan[0]["pilot"] and plan[0]["seed"] == 0  # the pilot: no campaign seed
    whole = [e for e in plan if e["fraction"] == 1 and not e.get("pilot")]
    seeds = {m: sorted(e["seed"] for e in whole if e["model"] == m) for m in
             ("vit", "sl-vit", "spt", "lsa", "resnet20")}
    assert seeds == {"vit": [1, 2, 3], "sl-vit": [1, 2, 3], "spt": [1, 2], "lsa": [1, 2],
                     "resnet20": [1, 2]}
    # Every model of a seed before the next seed: a campaign stopped early is balanced.
    assert [e["seed"] for e in whole] == sorted(e["seed"] for e in whole)
    overrides = campaign.CAMPAIGNS["cifar100"]["overrides"]
    pool = 50_000
    full = None
    sizes = campaign.CAMPAIGNS["cifar100-sizes"]
    assert sizes["dataset"] == "cifar100" and sizes["overrides"] == overrides
    assert {e["fraction"] for e in sizes["plan"]} == {0.2}
    assert not set(names) & {e["name"] for e in sizes["plan"]}
    for entry in plan[1:] + sizes["plan"]:
        size = round(entry["fraction"] * pool)
        config = campaign.run_config(entry, pool, size, overrides)
        steps = campaign.steps_per_epoch(size, config) * config.epochs
        full = full or steps
        assert abs(steps - full) <= 36, (entry["name"], steps, full)
    assert full == 352 * campaign.CIFAR100_EPOCHS
    pilot = campaign.run_config(plan[0], pool, pool, overrides)
    assert pilot.epochs == campaign.PILOT_EPOCHS and pilot.seed == 0


def test_a_snapshot_of_an_unfinished_run_restores_it(campaign, tmp_path):
    spec = campaign.CAMPAIGNS["cifar100"]
    runs, results = tmp_path / "runs", tmp_path / "results"
    run = runs / "cpu-vit-s1"
    run.mkdir(parents=True)
    record = {"status": "running", "epochs_completed": 3, "config": {"epochs": 25},
              "history": {"epoch_seconds": [60.0, 60.0, 60.0]}}
    (run / "run.json").write_text(json.dumps(record))
    (run / "last.weights.h5").write_bytes(b"last")
    (run / "best.weights.h5").write_bytes(b"best")
    (runs / "cpu-sl-vit-s1").mkdir()
    (runs / "cpu-sl-vit-s1" / "run.json").write_text(json.dumps({**record, "status": "complete"}))
    saved = campaign.snapshot_all(spec, runs, results)
    assert saved == ["cpu-vit-s1 after epoch 3"]  # finished runs are published instead
    snap = results / "cifar100" / "in-progress" / "cpu-vit-s1"
    assert sorted(p.name for p in snap.iterdir()) == [
        "best.weights.h5", "last.weights.h5", "record.partial"]
    # No reader of results/ takes the partial record for a result.
    from vitsd.training.records import collect_records

    assert collect_records(results) == {}
    rows = campaign.status(spec, tmp_path / "new-session-runs", results)
    assert any("cpu-vit-s1" in r and "3/25" in r and "(snapshot)" in r for r in rows)


def test_a_snapshot_keeps_one_file_when_the_last_epoch_is_the_best(campaign, tmp_path):
    """The best weights are only copied when they differ from the last ones; restoring
    such a snapshot makes the best file from the last one."""
    spec = campaign.CAMPAIGNS["cifar100"]
    runs, results = tmp_path / "runs", tmp_path / "results"
    run = runs / "cpu-vit-s1"
    run.mkdir(parents=True)
    record = {"status": "running", "epochs_completed": 4, "best_epoch": 4,
              "config": {"epochs": 25}, "history": {"epoch_seconds": [60.0] * 4}}
    (run / "run.json").write_text(json.dumps(record))
    (run / "last.weights.h5").write_bytes(b"epoch 4")
    (run / "best.weights.h5").write_bytes(b"epoch 4")
    assert campaign.snapshot_all(spec, runs, results) == ["cpu-vit-s1 after epoch 4"]
    snap = results / "cifar100" / "in-progress" / "cpu-vit-s1"
    assert sorted(p.name for p in snap.iterdir()) == ["last.weights.h5", "record.partial"]
    restored = tmp_path / "new-session" / "cpu-vit-s1"
    campaign.restore(snap, restored)
    assert sorted(p.name for p in restored.iterdir()) == [
        "best.weights.h5", "last.weights.h5", "run.json"]
    assert (restored / "best.weights.h5").read_bytes() == b"epoch 4"
    assert json.loads((restored / "run.json").read_text()) == record
    # An earlier best epoch: both files are kept, and restored as they were.
    (run / "run.json").write_text(json.dumps({**record, "best_epoch": 2}))
    (run / "best.weights.h5").write_bytes(b"epoch 2")
    campaign.snapshot_all(spec, runs, results)
    assert (snap / "best.weights.h5").read_bytes() == b"epoch 2"
    campaign.restore(snap, tmp_path / "again" / "cpu-vit-s1")
    assert (tmp_path / "again" / "cpu-vit-s1" / "best.weights.h5").read_bytes() == b"epoch 2"


def test_the_results_table_summarises_the_published_seeds(campaign, tmp_path):
    spec = campaign.CAMPAIGNS["cifar100"]
    folder = tmp_path / "cifar100"
    folder.mkdir()
    env = {"device": "CPU: test (2 cores)", "backend": "tensorflow", "backend_version": "2.21.0"}
    for seed, top1 in ((1, 0.40), (2, 0.43)):
        (folder / f"cpu-vit-s{seed}.json").write_text(json.dumps({
            "test": {"top1": top1}, "history": {"epoch_seconds": [60.0] * 25},
            "parameters": {"total": 147755}, "config": {"seed": seed, "epochs": 25},
            "environment": env}))
    (folder / "pilot-sl-vit-e10-s0.json").write_text("not read: pilots are left out")
    (folder / "cpu-lsa-s1.json").write_text(json.dumps({
        "test": {"top1": 0.41}, "history": {"epoch_seconds": [60.0] * 25},
        "parameters": {"total": 147759}, "config": {"seed": 1, "epochs": 25},
        "environment": env}))
    table = campaign.results_table(spec, tmp_path).splitlines()
    assert len(table) == 4
    assert "| lsa | 147,759 | 1 | 41.00 | 41.00 (one seed: no spread) | 25 |" in table[3]
    assert table[2] == ("| vit | 147,755 | 1, 2 | 40.00 / 43.00 | 41.50 ± 1.50 | 25 | 25 / 25 "
                        "| CPU: test (2 cores), tensorflow 2.21.0 |")


def test_the_why_campaign_runs_its_stages_in_order_with_equal_steps(campaign):
    spec = campaign.CAMPAIGNS["cifar100-why"]
    plan = spec["plan"]
    names = [e["name"] for e in plan]
    assert len(names) == len(set(names))
    # Every stage names its hypothesis; the stages run in the order of priority.
    assert [s["stage"] for s in campaign.WHY_STAGES] == [
        "sizes-20", "layernorm-screen", "layernorm", "sizes-10", "conv-stem"]
    assert all(len(s["hypothesis"]) > 80 for s in campaign.WHY_STAGES)
    assert names[:4] == ["cpu-vit-f20-s1", "cpu-sl-vit-f20-s1", "cpu-vit-f20-s2",
                         "cpu-sl-vit-f20-s2"]
    # The first stage is the cifar100-sizes campaign, run for run (same names, so runs
    # trained under either are found by both).
    assert names[:4] == [e["name"] for e in campaign.CAMPAIGNS["cifar100-sizes"]["plan"]]
    # None of it retrains a main run.
    assert not set(names) & {e["name"] for e in campaign.CAMPAIGNS["cifar100"]["plan"]}
    pool, full = 50_000, 352 * campaign.CIFAR100_EPOCHS
    for entry in plan:
        size = round(entry["fraction"] * pool)
        config = campaign.run_config(entry, pool, size, spec["overrides"])
        assert config.seed == entry["seed"]
        for key, value in entry.get("switches", {}).items():
            assert getattr(config, key) == value
        steps = campaign.steps_per_epoch(size, config) * config.epochs
        if entry.get("screen"):
            assert config.epochs == campaign.SCREEN_EPOCHS and entry["seed"] == 1
        else:
            assert abs(steps - full) <= 36, (entry["name"], steps)
    by_name = {e["name"]: e for e in plan}
    assert by_name["cpu-spt-nonorm-s1"]["switches"] == {"spt_norm": False}
    assert by_name["cpu-vit-pnorm-s2"]["switches"] == {"patch_norm": True}
    assert by_name["cpu-sl-vit-nonorm-s1"]["needs"] == "layernorm-matters"
    assert {e["fraction"] for e in plan} == {1.0, 0.2, 0.1}
    # 9,000 images to train on at 20 % (10,000 drawn, a tenth of them validates).
    entry = by_name["cpu-vit-f20-s1"]
    assert round(entry["fraction"] * pool) * (1 - 0.1) == 9000


def _record(path, val, status="complete"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"status": status, "history": {"val_accuracy": val}}))


def test_the_layernorm_screen_is_read_on_validation_against_the_seed_range(campaign, tmp_path):
    runs, results = tmp_path / "runs", tmp_path / "results"
    answer, why = campaign.layernorm_matters(runs, results)
    assert answer is None and "not finished" in why
    # The main spt runs (published) differ by 0.6 points of best validation top-1.
    _record(results / "cifar100" / "cpu-spt-s1.json", [0.30, 0.398])
    _record(results / "cifar100" / "cpu-spt-s2.json", [0.31, 0.392])
    _record(runs / "screen-e12-spt-s1" / "run.json", [0.20, 0.350])
    _record(runs / "screen-e12-spt-nonorm-s1" / "run.json", [0.20, 0.354], status="running")
    assert campaign.layernorm_matters(runs, results)[0] is None  # unfinished screen
    _record(runs / "screen-e12-spt-nonorm-s1" / "run.json", [0.20, 0.354])
    answer, why = campaign.layernorm_matters(runs, results)
    assert answer is False and "35.40 %" in why and "0.60 points" in why
    _record(runs / "screen-e12-spt-nonorm-s1" / "run.json", [0.20, 0.365])
    assert campaign.layernorm_matters(runs, results)[0] is True


def test_the_why_table_names_switches_and_training_images(campaign, tmp_path):
    spec = campaign.CAMPAIGNS["cifar100-why"]
    folder = tmp_path / "cifar100"
    folder.mkdir()
    env = {"device": "CPU: test (2 cores)", "backend": "tensorflow", "backend_version": "2.21.0"}
    for name, top1, train in (("cpu-vit-f20-s1", 0.30, 9000), ("cpu-vit-f20-s2", 0.32, 9000),
                              ("cpu-spt-nonorm-s1", 0.41, 45000)):
        (folder / f"{name}.json").write_text(json.dumps({
            "test": {"top1": top1}, "history": {"epoch_seconds": [60.0] * 25},
            "parameters": {"total": 100}, "config": {"seed": int(name[-1]), "epochs": 25},
            "splits": {"train": train}, "environment": env}))
    (folder / "screen-e12-vit-s1.json").write_text("not read: screens are left out")
    table = campaign.results_table(spec, tmp_path).splitlines()
    assert table[0].startswith("| model | switches | training images | parameters |")
    assert table[2].startswith("| vit | defaults | 9,000 (20%) | 100 | 1, 2 | 30.00 / 32.00 "
                               "| 31.00 ± 1.00 |")
    assert table[3].startswith("| spt | spt_norm=False | 45,000 (100%) |")


def test_a_published_run_is_not_retrained_in_a_new_session(campaign, tmp_path, monkeypatch, capsys):
    spec = dict(campaign.CAMPAIGNS["cifar100-why"], plan=campaign.CIFAR100_WHY_PLAN[:1])
    results = tmp_path / "results"
    (results / "cifar100").mkdir(parents=True)
    (results / "cifar100" / "cpu-vit-f20-s1.json").write_text("{}")
    import vitsd.data
    import vitsd.training.runner

    monkeypatch.setattr(vitsd.data, "load_dataset", lambda name: load_dataset("sample"))
    monkeypatch.setattr(vitsd.training.runner, "train",
                        lambda *a, **k: pytest.fail("a published run was retrained"))
    campaign.train_all(spec, tmp_path / "runs", results)
    assert "published already, not retrained" in capsys.readouterr().out


def test_the_table_gives_each_difference_from_vit_with_its_interval(campaign, tmp_path):
    from vitsd.book.stats import difference_ci, write_correctness

    spec = campaign.CAMPAIGNS["cifar100"]
    folder = tmp_path / "cifar100"
    folder.mkdir()
    env = {"device": "CPU: test (2 cores)", "backend": "tensorflow", "backend_version": "2.21.0"}
    rng = np.random.default_rng(0)
    correct = {}
    for name, p in (("cpu-vit-s1", 0.40), ("cpu-vit-s2", 0.42), ("cpu-lsa-s1", 0.47)):
        correct[name] = rng.random(2000) < p
        write_correctness(folder / f"{name}.correct.npz", correct[name])
        (folder / f"{name}.json").write_text(json.dumps({
            "test": {"top1": float(correct[name].mean())},
            "history": {"epoch_seconds": [60.0] * 25},
            "parameters": {"total": 1}, "config": {"seed": int(name[-1]), "epochs": 25},
            "campaign": {"name": name}, "environment": env}))
    table = campaign.results_table(spec, tmp_path, against="vit").splitlines()
    assert "difference from vit (95% CI), points" in table[0]
    assert "| (reference) |" in table[2]
    expected = difference_ci(correct["cpu-lsa-s1"][None],
                             np.stack([correct["cpu-vit-s1"], correct["cpu-vit-s2"]]))
    cell = (f"{100 * expected['difference']:+.2f} ({100 * expected['low']:+.2f} to "
            f"{100 * expected['high']:+.2f})")
    assert f"| {cell} |" in table[3]
    # The difference is that of the mean accuracies, by hand.
    by_hand = correct["cpu-lsa-s1"].mean() - (correct["cpu-vit-s1"].mean()
                                              + correct["cpu-vit-s2"].mean()) / 2
    assert cell.startswith(f"{100 * by_hand:+.2f}")
    (folder / "cpu-lsa-s1.correct.npz").unlink()
    table = campaign.results_table(spec, tmp_path, against="vit").splitlines()
    assert "per-image files missing: tools/per_image.py" in table[3]
