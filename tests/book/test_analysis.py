"""Chapters 6 and 7's tables and readings (vitsd.book.analysis), against hand-computed
or NumPy references."""

import math

import numpy as np
import pytest

from vitsd import book


def _record(model, seed, top1, n=10_000, train=None, val=None, fraction=None):
    record = {"model": model, "config": {"seed": seed, "epochs": 4},
              "test": {"top1": top1, "top5": 0.9}, "parameters": {"total": 1000 + seed},
              "splits": {"train": 900, "validation": 100, "test": n},
              "history": {"accuracy": train or [0.1, 0.2, 0.3, 0.4],
                          "val_accuracy": val or [0.1, 0.15, 0.2, 0.25]}}
    if fraction is not None:
        record["campaign"] = {"training_fraction": fraction}
    return record


def test_results_and_verdict_tables_are_narrow_and_follow_gap_verdict():
    runs = {"vit": [_record("vit", 1, 0.40), _record("vit", 2, 0.41)],
            "sl-vit": [_record("sl-vit", 1, 0.38), _record("sl-vit", 2, 0.385)],
            "resnet20": [_record("resnet20", 1, 0.52)]}
    rows = book.seed_summary(runs)
    table = book.results_table(rows)
    assert [r["model"] for r in table] == ["vit", "sl-vit", "resnet20"]
    assert list(table[0]) == ["model", "parameters", "seeds", "top-1 per seed", "mean", "±"]
    assert table[0]["mean"] == pytest.approx(40.5) and table[0]["±"] == pytest.approx(0.5)
    assert table[2]["±"] == "–"  # one seed: no spread
    verdicts = book.verdict_rows(rows, [("sl-vit", "vit"), ("resnet20", "vit"), ("lsa", "vit")])
    assert [v["comparison"] for v in verdicts] == ["sl-vit − vit", "resnet20 − vit"]  # no lsa
    se = 100 * math.sqrt((0.3825 * 0.6175 + 0.405 * 0.595) / 10_000)  # ~0.69 points
    assert verdicts[0]["gap"] == pytest.approx(-2.25)
    assert verdicts[0]["in s.e."] == pytest.approx(-2.25 / se)
    assert verdicts[0]["verdict"] == "established"  # 2.25 > 0.5 + 0.25 and > 2 * 0.69
    assert verdicts[1]["verdict"] == "one seed: no conclusion"
    facts = book.comparison_facts(rows, "resnet20", "vit", "cnn")
    assert facts["cnn_gap"] == pytest.approx(11.5) and facts["cnn_seeds"] == 1
    assert facts["cnn_bar"] == pytest.approx(2 * facts["cnn_se"])
    assert facts["cnn_z"] == pytest.approx(11.5 / facts["cnn_se"])
    assert facts["cnn_verdict"] == book.VERDICT_PHRASES["single seed"]
    reading = book.results_reading(rows, others=("sl-vit", "resnet20"))
    assert "established: sl-vit (-2.25)" in reading and "resnet20 (+11.50) rest on one" in reading


def test_compare_states_the_standard_error_and_twice_it():
    rows = book.seed_summary({"vit": [_record("vit", 1, 0.60, n=5000), _record("vit", 2, 0.60,
                                                                               n=5000)],
                              "spt": [_record("spt", 1, 0.59, n=5000),
                                      _record("spt", 2, 0.59, n=5000)]})
    se = 100 * math.sqrt((0.59 * 0.41 + 0.60 * 0.40) / 5000)
    sentence = book.compare(rows, "spt", "vit")
    assert f"on 5,000 test images is {se:.2f} points" in sentence
    assert f"twice it, {2 * se:.2f}" in sentence and "suggestive, not established" in sentence
    assert "twice the standard error" in book.VERDICT_PHRASES["suggestive"]


def test_fit_rows_and_facts_read_the_last_epoch_and_the_second_half():
    a = _record("vit", 1, 0.4, train=[0.1, 0.3, 0.5, 0.6], val=[0.2, 0.3, 0.4, 0.45])
    b = _record("vit", 2, 0.4, train=[0.1, 0.3, 0.5, 0.7], val=[0.2, 0.3, 0.4, 0.55])
    c = _record("sl-vit", 1, 0.4, train=[0.2, 0.5, 0.8, 0.9], val=[0.2, 0.3, 0.35, 0.4])
    rows = book.fit_rows({"sl-vit": [c], "vit": [a, b]})
    vit, sl = rows
    assert vit["model"] == "vit" and vit["train (aug.)"] == pytest.approx(65.0)
    assert vit["val"] == pytest.approx(50.0) and vit["train − val"] == pytest.approx(15.0)
    # the middle epoch of 4 is the second (index 1): 0.45 - 0.3 and 0.55 - 0.3
    assert vit["late gain"] == pytest.approx(20.0)
    assert sl["train − val"] == pytest.approx(50.0) and sl["late gain"] == pytest.approx(10.0)
    facts = book.fit_facts(rows)
    assert facts["fit_min"] == pytest.approx(15.0) and facts["late_max"] == pytest.approx(20.0)
    assert facts["fit_verdict"] == "no model is under-trained by this measure"
    under = book.fit_facts([{**vit, "train − val": 3.0}, sl])
    assert under["fit_verdict"] == "vit is still under-trained"


