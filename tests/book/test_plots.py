"""Tests for vitsd.book.plots: every function returns a Figure holding the right data."""

import io
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot as plt  # noqa: E402  (only to check nothing is registered)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from vitsd.book import plots  # noqa: E402
from vitsd.book.plots._base import _GREEN, _RED  # noqa: E402


@pytest.fixture(autouse=True)
def no_global_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def image_axes(fig):
    """Axes that show an image and are not colour bars."""
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def render(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=30)
    assert buf.getvalue()[:4] == b"\x89PNG"


def uint8_images(n=6, size=12, channels=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, channels), dtype=np.uint8)


def assert_legible_on_a_phone(fig):
    """At most 540 px wide as the book saves it (dpi 100, tight box) and no text under
    10 points: 10 pt stays above 9 CSS px in the 359 px column of a 390 px phone."""
    from PIL import Image

    from vitsd.book.display import figure_png, smallest_font_points

    width = Image.open(io.BytesIO(figure_png(fig))).width
    assert width <= 540 and smallest_font_points(fig) >= 10, (width, smallest_font_points(fig))


def columns(axes):
    """How many distinct left edges the axes have: the columns of a grid."""
    return len({round(ax.get_position().x0, 3) for ax in axes})


# --------------------------------------------------------------------- helpers
def test_to_display_uint8_divides_by_255():
    img = uint8_images(1)[0]
    out = plots.to_display(img)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, img / 255.0, rtol=1e-6)
    assert plots.to_display(np.array([[0, 255]], np.uint8)).tolist() == [[0.0, 1.0]]


def test_to_display_float_min_max_per_image():
    rng = np.random.default_rng(1)
    img = rng.normal(size=(8, 8, 3)) * 3 + 5
    out = plots.to_display(img)
    assert out.min() == pytest.approx(0.0) and out.max() == pytest.approx(1.0)
    np.testing.assert_allclose(out, (img - img.min()) / (img.max() - img.min()), rtol=1e-5)
    # A constant image does not divide by zero; values already in [0, 1] are kept.
    np.testing.assert_allclose(plots.to_display(np.full((4, 4), 0.25)), 0.25)
    np.testing.assert_allclose(plots.to_display(np.full((4, 4), 7.0)), 1.0)
    # Single-channel images lose their channel axis; NaN does not spread.
    assert plots.to_display(np.zeros((4, 4, 1), np.uint8)).shape == (4, 4)
    with_nan = img.copy()
    with_nan[0, 0, 0] = np.nan
    assert np.isfinite(plots.to_display(with_nan)).all()


def test_upsample_map():
    m = np.arange(9.0).reshape(3, 3)
    up = plots.upsample_map(m, 12, 18)
    assert up.shape == (12, 18)
    assert up.min() == pytest.approx(0.0) and up.max() == pytest.approx(8.0)
    assert np.all(np.diff(up, axis=0) >= -1e-12) and np.all(np.diff(up, axis=1) >= -1e-12)
    np.testing.assert_allclose(plots.upsample_map(np.full((4, 4), 0.3), 24), 0.3)
    with pytest.raises(ValueError, match="attention_map"):
        plots.upsample_map(np.zeros(4), 8)


# ------------------------------------------------------------------- chapter 1
def test_plot_images_captions_and_pixels():
    images = uint8_images(10)
    names = [f"class{i}" for i in range(10)]
    labels = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
    fig = plots.plot_images(images, labels, class_names=names, ncols=4, title="samples")
    assert isinstance(fig, Figure)
    axes = image_axes(fig)
    assert len(axes) == len(fig.axes) == 10
    assert [ax.get_title() for ax in axes] == [names[i] for i in labels]
    for ax, img in zip(axes, images):
        np.testing.assert_allclose(ax.images[0].get_array(), img / 255.0, rtol=1e-6)
        assert ax.get_xticks().size == 0 and ax.get_yticks().size == 0
    assert fig._suptitle.get_text() == "samples"
    render(fig)
    # Four to a row at most, phone-sized; long captions wrap between words.
    wide = plots.plot_images(uint8_images(8), ["large man-made outdoor things\n(bridge)"] * 8,
                             ncols=8)
    assert columns(image_axes(wide)) == 4
    title = image_axes(wide)[0].get_title()
    assert title.replace("\n", " ") == "large man-made outdoor things (bridge)"
    assert max(len(line) for line in title.split("\n")) <= 15
    assert_legible_on_a_phone(wide)


