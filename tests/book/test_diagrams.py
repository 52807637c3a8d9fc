"""Tests for vitsd.book.diagrams: every diagram returns a Figure whose artists carry the
numbers it claims, computed by the package's own code."""

import io
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot as plt  # noqa: E402  (only to check nothing is registered)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from vitsd.book import diagrams  # noqa: E402
from vitsd.config import Config  # noqa: E402
from vitsd.layers.spt import SHIFTS, shift_images  # noqa: E402
from vitsd.training.recipes import recipe


@pytest.fixture(autouse=True)
def no_global_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def render(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=30)
    assert buf.getvalue()[:4] == b"\x89PNG"


def panels(fig):
    """Axes that are not colour bars."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def rectangles(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def brute_force_field(patch_size, token=(2, 2), grid=5):
    """Pixels of the original image that token ``token`` holds after SPT, found by
    running ``shift_images`` on an image whose pixel values are their own indices."""
    size = grid * patch_size
    index = np.arange(1, size * size + 1, dtype=np.float32).reshape(1, size, size, 1)
    views = [index] + [
        np.asarray(shift_images(index, patch_size // 2, name)) for name in SHIFTS
    ]
    r, c = token
    window = np.concatenate(views, axis=-1)[
        0, r * patch_size:(r + 1) * patch_size, c * patch_size:(c + 1) * patch_size
    ]
    ids = np.unique(window[window > 0]).astype(np.int64) - 1  # 0 is padding
    return {(int(i) // size, int(i) % size) for i in ids}


# ------------------------------------------------------------- receptive field
@pytest.mark.parametrize("patch_size", [2, 3, 4, 5, 6, 8])
def test_receptive_field_equals_brute_force_count(patch_size):
    covered = brute_force_field(patch_size)
    field = diagrams.receptive_field(patch_size)
    assert int((field > 0).sum()) == len(covered)
    # Not only the count: the same pixels, placed around the token's patch.
    s = patch_size // 2
    top = 2 * patch_size - s
    derived = {(top + y, top + x) for y, x in zip(*np.nonzero(field))}
    assert derived == covered
    # (P + 2 * (P // 2))**2, and P * P without the shifts.
    assert len(covered) == (patch_size + 2 * s) ** 2
    assert int((diagrams.receptive_field(patch_size, shifted=False) > 0).sum()) == patch_size**2


@pytest.mark.parametrize("patch_size", [2, 3, 4])
def test_shift_offsets_are_where_each_copy_looks(patch_size):
    """View k's window of a token holds the original's window moved by offset k."""
    size, (r, c) = 5 * patch_size, (2, 2)
    index = np.arange(size * size, dtype=np.float32).reshape(1, size, size, 1)
    views = [index] + [
        np.asarray(shift_images(index, patch_size // 2, name)) for name in SHIFTS
    ]
    top, left = r * patch_size, c * patch_size
    for view, (dy, dx) in zip(views, diagrams.shift_offsets(patch_size)):
        np.testing.assert_array_equal(
            view[0, top:top + patch_size, left:left + patch_size, 0],
            index[0, top + dy:top + dy + patch_size, left + dx:left + dx + patch_size, 0],
        )
    assert diagrams.shift_offsets(4) == [(0, 0), (2, 2), (-2, 2), (2, -2), (-2, -2)]


def test_receptive_field_diagram():
    fig = diagrams.receptive_field_diagram(4)
    assert isinstance(fig, Figure)
    plain, shifted = panels(fig)
    assert len(fig.axes) == 2
    covered = len(brute_force_field(4))
    assert (np.asarray(plain.images[0].get_array()) > 0).sum() == 16
    assert (np.asarray(shifted.images[0].get_array()) > 0).sum() == covered == 64
    assert "16 pixels" in plain.get_title() and f"{covered} pixels" in shifted.get_title()
    assert len(rectangles(plain)) == 1 and len(rectangles(shifted)) == 5
    # The windows lie where shift_offsets says, around the patch at (margin + s, ...).
    x, y = rectangles(shifted)[1].get_xy()
    assert (x, y) == (1 + 2 - 0.5 + 2, 1 + 2 - 0.5 + 2)
    render(fig)
    assert_phone_sized(fig)
    assert_phone_sized(diagrams.receptive_field_diagram(6))
    odd = diagrams.receptive_field_diagram(3)
    assert "5×5 = 25 pixels" in panels(odd)[1].get_title()
    with pytest.raises(ValueError, match="patch_size"):
        diagrams.receptive_field_diagram(1)


# ---------------------------------------------------------------------- SPT


# ---------------------------------------------------------------------- LSA
def entropy(p):
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def test_lsa_numbers():
    nums = diagrams.lsa_numbers(num_tokens=6, tau=0.5, key_dim=9, query=2, seed=3)
    np.testing.assert_array_equal(nums.allowed, ~np.eye(6, dtype=bool))
    assert nums.taus == (3.0, 0.5)
    off = ~np.eye(6, dtype=bool)
    np.testing.assert_allclose(nums.scaled[off], nums.scores[off] / 0.5)
    assert np.all(np.isneginf(np.diag(nums.scaled)))
    np.testing.assert_allclose(nums.rows.sum(axis=1), 1.0)
    assert np.all(nums.rows[:, 2] == 0)  # a token never attends to itself
    assert entropy(nums.rows[1]) < entropy(nums.rows[0])
    with pytest.raises(ValueError, match="tau"):
        diagrams.lsa_numbers(tau=0)
    with pytest.raises(ValueError, match="query"):
        diagrams.lsa_numbers(num_tokens=4, query=4)


def test_lsa_diagram():
    fig = diagrams.lsa_diagram(num_tokens=8, tau=1.0, key_dim=16, query=0, seed=0)
    assert isinstance(fig, Figure)
    left, middle, right = panels(fig)
    assert len(fig.axes) == 5  # three panels and two colour bars
    nums = diagrams.lsa_numbers(8, 1.0, 16, 0, 0)
    np.testing.assert_allclose(left.images[0].get_array(), nums.scores)
    shown = middle.images[0].get_array()
    # The masked cells are exactly the diagonal, and hatched; the rest is scores / tau.
    np.testing.assert_array_equal(np.ma.getmaskarray(shown), np.eye(8, dtype=bool))
    np.testing.assert_allclose(shown.compressed(), nums.scores[~np.eye(8, dtype=bool)] / 1.0)
    hatched = [p for p in rectangles(middle) if p.get_hatch()]
    assert sorted(p.get_xy() for p in hatched) == [(i - 0.5, i - 0.5) for i in range(8)]
    assert "τ = 1" in middle.get_title()
    # The softmax rows: bars of each temperature sum to 1; the lower tau is sharper.
    bars = [c for c in right.containers]
    assert len(bars) == 2
    heights = [np.array([b.get_height() for b in c]) for c in bars]
    for h, row in zip(heights, nums.rows):
        assert h.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(h, row)
        assert h[0] == 0.0
    assert entropy(heights[1]) < entropy(heights[0])
    labels = [t.get_text() for t in right.get_legend().get_texts()]
    assert f"entropy {entropy(heights[0]):.2f}" in labels[0]
    assert labels[0].startswith("τ = 4 (initial") and labels[1].startswith("τ = 1 (set lower")
    assert "T = √d_k" in labels[0]  # T: ordinary attention's constant
    assert_phone_sized(fig)
    render(fig)


def assert_phone_sized(fig):
    """At most 540 px wide as the book saves it (dpi 100, tight box) with no text under
    10 points: 10 pt stays above 9 CSS px in the 359 px column of a 390 px phone."""
    from PIL import Image

    from vitsd.book.display import figure_png, smallest_font_points

    width = Image.open(io.BytesIO(figure_png(fig))).width
    assert width <= 540 and smallest_font_points(fig) >= 10, (width, smallest_font_points(fig))


# ------------------------------------------------------------------ the model
TINY = dict(input_shape=(16, 16, 3), image_size=16, patch_size=4, projection_dim=16,
            num_layers=1, num_heads=2, key_dim=8, mlp_units=(32, 16), num_classes=10,
            attention_dropout=0.0, mlp_dropout=0.0, head_dropout=0.0)


def model_shapes(model, config, tokenizer):
    """The output shape of every stage, read off a model built by build_vit."""

    def out(name):
        return tuple(model.get_layer(name).output.shape[1:])

    tok = model.get_layer("tokenizer")
    size = config.image_size
    shapes = {"image": tuple(model.input.shape[1:]), "preprocess": out("preprocessing")}
    if config.augment == "reference":
        shapes["augment"] = out("augmentation")
    zeros = np.zeros((1, size, size, config.channels), "float32")
    shapes["patches"] = tuple(np.asarray(tok.flat_patches(zeros)).shape[1:])
    shapes["projection"] = out("tokenizer")
    if config.pooling == "class_token":
        shapes["class_token"] = out("class_token")
    shapes["position"] = out("position")
    shapes["blocks"] = out(f"block_{config.num_layers - 1}")
    shapes["final_norm"] = out("final_norm")
    shapes["pooling"] = out({"mean": "mean_pool"}.get(config.pooling, "flatten"))
    if config.head_units:
        shapes["head"] = out(f"head_dense_{len(config.head_units) - 1}")
    shapes["logits"] = tuple(model.output.shape[1:])
    return shapes


@pytest.mark.parametrize(
    "overrides, tokenizer, lsa",
    [
        (dict(pooling="mean", head_units=(), augment="none"), "patches", False),
        (dict(input_shape=(12, 12, 3), image_size=24, patch_size=6, pooling="class_token",
              head_units=(24,), augment="reference"), "spt", True),
        (dict(pooling="flatten", head_units=(32, 24), augment="crop"), "patches", True),
    ],
)
def test_pipeline_shapes_equal_those_of_the_built_model(overrides, tokenizer, lsa):
    from vitsd.models import build_vit

    config = Config(**{**TINY, **overrides})
    stages = diagrams.pipeline_stages(config, tokenizer, lsa)
    model = build_vit(config, lsa=lsa, tokenizer=tokenizer)
    assert {s.key: s.shape for s in stages} == model_shapes(model, config, tokenizer)
    fig = diagrams.vit_pipeline_diagram(config, tokenizer, lsa)
    thumb, flow = fig.axes
    shown = {t.get_gid()[len("shape:"):]: t.get_text() for t in flow.texts
             if (t.get_gid() or "").startswith("shape:")}
    assert shown == {s.key: "×".join(map(str, s.shape)) for s in stages}
    labels = {t.get_gid(): t.get_text() for t in flow.texts if t.get_gid()}
    assert ("LSA" if lsa else "MHA") in labels["label:blocks"]
    grid = config.grid_size
    assert len(thumb.lines) == 2 * (grid - 1)  # the patch grid over the image


def test_pipeline_diagram_default_is_the_cpu_recipe():
    fig = diagrams.vit_pipeline_diagram()
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    texts = {t.get_gid(): t.get_text() for t in fig.axes[1].texts if t.get_gid()}
    cpu = recipe("cpu")
    assert texts["shape:image"] == "32×32×3"
    assert texts["shape:patches"] == "64×48"  # 64 patches of 4x4x3
    assert texts["shape:blocks"] == "64×64"
    assert texts["shape:pooling"] == "64"  # mean pooling
    assert texts["shape:logits"] == str(cpu.num_classes)
    assert texts["label:patches"] == "8×8 = 64 patches of 4×4×3 = 48 values"
    assert texts["label:blocks"].startswith(f"{cpu.num_layers} × transformer block")
    assert_phone_sized(fig)
    assert_phone_sized(diagrams.vit_pipeline_diagram(Config(), "spt", True))
    render(fig)
    spt = {t.get_gid(): t.get_text()
           for t in diagrams.vit_pipeline_diagram(tokenizer="spt", lsa=True).axes[1].texts
           if t.get_gid()}
    assert spt["shape:patches"] == "64×240"  # 4x4x15: the image and its four shifts
    with pytest.raises(ValueError, match="tokenizer"):
        diagrams.pipeline_stages(cpu, tokenizer="conv")


# ----------------------------------------------------- chapter 3: numbered shifts
def shifted_by_hand(size, s, direction):
    """The index image moved by ``s`` pixels with NumPy slicing; -1 where nothing
    arrives (the padding)."""
    index = np.arange(size * size).reshape(size, size)
    out = np.full((size, size), -1)
    dy = {"up": -1, "down": 1}[direction.split("-")[1]] * s
    dx = {"left": -1, "right": 1}[direction.split("-")[0]] * s
    for i in range(size):
        for j in range(size):
            if 0 <= i - dy < size and 0 <= j - dx < size:
                out[i, j] = index[i - dy, j - dx]
    return out


def test_numbered_shifts_move_each_pixel_by_the_shift():
    views = diagrams.numbered_shifts(8, 2)
    assert list(views) == ["original", *SHIFTS]
    np.testing.assert_array_equal(views["original"], np.arange(64).reshape(8, 8))
    for name in SHIFTS:
        np.testing.assert_array_equal(views[name], shifted_by_hand(8, 2, name))
    # by hand: left-up shows at the top-left corner the pixel 2 rows down, 2 right
    assert views["left-up"][0, 0] == 18 and views["right-down"][2, 2] == 0
    assert views["right-down"][0, 0] == -1
    with pytest.raises(ValueError, match="shift"):
        diagrams.numbered_shifts(8, 8)


def test_shift_grid_diagram_shows_every_pixel_number_of_every_view():
    fig = diagrams.shift_grid_diagram()  # 8x8, 4-pixel patches, shifts of 2
    views = diagrams.numbered_shifts(8, 2)
    grids = [ax for ax in fig.axes if ax.images]
    assert len(grids) == 5
    for ax, (name, view) in zip(grids, views.items()):
        assert ax.get_title().startswith(name)
        shown = {t.get_gid(): t.get_text() for t in ax.texts}
        expected = {f"pixel:{i},{j}": str(v) for (i, j), v in np.ndenumerate(view) if v >= 0}
        assert shown == expected  # padding cells carry no number
        (square,) = [p for p in rectangles(ax) if not p.get_fill()]
        assert square.get_xy() == (-0.5, -0.5) and square.get_width() == 4
    assert_phone_sized(fig)
    other = diagrams.shift_grid_diagram(token=(1, 0))
    (square,) = [p for p in rectangles(other.axes[0]) if not p.get_fill()]
    assert square.get_xy() == (-0.5, 3.5)
    with pytest.raises(ValueError, match="divisible by patch_size"):
        diagrams.shift_grid_diagram(image_size=8, patch_size=3)
    with pytest.raises(ValueError, match="token"):
        diagrams.shift_grid_diagram(token=(2, 0))
    with pytest.raises(ValueError, match="image_size must be at most 10"):
        diagrams.shift_grid_diagram(image_size=12)
    render(fig)


# ------------------------------------------------------- chapter 0: the book's map
def test_book_map_diagram_names_each_step_its_chapter_and_the_trained_model():
    fig = diagrams.book_map_diagram()
    (ax,) = fig.axes
    steps = {t.get_gid()[len("step:"):]: t.get_text() for t in ax.texts
             if (t.get_gid() or "").startswith("step:")}
    chapters = {t.get_gid()[len("chapter:"):]: t.get_text() for t in ax.texts
                if (t.get_gid() or "").startswith("chapter:")}
    assert list(steps) == ["image", "patches", "spt", "tokens", "attention", "lsa", "head"]
    # where the book teaches each part (the chapter files of book/)
    assert chapters == {"image": "ch. 1", "patches": "ch. 2", "spt": "ch. 3",
                        "tokens": "ch. 2", "attention": "ch. 4, 5", "lsa": "ch. 4",
                        "head": "ch. 5"}
    # the numbers of recipe("cpu") on CIFAR-100, by hand: 32 / 4 = 8 patches a side
    assert steps["image"] == "image, 32×32×3"
    assert steps["patches"] == "patches: 8×8 = 64\nof 4×4 pixels"
    assert "shifted by 2" in steps["spt"]
    assert steps["tokens"].startswith("64 tokens of 64 values")
    assert steps["attention"].startswith("4 blocks") and "LSA" in steps["lsa"]
    assert steps["head"].endswith("100 class scores")
    dashed = [p for p in ax.patches if p.get_linestyle() == "--"]
    assert len(dashed) == 2  # SPT and LSA, the paper's two changes
    assert_phone_sized(fig)
    other = diagrams.book_map_diagram(Config())  # the reference: 72x72, 6-pixel patches
    texts = [t.get_text() for t in other.axes[0].texts]
    assert "patches: 12×12 = 144\nof 6×6 pixels" in texts
    render(fig)