def test_campaign_runs_and_dataset_size_summary():
    records = {"cpu-vit-s2": _record("vit", 2, 0.60), "cpu-vit-s1": _record("vit", 1, 0.59),
               "cpu-sl-vit-s1": _record("sl-vit", 1, 0.58),
               "cpu-sl-vit-s2": _record("sl-vit", 2, 0.58),
               "cpu-vit-f10-s1": _record("vit", 1, 0.50, fraction=0.1),
               "cpu-sl-vit-f10-s1": _record("sl-vit", 1, 0.53, fraction=0.1),
               "pilot-vit-s0": _record("vit", 0, 0.1)}
    for name in ("cpu-vit-f10-s1", "cpu-sl-vit-f10-s1"):
        records[name]["splits"] = {"train": 90, "validation": 10, "test": 10_000}
    pool, fractions = book.campaign_runs(records)
    assert list(pool) == ["vit", "sl-vit"] and [r["config"]["seed"] for r in pool["vit"]] == [1, 2]
    assert len(fractions) == 2
    rows, facts = book.dataset_size_summary(fractions + pool["vit"] + pool["sl-vit"])
    assert [r["training images"] for r in rows] == [90, 900]
    assert rows[0]["vit"] == "50.00 ±0.00" and rows[0]["gap"] == pytest.approx(3.0)
    assert rows[0]["verdict"] == "one seed: no conclusion"
    assert rows[1]["vit"] == "59.50 ±0.50" and rows[1]["gap"] == pytest.approx(-1.5)
    assert facts["size_small_images"] == 90 and facts["size_full_gap"] == pytest.approx(-1.5)
    assert facts["size_small_validation"] == 10
    assert facts["size_small_short"] == "one seed: no conclusion"
    assert facts["size_full_short"] == rows[1]["verdict"]
    assert facts["size_small_epochs"] == "4" and "epochs" not in rows[0]  # said in the prose
    assert book.dataset_size_summary([]) == ([], {})


def test_group_accuracy_uses_cifar100_superclasses_and_matches_numpy():
    from vitsd.data.cifar import CIFAR100_CLASSES, superclass_of

    rng = np.random.default_rng(0)
    actual = rng.integers(0, 100, 5000)
    a = np.where(rng.random(5000) < 0.4, actual, rng.integers(0, 100, 5000))
    b = np.where(rng.random(5000) < 0.5, actual, rng.integers(0, 100, 5000))
    rows = book.group_accuracy(actual, {"vit": a, "sl-vit": b}, list(CIFAR100_CLASSES))
    assert len(rows) == 20
    coarse = np.array([superclass_of(k) for k in actual])
    for row in rows:
        g = list(book.class_groups(CIFAR100_CLASSES)[0]).index(row["group"].replace(" ", "_"))
        members = coarse == g
        assert row["images"] == members.sum()
        assert row["vit"] == pytest.approx(100 * np.mean(a[members] == actual[members]))
        assert row["difference"] == pytest.approx(row["sl-vit"] - row["vit"])
    assert [r["difference"] for r in rows] == sorted((r["difference"] for r in rows), reverse=True)
    facts = book.group_facts(rows, "vit", "sl-vit")
    assert facts["groups"] == 20
    assert facts["groups_better"] == sum(r["difference"] > 0 for r in rows)
    assert facts["top_group"] == rows[0]["group"]
    # other class names are their own groups
    names, group_of = book.class_groups(["cat", "dog"])
    assert names == ["cat", "dog"] and group_of == [0, 1]


def test_confused_pairs_and_pick_disagreements():
    actual = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    a = np.array([1, 1, 0, 0, 1, 0, 2, 2])  # two of class 0 taken for 1, one of 1 for 0
    b = np.array([1, 0, 0, 0, 1, 1, 1, 2])
    rows = book.confused_pairs(actual, {"vit": a, "sl-vit": b}, ["x", "y", "z"], count=5)
    assert rows[0] == {"true": "x", "taken for": "y", "vit": 50.0, "sl-vit": 25.0}
    assert {(r["true"], r["taken for"]) for r in rows} == {("x", "y"), ("y", "x"), ("z", "y")}
    picks = book.pick_disagreements({"vit": a, "sl-vit": b}, actual)
    right_a, right_b = a[picks] == actual[picks], b[picks] == actual[picks]
    assert list(zip(right_a, right_b)) == [(True, True), (True, False), (False, True),
                                           (False, False)]


