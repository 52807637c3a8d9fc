"""Chapter 6's comparisons (vitsd.book.comparison) and figures (vitsd.book.plots.comparison),
against hand-built records and few-line NumPy references."""

import numpy as np
import pytest

from vitsd import book
from vitsd.book import comparison, plots, stats


def _record(model, seed, top1, fraction=None, train=900, loss=None, name=None):
    record = {"model": model, "config": {"seed": seed, "epochs": 4, "batch_size": 8},
              "test": {"top1": top1, "top5": 0.9}, "parameters": {"total": 1000 + seed},
              "splits": {"train": train, "validation": 100, "test": 50},
              "dataset": {"name": "toy"}, "epochs_completed": 4,
              "history": {"accuracy": [0.1, 0.2, 0.3, 0.4 + seed / 100],
                          "val_accuracy": [0.1, 0.15, 0.2, 0.25],
                          "loss": loss or [3.0, 2.5, 2.2, 2.0],
                          "val_loss": [3.1, 2.8, 2.6, 2.5]}}
    if fraction is not None:
        record["campaign"] = {"training_fraction": fraction, "name": name}
    return record


def test_campaign_runs_split_the_whole_pool_from_the_fractions():
    records = {"cpu-vit-s2": _record("vit", 2, 0.60), "cpu-vit-s1": _record("vit", 1, 0.59),
               "cpu-sl-vit-s1": _record("sl-vit", 1, 0.58),
               "cpu-resnet20-s1": _record("resnet20", 1, 0.7),
               "cpu-vit-f10-s1": _record("vit", 1, 0.50, fraction=0.1, train=90),
               "pilot-vit-s0": _record("vit", 0, 0.1)}
    pool, fractions = book.campaign_runs(records, models=comparison.ORDER)
    assert list(pool) == ["vit", "sl-vit", "resnet20"]
    assert [r["config"]["seed"] for r in pool["vit"]] == [1, 2]
    assert [r["splits"]["train"] for r in fractions] == [90]
    # the pilot is neither; only the named variants by default
    assert list(book.campaign_runs(records)[0]) == ["vit", "sl-vit"]


def _correct(rng, seeds, accuracy, images=400):
    return rng.random((seeds, images)) < accuracy


def test_comparison_rows_give_means_and_the_bootstrap_interval_against_the_reference():
    rng = np.random.default_rng(0)
    runs = {"sl-vit": [_record("sl-vit", s, t) for s, t in ((1, 0.40), (2, 0.42))],
            "vit": [_record("vit", s, t) for s, t in ((1, 0.44), (2, 0.43), (3, 0.45))],
            "resnet20": [_record("resnet20", 1, 0.55)]}
    correct = {"vit": _correct(rng, 3, 0.44), "sl-vit": _correct(rng, 2, 0.41),
               "resnet20": _correct(rng, 1, 0.55)}
    rows = comparison.comparison_rows(runs, correct, reference="vit", resamples=2000)
    assert [r["model"] for r in rows] == ["vit", "sl-vit", "resnet20"]  # book order
    vit, sl = rows[0], rows[1]
    assert "− vit" not in vit and vit["mean"] == pytest.approx(44.0)
    assert sl["top-1 per seed"] == "40.00 / 42.00" and "seeds" not in sl
    # the difference is that of the mean per-image correctness (NumPy, by hand)
    expected = 100 * (correct["sl-vit"].mean() - correct["vit"].mean())
    assert sl["− vit"] == pytest.approx(expected)
    ci = stats.difference_ci(correct["sl-vit"], correct["vit"], resamples=2000)
    assert (sl["low"], sl["high"]) == (pytest.approx(100 * ci["low"]),
                                       pytest.approx(100 * ci["high"]))
    assert sl["95% CI"] == f"{100 * ci['low']:+.2f} to {100 * ci['high']:+.2f}"
    shown = comparison.shown_columns(rows)
    assert "low" not in shown[1] and shown[1]["95% CI"] == sl["95% CI"]
    with pytest.raises(ValueError, match="reference='lsa' has no runs"):
        comparison.comparison_rows(runs, correct, reference="lsa")


