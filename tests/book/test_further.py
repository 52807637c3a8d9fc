"""vitsd.book.further (chapter 8): the caption and label tables of its figures, its
demonstration run, the benchmark rows and the published campaigns."""

import json

import numpy as np
import pytest

from vitsd.book import further
from vitsd.sharing import published


# ---------------------------------------------------------------- the figures
def test_caption_rows_one_row_per_image_one_column_per_pass():
    rows = further.caption_rows(["apple", "bear"], [["Rotate\nerased", "Invert"],
                                                    ["Color", "Solarize"]],
                                ["pass 1", "pass 2"])
    assert rows == [{"image": "apple", "pass 1": "Rotate; erased", "pass 2": "Color"},
                    {"image": "bear", "pass 1": "Invert", "pass 2": "Solarize"}]
    with pytest.raises(ValueError, match="one caption per image"):
        further.caption_rows(["a", "b"], [["x"]], ["pass 1"])
    with pytest.raises(ValueError, match="one column title per caption list"):
        further.caption_rows(["a"], [["x"], ["y"]], ["pass 1"])


def test_label_mix_names_the_largest_weights_in_order():
    names = ["apple", "bear", "cloud", "dolphin"]
    labels = np.array([[0.0, 0.62, 0.38, 0.0], [1.0, 0.0, 0.0, 0.0],
                       [0.1, 0.2, 0.3, 0.4], [0.0, 0.002, 0.998, 0.0]])
    assert further.label_mix(labels, names) == [
        "0.62 bear, 0.38 cloud", "1.00 apple", "0.40 dolphin, 0.30 cloud", "1.00 cloud"]
    assert further.label_mix(labels[2:3], names, top=3) == ["0.40 dolphin, 0.30 cloud, 0.20 bear"]
    assert further.label_mix(labels[:1], ["a", "pine_tree", "c", "d"]) == ["0.62 pine tree, 0.38 c"]
    with pytest.raises(ValueError, match=r"labels must be \(batch, 4\)"):
        further.label_mix(np.ones((2, 3)), names)


def test_recipe_rows_mark_what_differs():
    rows = [{"item": "Model", "official code": "9 blocks (x.py 1)", "vitsd": "9 blocks",
             "agrees": True},
            {"item": "Evaluation", "official code": "50,000 (y.py 2)", "vitsd": "45,000",
             "agrees": False}]
    assert further.recipe_rows(rows) == [
        {"item": "Model", "official code": "9 blocks (x.py 1)", "vitsd, as built": "9 blocks"},
        {"item": "Evaluation", "official code": "50,000 (y.py 2)",
         "vitsd, as built": "✗ 45,000"}]


# --------------------------------------------------------------- the demo run
def record(top1=0.25, test=1000, reused=None, seed=1, fraction=1.0, pilot=False,
           device="CPU: x (2 cores)", preset="cpu"):
    r = {"epochs_completed": 2, "splits": {"train": 4500, "validation": 500, "test": test},
         "parameters": {"trainable": 12345}, "timing": {"train_seconds": 90.0},
         "best_epoch": 2, "history": {"val_accuracy": [0.1, 0.3]},
         "test": {"top1": top1, "top5": 0.5}, "dataset": {"num_classes": 100},
         "environment": {"device": device, "backend": "tensorflow", "backend_version": "2.21"},
         "campaign": {"seed": seed, "training_fraction": fraction, "pilot": pilot,
                      "preset": preset}}
    if reused is not None:
        r["book"] = {"reused": reused}
    return r