def test_gap_verdict_kinds_agree_with_an_independent_rule_on_a_grid():
    # reference: within noise up to max(seed noise, 1 s.e.), suggestive up to 2 s.e.
    rng = np.random.default_rng(3)
    for _ in range(200):
        vit = rng.uniform(0.3, 0.6, 2)
        other = vit.mean() + rng.normal(0, 0.01) + rng.normal(0, 0.004, 2)
        n = int(rng.choice([1000, 10_000]))
        rows = book.seed_summary({"vit": [_record("vit", s, v, n=n) for s, v in
                                          enumerate(vit, 1)],
                                  "spt": [_record("spt", s, v, n=n) for s, v in
                                          enumerate(other, 1)]})
        gap = 100 * (other.mean() - vit.mean())
        noise = 50 * (np.ptp(other) + np.ptp(vit))
        p, q = other.mean(), vit.mean()
        se = 100 * np.sqrt((p * (1 - p) + q * (1 - q)) / n)
        expected = ("within noise" if abs(gap) <= max(noise, se) else
                    "suggestive" if abs(gap) <= max(noise, 2 * se) else "established")
        v = book.gap_verdict(rows, "spt", "vit")
        assert v["kind"] == expected and v["z"] == pytest.approx(gap / se)


def test_seed_range_and_outlook_grade_every_gap_alike():
    rows = book.seed_summary({"vit": [_record("vit", 1, 0.40), _record("vit", 2, 0.413)],
                              "spt": [_record("spt", 1, 0.40)],
                              "resnet20": [_record("resnet20", 1, 0.50)],
                              "sl-vit": [_record("sl-vit", 1, 0.375)]})
    assert book.seed_range(rows) == pytest.approx(1.3)  # only vit has two seeds
    assert math.isnan(book.seed_range(rows[1:]))
    largest, where = book.largest_seed_range({"CIFAR-100": rows[1:], "CIFAR-10": rows})
    assert largest == pytest.approx(1.3) and where.startswith("borrowed from the CIFAR-10")
    largest, where = book.largest_seed_range({"CIFAR-100": rows, "CIFAR-10": rows[1:]})
    assert largest == pytest.approx(1.3) and "borrowed" not in where
    assert where == "the largest of those measured on CIFAR-100, found on CIFAR-100"
    facts = book.comparison_facts(rows, "resnet20", "vit", "cnn", seed_range=1.3)
    assert facts["cnn_ranges"] == pytest.approx((50 - 40.65) / 1.3)
    assert "unlikely to reverse" in facts["cnn_outlook"]
    sl = book.comparison_facts(rows, "sl-vit", "vit", "sl", seed_range=1.3)
    assert sl["sl_ranges"] == pytest.approx(3.15 / 1.3) and "more seeds will tell" in sl[
        "sl_outlook"]
    assert "could" not in book.gap_outlook(0.5, 1.0, 1.3) and "real" in book.gap_outlook(
        0.5, 1.0, 1.3)
    assert "no seed-to-seed range" in book.gap_outlook(5.0, 9.0, float("nan"))
    reading = book.outlook_reading(rows, [("resnet20", "vit"), ("sl-vit", "vit"),
                                          ("lsa", "vit")], 1.3)
    assert reading.startswith("resnet20 +9.35 points (7.2 times that range")
    assert "sl-vit -3.15 points (2.4 times" in reading and "lsa" not in reading


def test_outlook_from_two_seeds_leaves_the_verdict_to_the_spread():
    # means of two seeds or more: only a far gap gets a grade, the rest is the verdict's
    assert book.gap_outlook(6.0, 9.0, 1.3, seeds=2) == (
        "far beyond what a seed has moved a result so far")
    for gap, z in ((3.0, 4.0), (0.5, 1.0)):
        grade = book.gap_outlook(gap, z, 1.3, seeds=2)
        assert "verdict" in grade and "more seeds" not in grade and "within" not in grade
    rows = book.seed_summary({"vit": [_record("vit", 1, 0.40), _record("vit", 2, 0.413)],
                              "sl-vit": [_record("sl-vit", 1, 0.375),
                                         _record("sl-vit", 2, 0.38)],
                              "resnet20": [_record("resnet20", 1, 0.50)]})
    sl = book.comparison_facts(rows, "sl-vit", "vit", "sl", seed_range=1.3)
    assert sl["sl_seeds"] == 2 and "more seeds" not in sl["sl_outlook"]
    cnn = book.comparison_facts(rows, "resnet20", "vit", "cnn", seed_range=1.3)
    assert cnn["cnn_seeds"] == 1 and cnn["cnn_outlook"].endswith("unlikely to reverse")
    # only the one-seed comparison needs the range argument
    reading = book.outlook_reading(rows, [("resnet20", "vit"), ("sl-vit", "vit")], 1.3)
    assert reading.startswith("resnet20 +9.35 points") and "sl-vit" not in reading
    assert "none needs it" in book.outlook_reading(rows, [("sl-vit", "vit")], 1.3)