def test_plot_images_label_forms():
    images = uint8_images(3).astype(np.float32) / 7.0 - 2.0  # normalised floats
    one_hot = np.eye(4)[[2, 0, 3]]
    fig = plots.plot_images(images, one_hot, class_names=["a", "b", "c", "d"])
    assert [ax.get_title() for ax in fig.axes] == ["c", "a", "d"]
    for ax in fig.axes:
        data = np.asarray(ax.images[0].get_array())
        assert data.min() == pytest.approx(0) and data.max() == pytest.approx(1)
    fig = plots.plot_images(images, ["x", "y", "z"])
    assert [ax.get_title() for ax in fig.axes] == ["x", "y", "z"]
    fig = plots.plot_images(images)
    assert [ax.get_title() for ax in fig.axes] == ["", "", ""]
    gray = plots.plot_images(uint8_images(2, channels=1))
    assert np.asarray(gray.axes[0].images[0].get_array()).shape == (12, 12)
    with pytest.raises(ValueError, match="labels"):
        plots.plot_images(images, [1, 2])
    with pytest.raises(ValueError, match="ncols"):
        plots.plot_images(images, ncols=0)


def test_plot_augmentations():
    images = uint8_images(4)
    fig = plots.plot_augmentations(images[0], list(images[1:]), title="aug")
    axes = image_axes(fig)
    assert len(axes) == 4
    assert [ax.get_title() for ax in axes] == ["original", "augmented 1", "augmented 2",
                                               "augmented 3"]
    np.testing.assert_allclose(axes[0].images[0].get_array(), images[0] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(axes[3].images[0].get_array(), images[3] / 255.0, rtol=1e-6)
    assert len(image_axes(plots.plot_augmentations(images[0], images[1:3]))) == 3
    seven = plots.plot_augmentations(images[0], list(uint8_images(6)), title="six augmentations")
    assert len(image_axes(seven)) == 7 and columns(image_axes(seven)) == 4
    assert_legible_on_a_phone(seven)


# ------------------------------------------------------------------- chapter 2
def test_plot_patch_grid():
    img = uint8_images(1, size=24)[0]
    fig = plots.plot_patch_grid(img, 6)
    (ax,) = image_axes(fig)
    assert len(ax.lines) == 2 * (4 - 1)  # inner grid lines of a 4x4 grid
    vertical = [line for line in ax.lines if line.get_xdata()[0] == line.get_xdata()[1]]
    xs = sorted(line.get_xdata()[0] for line in vertical)
    assert xs == [5.5, 11.5, 17.5]
    texts = {t.get_text() for t in ax.texts}
    assert texts == {str(i) for i in range(16)}  # small grid: every patch numbered
    assert "16 patches" in ax.get_title()
    big = plots.plot_patch_grid(uint8_images(1, size=72)[0], 6).axes[0]
    labels = {t.get_text() for t in big.texts}
    assert {"0", "1", "11", "12", "143"} <= labels and len(labels) < 144
    with pytest.raises(ValueError, match="patch_size"):
        plots.plot_patch_grid(img, 0)
    with pytest.raises(ValueError, match="patch_size"):
        plots.plot_patch_grid(img, 30)


def patchify(image, p):
    h, w, c = image.shape
    g = h // p
    return image.reshape(g, p, g, p, c).transpose(0, 2, 1, 3, 4).reshape(g * g, p * p * c)


def test_plot_patches_tiles_equal_reshaped_patches():
    img = uint8_images(1, size=16)[0]
    patches = patchify(img, 4)
    fig = plots.plot_patches(patches, 4)
    axes = image_axes(fig)
    assert len(axes) == 16
    for k, ax in enumerate(axes):
        expected = patches[k].reshape(4, 4, 3) / 255.0
        np.testing.assert_allclose(ax.images[0].get_array(), expected, rtol=1e-6)
    # Tiles are laid out as the image: tile (r, c) holds pixels [4r:4r+4, 4c:4c+4].
    np.testing.assert_allclose(axes[6].images[0].get_array(), img[4:8, 8:12] / 255.0, rtol=1e-6)
    # Tiles are separate axes with gaps between them, in row-major order.
    pos = [ax.get_position() for ax in axes]
    assert pos[1].x0 > pos[0].x1 and pos[4].y1 < pos[0].y0
    # A batch axis of 1 and single-channel patches are handled.
    assert len(image_axes(plots.plot_patches(patches[None], 4))) == 16
    gray = uint8_images(1, size=16, channels=1)[0]
    gfig = plots.plot_patches(patchify(gray, 4), 4, channels=1)
    np.testing.assert_allclose(
        image_axes(gfig)[0].images[0].get_array(), gray[:4, :4, 0] / 255.0, rtol=1e-6
    )
    render(fig)


def test_plot_patches_float_share_one_scale_and_errors():
    rng = np.random.default_rng(2)
    patches = rng.normal(size=(9, 2 * 2 * 3))
    fig = plots.plot_patches(patches, 2)
    scaled = (patches - patches.min()) / (patches.max() - patches.min())
    for k, ax in enumerate(fig.axes):
        np.testing.assert_allclose(ax.images[0].get_array(), scaled[k].reshape(2, 2, 3), atol=1e-6)
    with pytest.raises(ValueError, match="perfect square"):
        plots.plot_patches(patches[:8], 2)
    with pytest.raises(ValueError, match="patches must have shape"):
        plots.plot_patches(patches, 3)


# ------------------------------------------------------------------- chapter 3
def test_plot_shifted_views():
    views = uint8_images(5, size=12)
    fig = plots.plot_shifted_views(list(views), patch_size=4)
    axes = image_axes(fig)
    assert [ax.get_title() for ax in axes] == ["original", "left-up", "left-down", "right-up",
                                               "right-down"]
    assert all(len(ax.lines) == 2 * 2 for ax in axes)
    np.testing.assert_allclose(axes[2].images[0].get_array(), views[2] / 255.0, rtol=1e-6)
    # The channel-concatenated tensor of shifted patch tokenization is split into views.
    stacked = np.concatenate(list(views), axis=-1)
    axes = image_axes(plots.plot_shifted_views(stacked))
    assert len(axes) == 5 and all(not ax.lines for ax in axes)
    np.testing.assert_allclose(axes[4].images[0].get_array(), views[4] / 255.0, rtol=1e-6)
    # Float views share one scale: zero padding maps to the same grey everywhere.
    floats = views.astype(np.float64) - 100.0
    axes = image_axes(plots.plot_shifted_views(floats, names=list("abcde")))
    lo, hi = floats.min(), floats.max()
    np.testing.assert_allclose(
        axes[1].images[0].get_array(), (floats[1] - lo) / (hi - lo), atol=1e-6
    )
    with pytest.raises(ValueError, match="names"):
        plots.plot_shifted_views(views[:3])
    # Five views: two rows of three at most, phone-sized, on 72x72 images too.
    fig = plots.plot_shifted_views(list(uint8_images(5, size=72)), patch_size=6)
    assert columns(image_axes(fig)) == 3
    assert_legible_on_a_phone(fig)


# ------------------------------------------------------------------- chapter 4
def test_plot_attention_matrices():
    rng = np.random.default_rng(3)
    a = rng.random((6, 6))
    b = rng.random((6, 6)) * 2
    fig = plots.plot_attention_matrices([a, b], ["plain", "lsa"])
    axes = image_axes(fig)
    assert len(axes) == 2
    assert len(fig.axes) == 3  # two heatmaps and one shared colour bar
    assert [ax.get_title() for ax in axes] == ["plain", "lsa"]
    assert all(ax.get_xlabel() == "key token" and ax.get_ylabel() == "query token" for ax in axes)
    np.testing.assert_allclose(axes[0].images[0].get_array(), a)
    np.testing.assert_allclose(axes[1].images[0].get_array(), b)
    clims = {ax.images[0].get_clim() for ax in axes}
    assert clims == {(min(a.min(), b.min()), max(a.max(), b.max()))}
    assert len(image_axes(plots.plot_attention_matrices(np.stack([a, b, a]), list("xyz")))) == 3
    # Per panel: each its own colour bar and range, so a near-uniform panel beside an
    # outlier still shows its (masked) diagonal.
    c = np.full((6, 6), 0.2) - 0.2 * np.eye(6)
    c[0, 1] = 0.9
    d = np.full((6, 6), 1 / 6) + 0.01 * rng.random((6, 6))
    np.fill_diagonal(d, 0.0)
    per = plots.plot_attention_matrices([c, d], ["outlier", "uniform"], scale="per_panel",
                                        mark_diagonal=True)
    axes = image_axes(per)
    assert len(per.axes) == 4  # two heatmaps, two colour bars
    assert axes[1].images[0].get_clim() == (d.min(), d.max())
    assert axes[0].images[0].get_clim() == (c.min(), c.max())
    marks = axes[1].lines[0].get_xydata()
    np.testing.assert_array_equal(marks, np.stack([np.arange(6), np.arange(6)], axis=1))
    # Three panels, two a row: phone-sized, no empty fourth axes, no text under 10 pt.
    from vitsd.book.display import smallest_font_points

    three = plots.plot_attention_matrices([c, d, c], list("xyz"), scale="per_panel", ncols=2)
    assert len(image_axes(three)) == 3 and len(three.axes) == 6
    assert three.get_figwidth() <= 5.2
    three.draw_without_rendering()
    assert smallest_font_points(three) >= 10
    with pytest.raises(ValueError, match="ncols"):
        plots.plot_attention_matrices([a], ncols=0)
    with pytest.raises(ValueError, match="scale"):
        plots.plot_attention_matrices([a], scale="log")
    render(per)
    with pytest.raises(ValueError, match="titles"):
        plots.plot_attention_matrices([a, b], ["one"])
    with pytest.raises(ValueError, match="matrices"):
        plots.plot_attention_matrices([np.zeros(3)], ["x"])
    render(fig)


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_plot_softmax_temperature_bars():
    logits = np.array([2.0, 1.0, 0.1, -1.0])
    temps = [0.5, 1.0, 4.0]
    fig = plots.plot_softmax_temperature(logits, temps)
    (ax,) = fig.axes
    assert len(ax.containers) == 3
    for container, t in zip(ax.containers, temps):
        heights = [bar.get_height() for bar in container]
        np.testing.assert_allclose(heights, softmax(logits / t))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["T = 0.5", "T = 1", "T = 4"]
    (tau,) = plots.plot_softmax_temperature(logits, temps, symbol="τ").axes
    assert tau.get_title() == "softmax(logits / τ)"
    assert [t.get_text() for t in tau.get_legend().get_texts()] == ["τ = 0.5", "τ = 1", "τ = 4"]
    # Lower temperature is sharper.
    assert ax.containers[0][0].get_height() > ax.containers[2][0].get_height()


def test_plot_softmax_temperature_lines_and_errors():
    logits = np.linspace(-2, 2, 20)
    (ax,) = plots.plot_softmax_temperature(logits, [1.0, 2.0]).axes
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[1].get_ydata(), softmax(logits / 2.0))
    for bad in ([0.0], [-1.0], []):
        with pytest.raises(ValueError, match="temperatures"):
            plots.plot_softmax_temperature(logits, bad)