def test_run_facts_and_rows():
    facts = further.run_facts(record(reused=True))
    assert facts["trained"] is False and further.run_facts(record())["trained"] is True
    assert (facts["epochs"], facts["train_images"], facts["test_images"]) == (2, 4500, 1000)
    assert facts["minutes"] == 1.5 and facts["chance"] == 0.01
    assert facts["validation_top1"] == 0.3 and facts["parameters"] == 12345
    assert facts["test_standard_error"] == pytest.approx(np.sqrt(0.25 * 0.75 / 1000))
    rows = further.run_rows(facts)
    assert [r["split"] for r in rows] == ["training", "validation (best epoch)", "test"]
    assert rows[1]["top-1 (%)"] == pytest.approx(30.0) and rows[2]["top-1 (%)"] == 25.0
    assert [r["images"] for r in rows] == [4500, 500, 1000]


def test_train_paper_run_says_whether_it_trained(tmp_path):
    from vitsd.book import paper_config
    from vitsd.data import load_dataset

    data = load_dataset("sample", limit=300, seed=0)
    config = paper_config("tiny", epochs=1, batch_size=64, seed=0)
    kwargs = dict(dataset="sample", size="tiny", epochs=1, limit=300, batch_size=64,
                  seed=0, runs_dir=tmp_path, data=data)
    first = further.train_paper_run("sl-vit", config, **kwargs)
    assert first["status"] == "complete" and first["book"]["reused"] is False
    assert "paper-tiny" in first["book"]["run_dir"]
    second = further.train_paper_run("sl-vit", config, **kwargs)
    assert second["book"]["reused"] is True
    assert second["book"]["run_dir"] == first["book"]["run_dir"]
    assert second["test"] == first["test"]


# -------------------------------------------------------------- benchmarks
def test_benchmark_rows_read_every_file_and_name_the_machines(tmp_path):
    (tmp_path / "benchmarks").mkdir()
    for i, device in enumerate(("CPU: a", "GPU: b")):
        (tmp_path / "benchmarks" / f"speed-{i}.json").write_text(json.dumps({
            "environment": {"device": device, "backend": "jax", "backend_version": "0.4"},
            "results": [{"model": "vit", "reference_images_per_second": 100.0,
                         "fast_images_per_second": 150.0 * (i + 1), "ratio": 1.5 * (i + 1)}]}))
    rows, machines = further.benchmark_rows(tmp_path)
    assert rows == [{"model": "vit", "reference img/s": 100.0, "fast img/s": 150.0, "ratio": 1.5},
                    {"model": "vit", "reference img/s": 100.0, "fast img/s": 300.0, "ratio": 3.0}]
    assert machines == ["CPU: a, jax 0.4", "GPU: b, jax 0.4"]
    # a folder without benchmarks: the checkout's
    assert further.benchmark_rows(tmp_path / "absent") == further.benchmark_rows()


# ------------------------------------------------------ published campaigns
def test_campaign_rows_facts_summary_and_first_seeds():
    records = {"cpu-vit-s1": record(0.4), "cpu-vit-s2": record(0.42, seed=2),
               "cpu-vit-f10-s1": record(0.2, fraction=0.1),
               "pilot-s0": record(0.3, seed=1, pilot=True),
               "gpu-vit-s1": record(0.6, device="GPU: T4")}
    rows = further.campaign_rows(records)
    assert [r["run"] for r in rows] == list(records)
    assert rows[0] == {"run": "cpu-vit-s1", "training images": 4500, "epochs": 2,
                       "test top-1 (%)": pytest.approx(40.0)}
    facts = further.campaign_facts(records)
    assert (facts["runs"], facts["gpu"], facts["pilots"]) == (5, 1, 1)
    assert facts["devices"] == "CPU: x (2 cores) / GPU: T4" and facts["presets"] == "cpu"
    assert facts["best"] == "gpu-vit-s1" and facts["best_top1"] == 0.6
    # cpu-vit-s1 and -s2 differ only in the seed: 40 % and 42 %
    assert facts["seeds"] == 2 and facts["seed_spread"] == pytest.approx(0.02)
    mean = np.mean([0.4, 0.42, 0.2, 0.3, 0.6])
    assert facts["standard_error"] == pytest.approx(np.sqrt(mean * (1 - mean) / 1000))
    single = further.campaign_facts({"a-s1": record(0.4), "b-s1": record(0.5)})
    assert single["seeds"] == 1 and single["seed_spread"] is None
    assert list(further.first_seed_runs(records)) == ["cpu-vit-s1", "gpu-vit-s1"]
    summary = further.campaigns_summary({"cifar10-jpeg": records, "cifar100": {"a": record()}})
    glued = summary["glue"]
    assert {k: glued[k] for k in ("cifar10_jpeg_runs", "cifar10_jpeg_pilots", "cifar100_runs",
                                  "cifar100_pilots", "all_runs", "gpu_runs")} == {
        "cifar10_jpeg_runs": 5, "cifar10_jpeg_pilots": 1, "cifar100_runs": 1,
        "cifar100_pilots": 0, "all_runs": 6, "gpu_runs": 1}
    assert glued["cifar10_jpeg_spread"] == pytest.approx(2.0) and glued["cifar10_jpeg_seeds"] == 2
    assert np.isnan(glued["cifar100_spread"]) and glued["cifar100_seeds"] == 1
    assert (glued["cifar10_jpeg_best"], glued["cifar10_jpeg_best_top1"]) == (
        "gpu-vit-s1", pytest.approx(60.0))
    assert summary["titles"]["cifar100"].startswith("cifar100: 1 published runs, recipe cpu")