def test_verdict_margin_is_the_distance_to_the_higher_bar():
    n = 10_000
    rows = book.seed_summary({
        "vit": [_record("vit", 1, 0.42, n=n), _record("vit", 2, 0.41, n=n)],
        "sl-vit": [_record("sl-vit", 1, 0.39, n=n), _record("sl-vit", 2, 0.40, n=n)],
        "lsa": [_record("lsa", 1, 0.413, n=n), _record("lsa", 2, 0.417, n=n)],
        "spt": [_record("spt", 1, 0.40, n=n)]})
    # reference: bar = max(spreads added, 2 s.e. of a difference), margin = |gap| - bar
    p, q = 0.395, 0.415
    bar = max(0.5 + 0.5, 2 * 100 * np.sqrt((p * (1 - p) + q * (1 - q)) / n))
    assert book.verdict_margin(rows, "sl-vit", "vit") == (
        f"it clears the higher of the two bars ({bar:.2f} points) by {2.0 - bar:.2f}")
    p = 0.415
    bar = max(0.2 + 0.5, 2 * 100 * np.sqrt(2 * p * (1 - p) / n))
    assert book.verdict_margin(rows, "lsa", "vit") == (
        f"it falls {bar - 0.0:.2f} points short of the bar for established ({bar:.2f} points)")
    assert "one seed" in book.verdict_margin(rows, "spt", "vit")


def test_group_facts_test_each_group_against_the_overall_difference():
    # a uniform shift of -3 points: many groups beyond 2 s.e. of zero, none of the shift
    rows = [{"group": f"g{i}", "images": 5000, "vit": 40.0 + i, "sl-vit": 37.0 + i,
             "difference": -3.0} for i in range(20)]
    rows[0] = {**rows[0], "sl-vit": 52.0, "difference": 12.0}
    facts = book.group_facts(rows, "vit", "sl-vit")
    p = sum(r["vit"] + r["sl-vit"] for r in rows) / 4000
    se = 100 * math.sqrt(2 * p * (1 - p) / 5000)  # about 1 point
    assert facts["group_se"] == pytest.approx(se)
    assert facts["group_overall"] == pytest.approx((12 - 3 * 19) / 20)
    assert facts["groups_beyond"] == 1  # only the one group off the shift
    assert facts["groups_beyond_zero"] == sum(abs(r["difference"]) > 2 * se for r in rows)
    assert facts["groups_beyond_zero"] > facts["groups_beyond"]
    assert "no group stands out" in facts["groups_reading"]


def test_curve_facts_find_the_leader_and_its_lead():
    first = {"vit": {"history": {"val_accuracy": [0.10, 0.20, 0.25, 0.30, 0.32]}},
             "spt": {"history": {"val_accuracy": [0.12, 0.19, 0.26, 0.31, 0.33]}},
             "resnet20": {"history": {"val_accuracy": [0.11, 0.30, 0.40, 0.45, 0.50]}}}
    facts = book.curve_facts(first)
    assert facts["curves_leader"] == "resnet20" and facts["curves_lead_from"] == 2
    assert facts["curves_mid_epoch"] == 3 and facts["curves_epochs"] == 5
    assert facts["curves_lead_mid"] == pytest.approx(14.0)  # 40 against spt's 26
    late = {**first, "resnet20": {"history": {"val_accuracy": [0.1, 0.1, 0.1, 0.2, 0.5]}}}
    facts = book.curve_facts(late)  # ahead only at the last epoch: reported there
    assert facts["curves_lead_from"] == 5 and facts["curves_mid_epoch"] == 5
    assert facts["curves_lead_end"] == pytest.approx(17.0)
    assert facts["curves_others_range"] == pytest.approx(1.0)


def test_map_facts_against_numpy():
    rng = np.random.default_rng(1)
    a, b = rng.random((3, 8, 8)), rng.random((3, 8, 8))
    facts = book.map_facts({"vit": a, "sl-vit": b})
    top = [np.sort(m.ravel())[-6:].sum() / m.sum() for m in a]  # 10% of 64: 6 patches
    assert facts["map0_top"] == pytest.approx(100 * np.mean(top))
    corr = np.mean([np.corrcoef(x.ravel(), y.ravel())[0, 1] for x, y in zip(a, b)])
    assert facts["map_corr"] == pytest.approx(corr)
    flat = book.map_facts({"vit": np.ones((2, 10, 10)), "sl-vit": np.ones((2, 10, 10))})
    assert flat["map0_top"] == pytest.approx(10.0) and flat["map_top"] == 10.0