# ------------------------------------------------------------------- chapter 7
def test_plot_attention_overlay():
    images = uint8_images(3, size=12)
    maps = np.random.default_rng(4).random((3, 3, 3))
    titles = ["✓ true: cat / pred: cat", "✗ true: cat / pred: dog", "no mark"]
    fig = plots.plot_attention_overlay(images, maps, titles=titles, ncols=2)
    axes = image_axes(fig)
    assert len(axes) == len(fig.axes) == 3
    for ax, img, m in zip(axes, images, maps):
        assert len(ax.images) == 2
        np.testing.assert_allclose(ax.images[0].get_array(), img / 255.0, rtol=1e-6)
        overlay = np.asarray(ax.images[1].get_array())
        assert overlay.shape == (12, 12)
        up = plots.upsample_map(m, 12, 12)
        np.testing.assert_allclose(overlay, (up - up.min()) / (up.max() - up.min()))
        assert 0 < ax.images[1].get_alpha() < 1
        # The brightest overlay pixel lies in the patch of the largest map value.
        r, c = np.unravel_index(overlay.argmax(), overlay.shape)
        assert (r // 4, c // 4) == np.unravel_index(m.argmax(), m.shape)
    assert [ax.get_title() for ax in axes] == titles
    colors = [to_hex(ax.title.get_color()) for ax in axes]
    assert colors[0] == _GREEN and colors[1] == _RED
    assert colors[2] not in (_GREEN, _RED)
    # Flat (B, N) maps straight from attention_rollout are accepted.
    flat = plots.plot_attention_overlay(images, maps.reshape(3, 9))
    np.testing.assert_allclose(
        image_axes(flat)[1].images[1].get_array(), axes[1].images[1].get_array()
    )
    with pytest.raises(ValueError, match="maps"):
        plots.plot_attention_overlay(images, maps[:2])
    with pytest.raises(ValueError, match="titles"):
        plots.plot_attention_overlay(images, maps, titles=["a"])
    render(fig)


# ------------------------------------------------------------------- chapter 6
def make_record(seed, epochs=5, keys=("loss", "val_loss", "accuracy", "val_accuracy",
                                      "top5", "val_top5")):
    rng = np.random.default_rng(seed)
    return {"model": "vit", "history": {k: list(rng.random(epochs)) for k in keys}}


def test_plot_history_single_record_exact_values():
    rec = make_record(0)
    fig = plots.plot_history(rec)
    assert len(fig.axes) == 3
    for ax, metric in zip(fig.axes, ("loss", "accuracy", "top5")):
        assert ax.get_xlabel() == "epoch"
        train, val = ax.lines
        np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4, 5])
        np.testing.assert_array_equal(train.get_ydata(), rec["history"][metric])
        np.testing.assert_array_equal(val.get_ydata(), rec["history"][f"val_{metric}"])
        assert train.get_linestyle() == "-" and val.get_linestyle() == "--"
        assert train.get_color() == val.get_color()
        assert ax.get_legend() is not None
    assert "top-5" in fig.axes[2].get_ylabel()
    assert fig.get_size_inches()[0] <= 5.5  # a phone's column: panels one under another
    render(fig)


