"""Galleries and example picking (vitsd.book.examples): chapters 1, 7 and 8's picks and
captions, chapter 7's groups of classes and rollout numbers, against hand-computed or
plain NumPy references."""

import numpy as np
import pytest

from vitsd import book
from vitsd.book import examples


# ------------------------------------------------------------------ galleries
def test_one_per_class_picks_distinct_classes_in_first_seen_order():
    labels = np.array([3, 3, 3, 1, 3, 0, 1, 2, 0])
    np.testing.assert_array_equal(book.one_per_class(labels, 3), [0, 3, 5])
    picked = book.one_per_class(labels, 4)
    assert len(set(labels[picked])) == 4
    sorted_by_class = np.repeat(np.arange(10), 50)  # the CIFAR-10 JPEG archive's order
    np.testing.assert_array_equal(sorted_by_class[book.one_per_class(sorted_by_class, 8)],
                                  np.arange(8))
    with pytest.raises(ValueError, match="count"):
        book.one_per_class(labels, 5)


def test_superclass_gallery_takes_each_superclass_first_photo_like_a_loop():
    from vitsd.data.cifar import CIFAR100_CLASSES, CIFAR100_SUPERCLASSES

    labels = np.random.default_rng(0).integers(0, 100, 3000)
    picked, captions = examples.superclass_gallery(labels, CIFAR100_CLASSES)
    expected = []  # a plain loop over the superclasses
    for group, members in CIFAR100_SUPERCLASSES.items():
        ids = [CIFAR100_CLASSES.index(m) for m in members]
        first = int(np.flatnonzero(np.isin(labels, ids))[0])
        name = CIFAR100_CLASSES[labels[first]].replace("_", " ")
        expected.append((first, f"{group.replace('_', ' ')}\n({name})"))
    assert list(zip(picked.tolist(), captions)) == expected
    rows = examples.superclass_rows(CIFAR100_CLASSES)
    assert len(rows) == 20 and rows[0] == {
        "superclass": "aquatic mammals", "its classes": "beaver, dolphin, otter, seal, whale"}
    assert sorted(c for r in rows for c in r["its classes"].split(", ")) == sorted(
        n.replace("_", " ") for n in CIFAR100_CLASSES)
    # Without superclasses: the first photo of each class, in class order.
    names = ["b", "a_x", "c"]
    picked, captions = examples.superclass_gallery([2, 2, 0, 1, 0], names)
    assert picked.tolist() == [2, 3, 0] and captions == ["b", "a x", "c"]
    assert examples.superclass_rows(names) is None


def test_pick_examples_takes_right_and_wrong_images_from_different_classes():
    actual = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    predicted = np.array([0, 0, 1, 0, 2, 1, 3, 3, 0, 0])
    right, wrong = book.pick_examples(predicted, actual, per_kind=3)
    assert np.all(predicted[right] == actual[right]) and np.all(predicted[wrong] != actual[wrong])
    assert len(set(actual[right])) == 3 and right.tolist() == [0, 2, 4]
    assert wrong.tolist() == [3, 5, 8]  # classes 1, 2, 4: one each
    right, wrong = book.pick_examples(predicted, actual, per_kind=5)
    assert len(right) == 5 and len(wrong) == 4  # only four wrong images exist


def test_prediction_titles():
    names = ["cat", "dog", "emu"]
    assert book.prediction_titles(np.array([0, 2]), [0, 1], names) == ["✓ cat", "✗ emu (is dog)"]
    with pytest.raises(ValueError, match="same length"):
        book.prediction_titles([0], [0, 1], names)


def test_rollout_captions_name_the_true_class_and_each_models_prediction():
    names = ["cat", "sea_lion", "emu"]
    titles, captions = book.rollout_captions(
        {"vit": np.array([0, 2]), "sl-vit": [1, 1]}, np.array([0, 1]), names)
    assert titles == ["true class\ncat", "true class\nsea lion"]
    assert captions == {"vit": ["✓ vit\ncat", "✗ vit\nemu"],
                        "sl-vit": ["✗ sl-vit\nsea lion", "✓ sl-vit\nsea lion"]}
    with pytest.raises(ValueError, match="one prediction per photo"):
        book.rollout_captions({"vit": [0]}, [0, 1], names)


# ---------------------------------------------- chapter 7: where two models differ
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
    # other class names are their own groups
    names, group_of = book.class_groups(["cat", "dog"])
    assert names == ["cat", "dog"] and group_of == [0, 1]