def test_published_campaigns_are_whatever_the_manifest_lists(tmp_path):
    campaigns = further.published_campaigns()
    # a results folder that does not exist (a notebook executed elsewhere): the checkout's
    assert further.published_campaigns(tmp_path / "absent") == campaigns
    listed = published.published_runs()
    assert sorted(campaigns) == sorted({name.split("/")[0] for name in listed})
    assert sum(len(r) for r in campaigns.values()) == len(listed)
    for dataset, records in campaigns.items():
        assert sorted(records) == published.published_runs(dataset)
        assert all(r["dataset"]["name"].startswith(dataset.split("-")[0])
                   for r in records.values())


# ------------------------------------------------- the full run's cost on a CPU
def test_full_run_cost_scales_the_recorded_cpu_rate_to_the_full_run(tmp_path, monkeypatch):
    from vitsd.data.sampler import steps_per_epoch
    from vitsd.training.recipes import recipe

    paper = recipe("paper")
    path = tmp_path / further.CPU_SANITY_RECORD
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({
        "timing": {"train_images_per_second": 32.0},
        "environment": {"device": "CPU: test (2 cores)"},
        "parameters": {"trainable": 123}, "splits": {"train": 1800}}))
    cost = further.full_run_cost(paper, 45_000, results_dir=tmp_path)
    steps = 100 * 1054  # 3 passes over 45,000 images in batches of 128, 100 epochs
    assert cost["steps"] == steps == paper.epochs * steps_per_epoch(45_000, paper)
    assert cost["seconds_per_step"] == 128 / 32.0 == 4.0
    assert cost["hours"] == pytest.approx(steps * 4.0 / 3600)
    assert cost["days"] == pytest.approx(cost["hours"] / 24)
    assert (cost["device"], cost["record_parameters"], cost["record_images"]) == (
        "CPU: test (2 cores)", 123, 1800)
    assert cost["record"] == "results/cpu-sanity/cifar10-jpeg/paper-sl-vit.json"
    # the committed record, as chapter 8 reads it
    committed = further.full_run_cost(paper, 45_000)
    assert committed["device"] and committed["images_per_second"] > 0
    # outside the checkout: no numbers, no error
    monkeypatch.setattr(published, "RESULTS_DIR", tmp_path / "nothing")
    missing = further.full_run_cost(paper, 45_000, results_dir=tmp_path / "none")
    assert missing["device"] is None and np.isnan(missing["hours"]) and missing["steps"] == steps
    with pytest.raises(ValueError, match="train_images must be a positive number"):
        further.full_run_cost(paper, 0)