def test_plot_history_compares_runs_and_skips_missing_keys():
    runs = {
        "vit": make_record(1),
        "sl-vit": make_record(2, epochs=4, keys=("loss", "val_loss", "accuracy")),
    }
    fig = plots.plot_history(runs, metrics=("loss", "accuracy", "top5", "learning_rate"))
    assert len(fig.axes) == 3  # learning_rate recorded by no run: no subplot
    loss_ax, acc_ax, top5_ax = fig.axes
    assert len(loss_ax.lines) == 4 and len(acc_ax.lines) == 3 and len(top5_ax.lines) == 2
    labels = [line.get_label() for line in acc_ax.lines]
    assert labels == ["vit (train)", "vit (validation)", "sl-vit (train)"]
    np.testing.assert_array_equal(
        acc_ax.lines[2].get_ydata(), runs["sl-vit"]["history"]["accuracy"]
    )
    np.testing.assert_array_equal(acc_ax.lines[2].get_xdata(), [1, 2, 3, 4])
    assert loss_ax.lines[0].get_color() != loss_ax.lines[2].get_color()
    assert loss_ax.lines[2].get_color() == loss_ax.lines[3].get_color()
    # one figure legend: a colour per run, then the two line styles
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "vit", "sl-vit", "training (augmented)", "validation"]
    assert all(ax.get_legend() is None for ax in fig.axes)
    assert min(t.get_fontsize() for t in legend.get_texts()) >= 10
    with pytest.raises(ValueError, match="available keys"):
        plots.plot_history(runs, metrics=("nope",))
    with pytest.raises(ValueError, match="records"):
        plots.plot_history({"vit": {"no": "history"}})


