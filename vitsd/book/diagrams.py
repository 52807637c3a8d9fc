"""Explanatory diagrams, drawn from the package's own code and numbers.

Chapter 2 "Patches": :func:`vit_pipeline_diagram` (the road map from an image to its
logits) and :func:`receptive_field_diagram` (what one token sees).
Chapter 3 "Shifted Patch Tokenization": :func:`shift_grid_diagram`,
:func:`receptive_field_diagram`.
Chapter 4 "Locality Self-Attention": :func:`lsa_diagram`.
Chapter 5 "The model": :func:`vit_pipeline_diagram` with the shapes of a
:class:`~vitsd.config.Config`.

Like :mod:`vitsd.book.plots`, every function returns a :class:`matplotlib.figure.Figure`
built without ``pyplot``; a notebook displays it, a script calls ``fig.savefig(path)``.
Each docstring is written to serve as the figure's caption. Nothing is drawn by hand
that the code can compute: the shifted copies come from
:func:`vitsd.layers.spt.shift_images`, the patches from
:func:`vitsd.layers.patches.extract_patches`,
the mask from :func:`vitsd.layers.lsa.diagonal_mask`, the pixel counts from
:func:`receptive_field` and the shapes from :func:`pipeline_stages`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from vitsd.book.plots._base import _check_positive_int, _draw_grid, _show, to_display

#: Colours of the original image and of the four shifted copies, in the order
#: :class:`~vitsd.layers.spt.ShiftedPatchTokenization` concatenates them.
VIEW_COLORS = ("#24292f", "#0969da", "#1a7f37", "#bf3989", "#bc4c00")
_HIGHLIGHT = "#ffd33d"
#: The highlighted patch on white (the numbered grids of :func:`shift_grid_diagram`).
_TOKEN = "#bf8700"
_BOX = "#f6f8fa"
_BLOCK = "#ddf4ff"


def _numpy(x) -> np.ndarray:
    """A backend tensor (or anything array-like) as a NumPy array."""
    if isinstance(x, np.ndarray):
        return x
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


def _sample_image(size: int = 32, index: int = 0) -> np.ndarray:
    """One deterministic ``uint8`` image of the built-in sample dataset, ``size`` square."""
    from vitsd.data import make_sample

    data = make_sample(num_train=index + 1, num_test=0, seed=0, image_size=max(16, size))
    image = data.x_train[index]
    if image.shape[0] != size:  # nearest-neighbour down to sizes make_sample refuses
        pick = (np.arange(size) * image.shape[0]) // size
        image = image[pick][:, pick]
    return image


def _shape_text(shape) -> str:
    return "×".join(str(int(d)) for d in shape)


# ------------------------------------------------- chapters 2 and 3: receptive field
def shift_offsets(patch_size: int) -> list[tuple[int, int]]:
    """Where each of the five views lets a token look, as ``(rows, cols)`` offsets.

    One offset per view in the order of :class:`~vitsd.layers.spt.ShiftedPatchTokenization`
    (the original, then :data:`vitsd.layers.spt.SHIFTS`): the token's ``P x P`` window in a
    copy whose content moved left-up by ``s = P // 2`` pixels shows the original's
    pixels ``s`` rows lower and ``s`` columns further right, so that copy's offset is
    ``(+s, +s)``. Derived from the names of the shifts; the tests check it against
    :func:`vitsd.layers.spt.shift_images` itself.
    """
    from vitsd.layers.spt import SHIFTS

    _check_positive_int(patch_size, "patch_size")
    s = patch_size // 2
    offsets = [(0, 0)]
    for name in SHIFTS:
        horizontal, vertical = name.split("-")
        dx = {"left": -1, "right": 1}[horizontal]  # where the content moves
        dy = {"up": -1, "down": 1}[vertical]
        offsets.append((-dy * s, -dx * s))  # the window looks the other way
    return offsets


def receptive_field(patch_size: int, shifted: bool = True) -> np.ndarray:
    """How many views cover each pixel around one token: an ``int`` array.

    The array is ``(P + 2s) x (P + 2s)`` with ``s = P // 2``; the token's own patch is
    the centre ``P x P`` square. Without shifts only the patch is covered (``P * P``
    pixels); with the four half-patch shifts of SPT, the union of the five windows
    covers ``(P + 2s)**2`` pixels -- ``(2P)**2``, four times as many, for even ``P``.
    ``(receptive_field(P) > 0).sum()`` is that count.
    """
    _check_positive_int(patch_size, "patch_size")
    s = patch_size // 2
    side = patch_size + 2 * s
    cover = np.zeros((side, side), dtype=np.int64)
    for dy, dx in shift_offsets(patch_size) if shifted else [(0, 0)]:
        cover[s + dy:s + dy + patch_size, s + dx:s + dx + patch_size] += 1
    return cover


def receptive_field_diagram(patch_size: int = 4) -> Figure:
    """What one token sees, without and with the shifts (chapters 2 and 3).

    Left: a plain ViT token is made of its own ``P x P`` patch. Right: with Shifted
    Patch Tokenization the same token also holds the patch-sized windows of the four
    diagonally shifted copies, each half a patch (``P // 2`` pixels) away, so it sees
    the union of five windows. The shading counts how many windows cover each pixel;
    the titles give the pixel counts, computed by :func:`receptive_field`.
    """
    _check_positive_int(patch_size, "patch_size")
    if patch_size < 2:
        raise ValueError(f"patch_size must be at least 2 (a half patch of 0 is no shift), "
                         f"got {patch_size}.")
    from vitsd.layers.spt import SHIFTS

    s = patch_size // 2
    plain, union = receptive_field(patch_size, False), receptive_field(patch_size, True)
    margin = 1
    # 5.5 inches and 10-point text at the least: legible on a phone (tools/browser_check.py).
    fig = Figure(figsize=(5.2, 4.0), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, cover, shifted in ((axes[0], plain, False), (axes[1], union, True)):
        canvas = np.pad(cover, margin)
        ax.imshow(canvas, cmap="Blues", vmin=0, vmax=max(2, int(union.max())) + 0.5,
                  interpolation="nearest")
        side = canvas.shape[0]
        for k in range(side + 1):  # the pixel grid
            ax.axhline(k - 0.5, color="white", linewidth=0.6)
            ax.axvline(k - 0.5, color="white", linewidth=0.6)
        origin = margin + s - 0.5
        windows = list(zip(shift_offsets(patch_size), ("patch",) + SHIFTS, VIEW_COLORS))
        for (dy, dx), name, color in windows if shifted else windows[:1]:
            ax.add_patch(Rectangle(
                (origin + dx, origin + dy), patch_size, patch_size, fill=False,
                edgecolor=color, linewidth=2.6 if name == "patch" else 1.6,
                linestyle="-" if name == "patch" else "--", label=name,
            ))
        count = int((cover > 0).sum())
        if shifted:
            width = patch_size + 2 * s
            title = (f"SPT, shifts of {s} px:\n"
                     f"{width}×{width} = {count} pixels")
        else:
            title = f"plain patch:\n{patch_size}×{patch_size} = {count} pixels"
        ax.set_title(title, fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncols=3,
               frameon=False, fontsize=10, title="window of", title_fontsize=10,
               handlelength=1.5, columnspacing=1.0)
    fig.suptitle(f"What one token sees (patch size {patch_size})", fontsize=12)
    return fig


# --------------------------------------------------- chapter 3: shifted patch tokens


# ------------------------------------------------- chapter 4: locality self-attention
class LSANumbers(NamedTuple):
    """The numbers :func:`lsa_diagram` draws (all NumPy ``float64``)."""

    scores: np.ndarray  #: ``q @ k.T``, (N, N)
    allowed: np.ndarray  #: ``vitsd.layers.lsa.diagonal_mask(N)``: True off the diagonal
    scaled: np.ndarray  #: ``scores / tau`` with ``-inf`` on the diagonal
    taus: tuple  #: (initial tau = sqrt(key_dim), a lower tau, as training may learn)
    rows: np.ndarray  #: (2, N): softmax of one query's row at each tau


def lsa_numbers(num_tokens: int = 8, tau: float = 1.0, key_dim: int = 16,
                query: int = 0, seed: int = 0) -> LSANumbers:
    """Scores of seeded random queries and keys, masked, scaled and soft-maxed.

    ``q`` and ``k`` are ``(num_tokens, key_dim)`` standard normal (``seed``); the
    diagonal mask is the package's :func:`vitsd.layers.lsa.diagonal_mask`. The softmax rows
    are those of token ``query`` at the initial temperature ``sqrt(key_dim)`` (ordinary
    attention's constant) and at ``tau``.
    """
    from vitsd.layers.lsa import diagonal_mask

    _check_positive_int(num_tokens, "num_tokens")
    _check_positive_int(key_dim, "key_dim")
    if num_tokens < 2:
        raise ValueError(f"num_tokens must be at least 2, got {num_tokens}.")
    if not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be a positive number, got {tau!r}.")
    if not 0 <= query < num_tokens:
        raise ValueError(f"query must be a token in 0..{num_tokens - 1}, got {query!r}.")
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((num_tokens, key_dim))
    k = rng.standard_normal((num_tokens, key_dim))
    scores = q @ k.T
    allowed = _numpy(diagonal_mask(num_tokens)).astype(bool)
    taus = (math.sqrt(key_dim), float(tau))
    scaled = np.where(allowed, scores / taus[1], -np.inf)
    rows = []
    for t in taus:
        z = np.where(allowed[query], scores[query] / t, -np.inf)
        e = np.exp(z - z[allowed[query]].max())
        rows.append(e / e.sum())
    return LSANumbers(scores, allowed, scaled, taus, np.stack(rows))


def _entropy(p) -> float:
    p = np.asarray(p, dtype=np.float64)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def lsa_diagram(num_tokens: int = 8, tau: float = 1.0, key_dim: int = 16,
                query: int = 0, seed: int = 0) -> Figure:
    """Locality Self-Attention on one score matrix (chapter 4).

    Top left: the query-key scores ``q·kᵀ`` of ``num_tokens`` tokens (seeded random
    ``q`` and ``k`` of ``key_dim`` values). Top right: LSA's two changes -- the diagonal
    is masked to −∞ (hatched: a token may not attend to itself) and the scores are
    divided by the learnable temperature ``τ``. Bottom: the softmax of one query's row
    at the initial ``τ = T = √d_k`` (``T``: the constant of ordinary attention) and at
    a lower, learned ``τ``: the lower temperature sharpens attention onto fewer tokens
    (lower entropy). The numbers are those of :func:`lsa_numbers`. 5.2 inches wide,
    every text at 10 points or more.
    """
    nums = lsa_numbers(num_tokens, tau, key_dim, query, seed)
    n = num_tokens
    fig = Figure(figsize=(5.2, 5.4), layout="constrained")
    axes = fig.subplot_mosaic([["left", "middle"], ["right", "right"]],
                              gridspec_kw=dict(height_ratios=[1.0, 0.9]))
    left, middle, right = axes["left"], axes["middle"], axes["right"]
    limit = float(np.abs(nums.scores).max())
    image = left.imshow(nums.scores, cmap="RdBu_r", vmin=-limit, vmax=limit,
                        interpolation="nearest")
    left.set_title("scores q·kᵀ", fontsize="medium")
    fig.colorbar(image, ax=left, shrink=0.8)
    masked = np.ma.masked_array(nums.scaled, mask=~nums.allowed)
    limit_scaled = float(np.abs(masked).max())
    cmap = image.get_cmap().with_extremes(bad="#d0d7de")
    image = middle.imshow(masked, cmap=cmap, vmin=-limit_scaled, vmax=limit_scaled,
                          interpolation="nearest")
    for i in np.argwhere(~nums.allowed):  # the masked cells: exactly the diagonal
        middle.add_patch(Rectangle((i[1] - 0.5, i[0] - 0.5), 1, 1, fill=False, hatch="///",
                                   edgecolor="#57606a", linewidth=0, label="−∞"))
    middle.set_title(f"diagonal −∞, ÷ τ = {nums.taus[1]:g}", fontsize="medium")
    fig.colorbar(image, ax=middle, shrink=0.8)
    for ax in (left, middle):
        ax.set_xlabel("key token")
        ax.set_ylabel("query token")
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.add_patch(Rectangle((-0.5, query - 0.5), n, 1, fill=False, edgecolor="black",
                               linewidth=1.8))
    width = 0.4
    x = np.arange(n)
    for j, (t, row, color) in enumerate(zip(nums.taus, nums.rows, ("C0", "C3"))):
        kind = "initial, = T = √d_k" if j == 0 else "set lower"
        right.bar(x - width / 2 + j * width, row, width=width, color=color,
                  label=f"τ = {t:g} ({kind}), entropy {_entropy(row):.2f}")
    right.annotate("masked: 0", (query, 0), xytext=(query, 0.25 * nums.rows.max()),
                   ha="center", fontsize="medium", arrowprops=dict(arrowstyle="->"))
    right.set_xticks(x)
    right.set_xlabel("key token")
    right.set_ylabel("attention weight")
    right.set_title(f"softmax of query {query}'s row", fontsize="medium")
    right.set_ylim(0, 1.5 * nums.rows.max())
    right.legend(frameon=False, fontsize="medium", loc="upper right")
    right.grid(axis="y", alpha=0.3)
    return fig


# ------------------------------------------------------ chapters 2 and 5: the model
class Stage(NamedTuple):
    """One step of the ViT pipeline: ``key``, what it does, its output ``shape``
    (per image, without the batch axis)."""

    key: str
    label: str
    shape: tuple


def pipeline_stages(config=None, tokenizer: str = "patches", lsa: bool = False) -> list:
    """The stages of :func:`vitsd.models.vit.build_vit` for ``config`` and their shapes.

    ``tokenizer`` is ``"patches"`` (plain ViT) or ``"spt"``; ``lsa`` swaps the
    attention. Keys: ``image``, ``preprocess`` (normalisation, and resizing when
    ``image_size`` differs from the input), ``augment`` (``augment="reference"``: the
    random layers inside the model), ``patches``, ``projection``, ``class_token``
    (``pooling="class_token"``),
    ``position``, ``blocks``, ``final_norm``, ``pooling``, ``head`` (when there are
    ``head_units``) and ``logits``. The tests check every shape against a built model.
    """
    from vitsd.training.recipes import recipe

    if tokenizer not in ("patches", "spt"):
        raise ValueError(f"tokenizer must be 'patches' or 'spt', got {tokenizer!r}.")
    config = recipe("cpu") if config is None else config
    height, width, channels = config.input_shape
    size, p, d = config.image_size, config.patch_size, config.projection_dim
    g, n = config.grid_size, config.num_patches
    views = 5 if tokenizer == "spt" else 1
    depth = p * p * channels * views
    stages = [Stage("image", f"{height}×{width}×{channels} image", (height, width, channels))]
    resize = f"\nresize to {size}×{size}" if (height, width) != (size, size) else ""
    stages.append(Stage("preprocess", f"normalise (training mean, variance){resize}",
                        (size, size, channels)))
    if config.augment == "reference":
        stages.append(Stage("augment", "random flip, rotation, zoom\n(training only)",
                            (size, size, channels)))
    if tokenizer == "spt":
        label = (f"image + 4 shifts of {p // 2} px ({views * channels} channels)\n"
                 f"{g}×{g} = {n} patches of {p}×{p}×{views * channels} = {depth}"
                 " values\nLayerNorm")
    else:
        label = f"{g}×{g} = {n} patches of {p}×{p}×{channels} = {depth} values"
    stages.append(Stage("patches", label, (n, depth)))
    stages.append(Stage("projection", f"linear projection to {d}", (n, d)))
    tokens = n
    if config.pooling == "class_token":
        tokens += 1
        stages.append(Stage("class_token", "+ class token", (tokens, d)))
    stages.append(Stage("position", "+ position embedding", (tokens, d)))
    attention = "LSA" if lsa else "MHA"
    mlp = " → ".join(str(u) for u in config.mlp_units)
    stages.append(Stage(
        "blocks",
        f"{config.num_layers} × transformer block\n"
        f"LayerNorm → {attention}, {config.num_heads} heads of {config.key_dim} → add\n"
        f"LayerNorm → MLP {mlp}, GELU → add",
        (tokens, d),
    ))
    stages.append(Stage("final_norm", "LayerNorm", (tokens, d)))
    if config.pooling == "flatten":
        stages.append(Stage("pooling", "flatten all tokens", (tokens * d,)))
    elif config.pooling == "class_token":
        stages.append(Stage("pooling", "take the class token", (d,)))
    else:
        stages.append(Stage("pooling", "mean over tokens", (d,)))
    if config.head_units:
        head = " → ".join(str(u) for u in config.head_units)
        stages.append(Stage("head", f"MLP head {head} (GELU)", (config.head_units[-1],)))
    stages.append(Stage("logits", f"dense → {config.num_classes} logits",
                        (config.num_classes,)))
    return stages


def vit_pipeline_diagram(config=None, tokenizer: str = "patches", lsa: bool = False,
                         image=None) -> Figure:
    """The Vision Transformer from image to logits, with the shape after every step
    (chapters 2 and 5).

    The image is cut into a grid of patches, each patch is flattened and linearly
    projected to a token, a learned position embedding is added (after a class token
    is prepended, with ``pooling="class_token"``), and the tokens pass through
    ``num_layers`` pre-norm transformer blocks (LayerNorm → attention → add; LayerNorm
    → MLP → add). A last LayerNorm, the pooling and the head turn them into logits. The
    shapes (per image, batch left out) are those of :func:`pipeline_stages` for
    ``config`` (default: the CPU recipe, ``vitsd.recipe("cpu")``); ``tokenizer="spt"``
    and ``lsa=True`` draw SL-ViT. The thumbnail shows the patch grid on ``image``
    (default: an image of the built-in sample dataset).
    """
    from vitsd.training.recipes import recipe

    config = recipe("cpu") if config is None else config
    stages = pipeline_stages(config, tokenizer, lsa)
    size, p = config.image_size, config.patch_size
    if image is None:
        image = _sample_image(size)
    image = np.asarray(image)
    if image.shape[:2] != (size, size):
        pick = (np.arange(size) * image.shape[0]) // size
        pick_x = (np.arange(size) * image.shape[1]) // size
        image = image[pick][:, pick_x]

    heights = [0.3 + 0.42 * (s.label.count("\n") + 1) for s in stages]
    gap = 0.32
    total = sum(heights) + gap * (len(stages) - 1)
    fig = Figure(figsize=(5.2, 0.5 * total + 0.7), layout="constrained")
    thumb, flow = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=[1.0, 3.9]))
    _show(thumb, to_display(image))
    _draw_grid(thumb, size, size, p)
    thumb.set_title(f"{size}×{size} image\n{config.grid_size}×{config.grid_size} patches\n"
                    f"of {p}×{p}", fontsize="medium")
    thumb.set_anchor("N")

    y = 0.0
    x0, x1, xs = 0.0, 7.0, 7.2
    for stage, h in zip(stages, heights):
        is_block = stage.key == "blocks"
        flow.add_patch(FancyBboxPatch(
            (x0, y - h), x1 - x0, h, boxstyle="round,pad=0,rounding_size=0.12",
            facecolor=_BLOCK if is_block else _BOX, edgecolor="#57606a", linewidth=1.0,
        ))
        flow.text((x0 + x1) / 2, y - h / 2, stage.label, ha="center", va="center",
                  fontsize="medium", gid=f"label:{stage.key}", linespacing=1.4)
        flow.text(xs, y - h / 2, _shape_text(stage.shape), ha="left", va="center",
                  fontsize="medium", family="monospace", gid=f"shape:{stage.key}")
        if y < 0:
            flow.annotate("", xy=((x0 + x1) / 2, y), xytext=((x0 + x1) / 2, y + gap),
                          arrowprops=dict(arrowstyle="-|>", color="#57606a"))
        y -= h + gap
    flow.text(xs, gap / 2, "shape", ha="left", va="bottom", fontsize="medium",
              color="#57606a")
    flow.set_xlim(x0 - 0.05, 8.6)
    flow.set_ylim(y + gap - 0.05, gap + 0.3)
    flow.set_axis_off()
    name = {("patches", False): "ViT", ("spt", False): "ViT + SPT",
            ("patches", True): "ViT + LSA", ("spt", True): "SL-ViT"}[(tokenizer, bool(lsa))]
    flow.set_title(f"{name}: from image to logits", fontsize="large", loc="left")
    return fig


# ------------------------------------------- chapter 3: the shifts, pixel by pixel
def numbered_shifts(image_size: int = 8, shift: int = 2) -> dict:
    """The original and SPT's four shifted copies of an ``image_size`` square image whose
    pixels hold their own index, ``row * image_size + col`` (chapter 3).

    Made by :func:`vitsd.layers.spt.shift_images` itself. Returns ``{view: (H, W) int
    array}`` in the order the layer stacks the views (``"original"``, then
    :data:`vitsd.layers.spt.SHIFTS`); ``-1`` marks the zero padding a shift brings in.
    """
    from vitsd.layers.spt import SHIFTS, shift_images

    _check_positive_int(image_size, "image_size")
    if isinstance(shift, bool) or not isinstance(shift, int) or not 0 <= shift < image_size:
        raise ValueError(f"shift must be an integer in [0, {image_size - 1}], got {shift!r}.")
    # index + 1, so that the padding (0) stays apart from pixel 0
    index = np.arange(1, image_size * image_size + 1, dtype=np.float32)
    index = index.reshape(1, image_size, image_size, 1)
    views = {"original": index[0, ..., 0]}
    for name in SHIFTS:
        views[name] = _numpy(shift_images(index, shift, name))[0, ..., 0]
    return {name: np.rint(view).astype(np.int64) - 1 for name, view in views.items()}


def shift_grid_diagram(image_size: int = 8, patch_size: int = 4, shift: int | None = None,
                       token=(0, 0)) -> Figure:
    """SPT's four shifts on a numbered image, to check pixel by pixel (chapter 3).

    An ``image_size`` square image whose every pixel shows its index, ``row *
    image_size + col``, and its four copies shifted diagonally by ``shift`` pixels
    (default half a patch), made by :func:`vitsd.layers.spt.shift_images`
    (:func:`numbered_shifts`). Grey cells are the zero padding a shift brings in; thick
    lines are the ``patch_size`` patch grid; the gold square is the patch ``token``
    (row, column), whose five ``patch_size`` x ``patch_size`` pieces -- one per view --
    make one SPT token. The defaults are the trained preset's geometry (4-pixel
    patches, 2-pixel shifts) on an image of 2 x 2 patches.
    """
    _check_positive_int(patch_size, "patch_size")
    _check_positive_int(image_size, "image_size")
    if image_size % patch_size:
        raise ValueError(f"image_size ({image_size}) must be divisible by patch_size "
                         f"({patch_size}).")
    if image_size > 10:
        raise ValueError(f"image_size must be at most 10 for the numbers to stay legible, "
                         f"got {image_size}.")
    shift = patch_size // 2 if shift is None else shift
    views = numbered_shifts(image_size, shift)
    grid = image_size // patch_size
    r, c = (int(t) for t in token)
    if not (0 <= r < grid and 0 <= c < grid):
        raise ValueError(f"token must be a (row, col) inside the {grid}x{grid} patch grid, "
                         f"got {token!r}.")
    fig = Figure(figsize=(5.2, 8.0), layout="constrained")
    names = list(views)
    axes = fig.subplots(3, 2).ravel()
    for ax, name, color in zip(axes, names, VIEW_COLORS):
        view = views[name]
        ax.imshow(np.where(view < 0, 0.35, 1.0), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        for (i, j), value in np.ndenumerate(view):
            if value >= 0:
                ax.text(j, i, str(value), ha="center", va="center", fontsize=10,
                        gid=f"pixel:{i},{j}")
        for k in range(image_size + 1):  # pixel lines, and the patch grid thicker
            edge = k % patch_size == 0
            for line in (ax.axhline, ax.axvline):
                line(k - 0.5, color="0.1" if edge else "0.7", linewidth=2.0 if edge else 0.5)
        ax.add_patch(Rectangle((c * patch_size - 0.5, r * patch_size - 0.5), patch_size,
                               patch_size, fill=False, edgecolor=_TOKEN, linewidth=3.5,
                               zorder=3))
        title = name if name == "original" else f"{name} by {shift}"
        ax.set_title(title, fontsize=11, color=color)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(2)
    legend = axes[-1]
    legend.set_axis_off()
    legend.add_patch(Rectangle((0.02, 0.74), 0.16, 0.14, fill=False, edgecolor=_TOKEN,
                               linewidth=3, transform=legend.transAxes))
    legend.text(0.24, 0.81, f"patch ({r}, {c}): one\n{patch_size}×{patch_size} piece "
                f"per view", transform=legend.transAxes, va="center", fontsize=10)
    legend.add_patch(Rectangle((0.02, 0.44), 0.16, 0.14, facecolor="0.35",
                               transform=legend.transAxes))
    legend.text(0.24, 0.51, "zero padding", transform=legend.transAxes, va="center",
                fontsize=10)
    legend.text(0.02, 0.22, f"pixel number =\n{image_size} × row + column",
                transform=legend.transAxes, va="center", fontsize=10)
    return fig


# ----------------------------------------------------- chapter 0: the book's map
#: The chapters :func:`book_map_diagram` points to, by the key of each of its steps.
BOOK_MAP_CHAPTERS = {"image": (1,), "patches": (2,), "spt": (3,), "tokens": (2,),
                     "attention": (4, 5), "lsa": (4,), "head": (5,)}


def book_map_steps(config=None) -> list:
    """The steps of :func:`book_map_diagram`, top to bottom: rows of one or two
    alternatives, each ``(key, text)``; the numbers come from ``config`` (default:
    ``vitsd.recipe("cpu", num_classes=100)``, the model the book trains)."""
    from vitsd.training.recipes import recipe

    c = recipe("cpu", num_classes=100) if config is None else config
    g, p, n = c.grid_size, c.patch_size, c.num_patches
    pool = {"mean": "mean of the tokens", "class_token": "the class token",
            "flatten": "all tokens, flattened"}[c.pooling]
    return [
        [("image", f"image, {c.image_size}×{c.image_size}×{c.channels}")],
        [("patches", f"patches: {g}×{g} = {n}\nof {p}×{p} pixels"),
         ("spt", f"shifted patches (SPT):\n{p}×{p} patch + 4 copies\nshifted by {p // 2}")],
        [("tokens", f"{n} tokens of {c.projection_dim} values\n+ position embeddings")],
        [("attention", f"{c.num_layers} blocks with plain\nself-attention"),
         ("lsa", f"{c.num_layers} blocks with locality\nself-attention (LSA)")],
        [("head", f"{pool} → head\n→ {c.num_classes} class scores")],
    ]


def book_map_diagram(config=None) -> Figure:
    """The Vision Transformer this book builds, step by step, with the chapter that
    teaches each step (chapter 0).

    An image is cut into patches -- plain, or shifted patches with SPT -- projected to
    tokens with position embeddings, passed through transformer blocks whose attention
    is plain or Locality Self-Attention, and pooled into a classifier head. Where a row
    has two boxes, the right one is the paper's change; the four models of the book are
    the four choices of one box in each of those two rows (chapter 6 trains them,
    chapter 7 looks inside). Numbers from :func:`book_map_steps`.
    """
    rows = book_map_steps(config)
    fig = Figure(figsize=(5.2, 6.2), layout="constrained")
    ax = fig.subplots()
    height, gap, width = 1.15, 0.5, 4.6
    y = 0.0
    for k, row in enumerate(rows):
        lefts = [2.7] if len(row) == 1 else [0.0, 5.4]
        for (key, text), left in zip(row, lefts):
            w = width
            change = key in ("spt", "lsa")
            ax.add_patch(FancyBboxPatch(
                (left, y - height), w, height, boxstyle="round,pad=0,rounding_size=0.12",
                facecolor=_BLOCK if change else _BOX, edgecolor="#57606a",
                linewidth=1.6 if change else 1.0, linestyle="--" if change else "-"))
            ax.text(left + w / 2, y - height / 2 + 0.1, text, ha="center", va="center",
                    fontsize=10, linespacing=1.3, gid=f"step:{key}")
            chapters = ", ".join(str(n) for n in BOOK_MAP_CHAPTERS[key])
            ax.text(left + w - 0.08, y - height + 0.06, f"ch. {chapters}", ha="right",
                    va="bottom", fontsize=10, color="#0969da", fontweight="bold",
                    gid=f"chapter:{key}")
        if len(row) == 2:
            ax.text(5.0, y - height / 2, "or", ha="center", va="center", fontsize=10)
        if k + 1 < len(rows):
            targets = [2.3, 7.7] if len(rows[k + 1]) == 2 else [5.0]
            for x in [2.3, 7.7] if len(row) == 2 else [5.0]:
                for target in targets:
                    end = min(max(x, 3.3), 6.7) if len(targets) == 1 else target
                    ax.annotate("", xy=(end, y - height - gap), xytext=(x, y - height),
                                arrowprops=dict(arrowstyle="-|>", color="#57606a",
                                                shrinkA=0, shrinkB=0))
        y -= height + gap
    ax.set_xlim(-0.05, 10.05)
    ax.set_ylim(y + gap - 0.05, 0.05)
    ax.set_axis_off()
    ax.set_title("The model of this book, and where each part is taught\n"
                 "(dashed: the two changes of the paper)", fontsize=10)
    return fig