def test_by_training_size_and_size_rows_from_published_correctness(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    records = [_record("vit", 1, 0.5, 0.1, train=90, name="cpu-vit-f10-s1"),
               _record("sl-vit", 1, 0.55, 0.1, train=90, name="cpu-sl-vit-f10-s1"),
               _record("vit", 1, 0.6, train=900), _record("lsa", 1, 0.6, train=900)]
    groups = comparison.by_training_size(records)
    assert list(groups) == [90, 900] and list(groups[900]) == ["vit"]  # lsa is not kept
    folder = tmp_path / "toy"
    truth = {name: _correct(rng, 1, p, 50)[0] for name, p in
             (("cpu-vit-f10-s1", 0.5), ("cpu-sl-vit-f10-s1", 0.56))}
    for name, row in truth.items():
        stats.write_correctness(folder / f"{name}.correct.npz", row)
    monkeypatch.setattr("vitsd.sharing.published.RESULTS_DIR", tmp_path)
    rows = comparison.size_rows(groups, resamples=500)
    assert rows[0]["training images"] == 90 and rows[0]["epochs"] == "4"
    assert rows[0]["difference"] == pytest.approx(
        100 * (truth["cpu-sl-vit-f10-s1"].mean() - truth["cpu-vit-f10-s1"].mean()))
    assert rows[0]["low"] <= rows[0]["difference"] <= rows[0]["high"]
    assert "difference" not in rows[1] and rows[1]["vit mean"] == pytest.approx(60.0)


def test_a_run_trained_here_needs_the_data_to_be_scored():
    trained = {**_record("vit", 1, 0.5), "book": {"source": "trained", "name": "vit (here)"}}
    assert comparison.record_name(trained) is None
    published = {**_record("vit", 1, 0.5), "book": {"source": "published", "name": "cpu-vit-s1"}}
    assert comparison.record_name(published) == "cpu-vit-s1"
    with pytest.raises(ValueError, match="trained here, so its correctness needs data="):
        comparison.run_correctness([trained])


def test_loss_gaps_final_values_and_last_epoch_against_numpy():
    runs = {"vit": [_record("vit", 1, 0.5, loss=[3.0, 2.0, 1.5]),
                    _record("vit", 2, 0.5, loss=[3.2, 2.2, 1.7, 1.0])],
            "spt": [_record("spt", 1, 0.5, loss=[3.1, 2.3, 1.9, 1.6])]}
    gaps = comparison.loss_gaps(runs, models=("spt", "lsa"))
    assert list(gaps) == ["spt"]
    # vit's mean over the epochs both seeds have (3), spt's over its own
    np.testing.assert_allclose(gaps["spt"], [3.1 - 3.1, 2.3 - 2.1, 1.9 - 1.6])
    final = comparison.final_values(runs)
    assert final[0] == {"model": "vit", "per seed": "1.500 / 1.000", "lowest": 1.0,
                        "highest": 1.5}
    fit = comparison.last_epoch(runs["spt"])
    assert fit == {"train": pytest.approx(41.0), "validation": pytest.approx(25.0)}
    assert comparison.dataset_title("cifar100") == "CIFAR-100"
    assert comparison.dataset_title("my-folder") == "my-folder"


def test_size_figure_has_a_dot_per_run_a_mean_line_and_an_interval_per_size():
    groups = {90: {"vit": [_record("vit", s, 0.5 + s / 100, train=90) for s in (1, 2)],
                   "sl-vit": [_record("sl-vit", 1, 0.55, train=90)]},
              900: {"vit": [_record("vit", 1, 0.6)]}}
    rows = [{"training images": 90, "difference": 4.5, "low": 1.0, "high": 8.0},
            {"training images": 900}]
    fig = plots.plot_size_comparison(
        {"toy": (groups, rows)}, extra={"toy": {"resnet20": [_record("resnet20", 1, 0.7)]}})
    top, bottom = fig.axes[:2] if fig.axes[0].get_title() == "toy" else fig.axes[1::-1]
    dots = np.concatenate([c.get_offsets() for c in top.collections])
    assert len(dots) == 4 + 1  # three vit runs and one sl-vit run, one resnet20 run
    vit_line = next(line for line in top.lines if line.get_label() == "vit")
    np.testing.assert_allclose(vit_line.get_ydata(), [51.5, 60.0])
    caps = [line for line in bottom.lines if line.get_linestyle() == "None"]
    assert any(np.allclose(line.get_ydata(), [1.0]) for line in caps)
    assert any(np.allclose(line.get_ydata(), [8.0]) for line in caps)
    with pytest.raises(ValueError, match="panels is empty"):
        plots.plot_size_comparison({})


def test_curves_have_one_panel_per_model_and_a_line_per_seed_and_split():
    runs = {"vit": [_record("vit", s, 0.5) for s in (1, 2)],
            "spt": [_record("spt", 1, 0.5)], "resnet20": [_record("resnet20", 1, 0.6)]}
    fig = plots.plot_curves_by_model(runs)
    visible = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in visible] == ["vit (2 seeds)", "spt (1 seed)",
                                                  "resnet20 (1 seed)"]
    assert len(visible[0].lines) == 4  # two seeds x training and validation
    np.testing.assert_allclose(visible[1].lines[0].get_ydata(), [10, 20, 30, 41])
    # the panel above the empty slot keeps its x axis labelled
    assert visible[1].get_xlabel() == "epoch"
    gaps = plots.plot_loss_gaps({"spt": [0.0, 0.1, 0.2]})
    np.testing.assert_allclose(gaps.axes[0].lines[-1].get_ydata(), [0.0, 0.1, 0.2])