def test_plot_learning_rate_plain_and_numpy_callables():
    total = 1000
    fig = plots.plot_learning_rate(lambda step: 1e-3 * step / total, total, num_points=11)
    (ax,) = fig.axes
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), np.arange(0, 1001, 100))
    np.testing.assert_allclose(line.get_ydata(), 1e-3 * np.arange(0, 1001, 100) / total)
    assert ax.get_xlabel() == "training step"
    fig = plots.plot_learning_rate(lambda s: np.float32(0.5) * np.ones(()), 50, title="const")
    assert fig.axes[0].get_title() == "const"
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), 0.5)
    with pytest.raises(ValueError, match="total_steps"):
        plots.plot_learning_rate(lambda s: 0.1, 0)
    with pytest.raises(ValueError, match="schedule"):
        plots.plot_learning_rate(0.1, 10)


def test_plot_learning_rate_marks_the_recorded_rates_at_the_end_of_each_epoch():
    fig = plots.plot_learning_rate(lambda step: 1e-3 * step / 30, 30, num_points=31,
                                   recorded=[1e-4, 2e-4, 3e-4], steps_per_epoch=10)
    (ax,) = fig.axes
    curve, dots = ax.lines
    np.testing.assert_array_equal(dots.get_xdata(), [9, 19, 29])
    np.testing.assert_allclose(dots.get_ydata(), [1e-4, 2e-4, 3e-4])
    # where a run followed the schedule, the dots sit on the curve
    np.testing.assert_allclose(np.interp(dots.get_xdata(), curve.get_xdata(),
                                         curve.get_ydata()), [9e-4 / 3, 19e-4 / 3, 29e-4 / 3])
    with pytest.raises(ValueError, match="steps_per_epoch"):
        plots.plot_learning_rate(lambda s: 0.1, 10, recorded=[0.1])