def _naive_interval(a, b, rng, resamples=4000):
    """The two-level bootstrap written as a plain loop: the same images for both models,
    each model's seeds drawn on their own; the middle 95% of the differences."""
    n = a.shape[1]
    differences = []
    for _ in range(resamples):
        images = rng.integers(0, n, n)
        runs_a = rng.integers(0, len(a), len(a))
        runs_b = rng.integers(0, len(b), len(b))
        differences.append(a[runs_a][:, images].mean() - b[runs_b][:, images].mean())
    return np.quantile(differences, [0.025, 0.975])


def test_group_differences_give_each_superclass_its_mean_and_interval():
    from vitsd.data.cifar import CIFAR100_CLASSES, superclass_of

    rng = np.random.default_rng(3)
    actual = np.repeat(np.arange(100), 20)  # 100 images per superclass
    coarse = np.array([superclass_of(k) for k in actual])
    vit = rng.random((3, actual.size)) < 0.45
    sl = rng.random((2, actual.size)) < 0.40  # two seeds against three
    vit[:, coarse == 0], sl[:, coarse == 0] = False, True  # sl-vit right on all of group 0
    vit[:, coarse == 1] = vit[0, coarse == 1]  # group 1: the same images right, every run
    sl[:, coarse == 1] = vit[0, coarse == 1]
    rows = book.group_differences(actual, {"vit": vit, "sl-vit": sl}, CIFAR100_CLASSES,
                                  resamples=2000)
    assert len(rows) == 20
    assert [r["difference"] for r in rows] == sorted((r["difference"] for r in rows),
                                                     reverse=True)
    names = book.class_groups(CIFAR100_CLASSES)[0]
    by_group = {r["group"]: r for r in rows}
    for g, name in enumerate(names):
        row, members = by_group[name.replace("_", " ")], coarse == g
        assert row["images"] == 100
        assert row["vit"] == pytest.approx(100 * vit[:, members].mean())
        assert row["sl-vit"] == pytest.approx(100 * sl[:, members].mean())
        assert row["difference"] == pytest.approx(row["sl-vit"] - row["vit"])
        assert row["low"] <= row["difference"] <= row["high"]
    top = by_group[names[0].replace("_", " ")]
    assert (top["difference"], top["low"], top["high"]) == (100.0, 100.0, 100.0)
    same = by_group[names[1].replace("_", " ")]
    assert (same["difference"], same["low"], same["high"]) == (0.0, 0.0, 0.0)
    # a noisy group's interval is the plain loop's, up to the Monte-Carlo error
    members = coarse == 5
    low, high = _naive_interval(sl[:, members].astype(float), vit[:, members].astype(float),
                                np.random.default_rng(0))
    row = by_group[names[5].replace("_", " ")]
    assert row["low"] == pytest.approx(100 * low, abs=1.5)
    assert row["high"] == pytest.approx(100 * high, abs=1.5)
    with pytest.raises(ValueError, match="two models"):
        book.group_differences(actual, {"vit": vit}, CIFAR100_CLASSES)


def test_group_differences_without_superclasses_take_each_class():
    actual = np.array([0, 0, 1, 1, 1, 2])
    a = np.array([[1, 0, 1, 1, 0, 1]], bool)
    b = np.array([[1, 1, 0, 1, 0, 0]], bool)
    rows = book.group_differences(actual, {"a": a, "b": b}, ["x", "y", "z"], resamples=200)
    assert [(r["group"], r["images"]) for r in rows] == [("x", 2), ("y", 3), ("z", 1)]
    assert [r["difference"] for r in rows] == pytest.approx([50.0, -100 / 3, -100.0])


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


# ---------------------------------------------------- chapter 7: rollout maps
def test_top_share_against_a_sorted_list():
    rng = np.random.default_rng(2)
    maps = rng.random((4, 8, 8))
    expected = [sum(sorted(m.ravel(), reverse=True)[:6]) / m.sum() for m in maps]  # 6 of 64
    np.testing.assert_allclose(book.top_share(maps), expected)
    np.testing.assert_allclose(book.top_share(maps.reshape(4, 64), top=0.5),
                               [sum(sorted(m.ravel(), reverse=True)[:32]) / m.sum()
                                for m in maps])
    assert book.top_share(np.ones((2, 10, 10))) == pytest.approx([0.1, 0.1])  # flat
    peaked = np.zeros((1, 10, 10))
    peaked[0, 3, 4] = 2.0
    assert book.top_share(peaked) == pytest.approx([1.0])
    assert book.top_share(np.ones((1, 3, 3)), top=0.01) == pytest.approx([1 / 9])  # 1 patch
    with pytest.raises(ValueError, match="top"):
        book.top_share(maps, top=0)


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