def test_plot_rollout_comparison_rows_of_photo_and_one_overlay_per_model():
    images = uint8_images(2, size=12)
    maps = {"vit": np.random.default_rng(1).random((2, 3, 3)),
            "sl-vit": np.random.default_rng(2).random((2, 3, 3))}
    captions = {"vit": ["✓ vit\ncat", "✗ vit\ndog"], "sl-vit": ["✗ sl-vit\nfrog", "✓ sl-vit\ncat"]}
    fig = plots.plot_rollout_comparison(images, maps, captions, row_titles=["cat", "cat"])
    axes = np.array(fig.axes).reshape(2, 3)
    assert fig.get_size_inches()[0] <= 5.5
    for r in range(2):
        assert len(axes[r, 0].images) == 1 and axes[r, 0].get_title() == "cat"
        for c, model in enumerate(maps, 1):
            overlay = np.asarray(axes[r, c].images[1].get_array())
            up = plots.upsample_map(maps[model][r], 12, 12)
            np.testing.assert_allclose(overlay, (up - up.min()) / (up.max() - up.min()))
            assert axes[r, c].get_title() == captions[model][r]
            assert axes[r, c].title.get_fontsize() >= 10
    assert to_hex(axes[0, 1].title.get_color()) == _GREEN
    assert to_hex(axes[0, 2].title.get_color()) == _RED
    with pytest.raises(ValueError, match="same models"):
        plots.plot_rollout_comparison(images, maps, {"vit": captions["vit"]})
    with pytest.raises(ValueError, match="one map and one caption"):
        plots.plot_rollout_comparison(images, {"vit": maps["vit"][:1]}, {"vit": ["a"]})
    render(fig)


def test_plot_learning_rate_keras_schedule():
    keras = pytest.importorskip("keras")
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=90, warmup_target=1e-3, warmup_steps=10
    )
    fig = plots.plot_learning_rate(schedule, 100, num_points=21)
    line = fig.axes[0].lines[0]
    steps = line.get_xdata()
    expected = [float(keras.ops.convert_to_numpy(schedule(int(s)))) for s in steps]
    np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-6)
    assert max(line.get_ydata()) == pytest.approx(1e-3, rel=1e-5)


def test_plot_time_to_accuracy_uses_cumulative_minutes():
    from vitsd.book.plots import plot_time_to_accuracy

    records = {
        "fast": {"history": {"epoch_seconds": [60, 60, 60], "val_accuracy": [0.1, 0.2, 0.3]}},
        "slow": {"history": {"epoch_seconds": [120, 120], "val_accuracy": [0.15, 0.25]}},
        "no-times": {"history": {"val_accuracy": [0.5]}},
    }
    fig = plot_time_to_accuracy(records)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(lines[1].get_xdata(), [2, 4])
    np.testing.assert_allclose(lines[1].get_ydata(), [0.15, 0.25])
    with pytest.raises(ValueError, match="epoch_seconds"):
        plot_time_to_accuracy({"x": {"history": {}}})


# ------------------------------------------------------- dataset size, confusion
def _size_record(model, train, top1):
    return {"model": model, "splits": {"train": train}, "test": {"top1": top1}}


def test_confusion_matrix_counts_like_a_loop():
    rng = np.random.default_rng(0)
    actual, predicted = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    expected = np.zeros((4, 4), int)
    for a, p in zip(actual, predicted):
        expected[a, p] += 1
    np.testing.assert_array_equal(plots.confusion_matrix(actual, predicted, 4), expected)
    fig = plots.plot_confusion_matrix(actual, predicted, list("abcd"))
    image = fig.axes[0].get_images()[0].get_array()
    np.testing.assert_allclose(image, expected / expected.sum(1, keepdims=True))
    with pytest.raises(ValueError, match=r"predicted labels must be in \[0, 4\)"):
        plots.confusion_matrix([0, 1], [0, 7], 4)


# ------------------------------------------------------------------- chapter 8
def test_plot_augmented_batches_follows_each_image_down_its_column():
    originals = uint8_images(4)
    passes = [uint8_images(4, seed=1), uint8_images(4, seed=2)]
    captions = [["a", "b", "c", "d"], None]
    fig = plots.plot_augmented_batches(originals, passes, captions, title="aug")
    axes = image_axes(fig)
    assert len(axes) == 12  # 3 rows of 4
    np.testing.assert_allclose(axes[0].images[0].get_array(), originals[0] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(axes[5].images[0].get_array(), passes[0][1] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(axes[11].images[0].get_array(), passes[1][3] / 255.0, rtol=1e-6)
    assert [ax.get_title() for ax in axes[4:8]] == ["a", "b", "c", "d"]
    assert [ax.get_title() for ax in axes[8:]] == ["", "", "", ""]
    assert [axes[k].get_ylabel() for k in (0, 4, 8)] == ["original", "pass 1", "pass 2"]
    assert fig._suptitle.get_text() == "aug"
    render(fig)
    assert_legible_on_a_phone(fig)
    # Eight images: two blocks of four columns, each with all three rows; image j keeps
    # its column down the rows of its block.
    eight, passes8 = uint8_images(8), [uint8_images(8, seed=1), uint8_images(8, seed=2)]
    fig = plots.plot_augmented_batches(eight, passes8, [list("abcdefgh"), None])
    axes = image_axes(fig)
    assert len(axes) == 24 and columns(axes) == 4
    np.testing.assert_allclose(axes[12].images[0].get_array(), eight[4] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(axes[17].images[0].get_array(), passes8[0][5] / 255.0,
                               rtol=1e-6)
    assert [ax.get_title() for ax in axes[16:20]] == list("efgh")
    assert [axes[k].get_ylabel() for k in (12, 16, 20)] == ["original", "pass 1", "pass 2"]
    assert_legible_on_a_phone(fig)
    named = plots.plot_augmented_batches(originals, passes[:1], row_titles=["in", "out"])
    assert [image_axes(named)[k].get_ylabel() for k in (0, 4)] == ["in", "out"]
    with pytest.raises(ValueError, match="one image per original"):
        plots.plot_augmented_batches(originals, [originals[:3]])
    with pytest.raises(ValueError, match="one caption per image"):
        plots.plot_augmented_batches(originals, passes, [["a"], None])
    with pytest.raises(ValueError, match="one row per batch"):
        plots.plot_augmented_batches(originals, passes, [["a"] * 4])
    with pytest.raises(ValueError, match="one title per row"):
        plots.plot_augmented_batches(originals, passes, row_titles=["x"])


def test_plot_attention_profiles_lines_are_the_seed_means_and_bands_the_ranges():
    spreads = {
        "vit": {"entropy": {"mean": [3.7, 3.4], "low": [3.6, 3.3], "high": [3.8, 3.5],
                            "seeds": 3},
                "distance": {"mean": [3.7, 3.9], "low": [3.6, 3.8], "high": [3.8, 4.0],
                             "seeds": 3}},
        "lsa": {"entropy": {"mean": [3.6, 3.2], "low": [3.5, 3.1], "high": [3.7, 3.3],
                            "seeds": 2},
                "distance": {"mean": [3.8, 4.0], "low": [3.7, 3.9], "high": [3.9, 4.1],
                             "seeds": 2}},
    }
    fig = plots.plot_attention_profiles(spreads, reference={"entropy": 4.16})
    top, bottom = fig.axes
    vit, lsa, uniform = top.lines
    np.testing.assert_array_equal(vit.get_xdata(), [0, 1])
    np.testing.assert_allclose(vit.get_ydata(), [3.7, 3.4])
    np.testing.assert_allclose(lsa.get_ydata(), [3.6, 3.2])
    np.testing.assert_allclose(uniform.get_ydata(), [4.16, 4.16])
    assert [line.get_label() for line in top.lines] == ["vit (3 seeds)", "lsa (2 seeds)",
                                                        "uniform attention"]
    np.testing.assert_allclose(bottom.lines[1].get_ydata(), [3.8, 4.0])
    assert len(bottom.lines) == 2  # no reference for the distance
    # the band of vit's distance spans its lowest to highest seed
    band = bottom.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(3.6) and band[:, 1].max() == pytest.approx(4.0)
    assert_legible_on_a_phone(fig)
    with pytest.raises(ValueError, match="empty"):
        plots.plot_attention_profiles({})
    with pytest.raises(ValueError, match="'distance'"):
        plots.plot_attention_profiles({"vit": {"entropy": spreads["vit"]["entropy"]}})
    render(fig)
