"""What a ViT costs, counted by hand: tokens, parameters, multiply-adds and the pixels
one token sees (taught in chapters 2-5; the full budget in chapter 5, "The model").

The chapters quote these numbers in their prose (through myst-nb's ``glue``), so they
are computed here from a :class:`~vitsd.config.Config` with the formulas the chapters
explain, and tested against the models :func:`vitsd.build_named` builds.

* :func:`num_tokens` -- ``N = (H / P)^2`` tokens per image (chapter 2);
* :func:`tokenizer_parameters`, :func:`block_parameters` and :func:`parameter_budget`
  -- the parameters of every piece of the four variants ``vit``, ``spt``, ``lsa`` and
  ``sl-vit`` (chapters 2, 3 and 5);
* :func:`flops_per_block` and :func:`flops_per_image` -- where the compute goes, in
  multiply-adds (chapter 5);
* :func:`receptive_field` -- which pixels one token's patch holds, with or without the
  shifts of Shifted Patch Tokenization (chapter 3);
* :func:`layer_parameters` -- a built model's parameters layer by layer, with runs of
  identical layers (the transformer blocks) collapsed into one row (chapter 5).

Everything but :func:`receptive_field` and :func:`layer_parameters` is plain integer
arithmetic: no Keras needed.
"""

from __future__ import annotations

import re

from vitsd.config import Config, model_switches

#: Views that Shifted Patch Tokenization stacks: the image and its four shifted copies.
SPT_VIEWS = 5


def num_tokens(image_size: int, patch_size: int) -> int:
    """Patch tokens of a square ``image_size`` image cut into ``patch_size`` patches:
    ``(image_size // patch_size) ** 2`` (chapter 2). The size must be divisible."""
    for name, value in (("image_size", image_size), ("patch_size", patch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if image_size % patch_size:
        raise ValueError(
            f"image_size ({image_size}) must be divisible by patch_size ({patch_size})."
        )
    return (image_size // patch_size) ** 2


def _dense(inputs: int, outputs: int) -> int:
    """Weights and biases of a dense layer."""
    return inputs * outputs + outputs


def _mlp(inputs: int, units) -> tuple[int, int]:
    """(parameters, multiply-adds per vector) of a stack of dense layers."""
    parameters = macs = 0
    for width in units:
        parameters += _dense(inputs, width)
        macs += inputs * width
        inputs = width
    return parameters, macs


def _tokens(config: Config) -> int:
    """Tokens the transformer blocks see: the patches, plus the class token if any."""
    return config.num_patches + (1 if config.pooling == "class_token" else 0)


def _spt(tokenizer: str) -> bool:
    if tokenizer == "conv":
        raise ValueError(
            "the budget covers the plain-patch and SPT tokenizers (vit, spt, lsa, "
            "sl-vit); count a convolutional-stem model with vitsd.count_parameters."
        )
    return tokenizer == "spt"


def tokenizer_parameters(config: Config, spt: bool = True) -> dict:
    """Parameters of the tokenizer (chapters 2 and 3).

    A patch holds ``P * P * C`` values (``5 * P * P * C`` with SPT's four shifted
    copies). The projection to ``D = projection_dim`` has one weight per value and
    output plus ``D`` biases; SPT's LayerNorm has a scale and an offset per value.
    Returns ``{"patch_values", "layer_norm", "projection", "total"}``.
    """
    values = config.patch_size**2 * config.channels * (SPT_VIEWS if spt else 1)
    layer_norm = 2 * values if spt else 0
    projection = _dense(values, config.projection_dim)
    return {"patch_values": values, "layer_norm": layer_norm, "projection": projection,
            "total": layer_norm + projection}


def block_parameters(config: Config, lsa: bool = True) -> dict:
    """Parameters of one transformer block (chapter 5).

    With ``D = projection_dim`` and ``h * d_k`` = heads x key size: two LayerNorms of
    ``2 * D``; query, key and value projections of ``D * h * d_k + h * d_k`` each; the
    output projection ``h * d_k * D + D``; LSA's temperature (one scalar, or one per head
    with ``temperature="head"``); the MLP's
    dense layers (``mlp_units``, starting from ``D``).
    Returns ``{"norm_attention", "query", "key", "value", "output", "temperature",
    "fixed", "attention", "norm_mlp", "mlp", "total"}`` (``fixed``: how many of them are
    not trainable) (``attention`` sums the projections and
    the temperature).
    """
    d = config.projection_dim
    inner = config.num_heads * config.key_dim
    # The paper preset's switches: bias-free query/key/value, one temperature per head.
    qkv_bias = 0 if not config.qkv_bias else inner
    counts = {
        "norm_attention": 2 * d,
        "query": d * inner + qkv_bias,
        "key": d * inner + qkv_bias,
        "value": d * inner + qkv_bias,
        "output": _dense(inner, d),
        # LSA's learned temperature; plain attention built without q/k/v bias keeps a
        # fixed one (a non-trainable weight, counted in "fixed").
        "temperature": (config.num_heads if config.temperature == "head" else 1)
        if lsa or not config.qkv_bias else 0,
    }
    counts["fixed"] = 0 if lsa else counts["temperature"]
    counts["attention"] = sum(counts[k] for k in
                              ("query", "key", "value", "output", "temperature"))
    counts["norm_mlp"] = 2 * d
    counts["mlp"] = _mlp(d, config.mlp_units)[0]
    counts["total"] = (counts["norm_attention"] + counts["attention"] + counts["norm_mlp"]
                       + counts["mlp"])
    return counts


def _head_inputs(config: Config) -> int:
    """Width of the vector the classifier head reads."""
    if config.pooling == "flatten":
        return config.num_patches * config.projection_dim
    return config.projection_dim  # the class token, or the mean of the tokens


def parameter_budget(config: Config | None = None, model: str = "sl-vit") -> dict:
    """Every parameter of ``build_named(model, config)``, piece by piece (chapter 5).

    ``model`` is ``"vit"``, ``"spt"``, ``"lsa"`` or ``"sl-vit"``. The keys follow the
    model's layers: ``normalization`` (the per-channel mean and variance and a count,
    not trainable), ``tokenizer``, ``class_token``, ``position`` (one ``D``-vector per
    token position), ``blocks`` (``num_layers`` times ``block``), ``final_norm``,
    ``head`` (the MLP head's dense layers) and ``logits``; then ``trainable``,
    ``non_trainable`` and ``total`` as :func:`vitsd.count_parameters` reports them.
    ``block`` and ``tokenizer_parts`` hold the breakdowns of :func:`block_parameters` and
    :func:`tokenizer_parameters`.
    """
    config = config or Config()
    tokenizer, lsa = model_switches(model)
    spt = _spt(tokenizer)
    d = config.projection_dim
    tokenizer_parts = tokenizer_parameters(config, spt)
    block = block_parameters(config, lsa)
    head, _ = _mlp(_head_inputs(config), config.head_units)
    head_out = config.head_units[-1] if config.head_units else _head_inputs(config)
    counts = {
        "normalization": 2 * config.channels + 1,
        "tokenizer": tokenizer_parts["total"],
        "class_token": d if config.pooling == "class_token" else 0,
        "position": _tokens(config) * d,
        "blocks": config.num_layers * block["total"],
        "final_norm": 2 * d,
        "head": head,
        "logits": _dense(head_out, config.num_classes),
    }
    non_trainable = counts["normalization"] + config.num_layers * block["fixed"]
    total = sum(counts.values())
    return {**counts, "trainable": total - non_trainable, "non_trainable": non_trainable,
            "total": total, "block": block, "tokenizer_parts": tokenizer_parts}


def flops_per_block(config: Config | None = None) -> dict:
    """Multiply-adds of one transformer block for one image (chapter 5).

    With ``N`` tokens, width ``D`` and ``h`` heads of ``d_k``:

    * ``qkv``: the query, key and value projections, ``3 * N * D * h * d_k``;
    * ``output``: the output projection, ``N * h * d_k * D``;
    * ``scores``: every query against every key, ``N * N * h * d_k``;
    * ``weighted_sum``: the attention-weighted sum of the values, ``N * N * h * d_k``;
    * ``mlp``: ``N`` times the dense layers of the MLP (``2 * N * D * D_mlp`` for the
      usual two layers ``D -> D_mlp -> D``).

    ``projections`` = qkv + output grows with ``N``; ``attention_matrix`` = scores +
    weighted_sum grows with ``N^2``; ``attention`` is their sum, ``total`` adds the MLP.
    Biases, LayerNorm, softmax and GELU cost a few operations per value, ``O(N * D)``,
    and are left out. One multiply-add is two floating-point operations.
    """
    config = config or Config()
    n, d = _tokens(config), config.projection_dim
    inner = config.num_heads * config.key_dim
    macs = {
        "tokens": n,
        "qkv": 3 * n * d * inner,
        "output": n * inner * d,
        "scores": n * n * inner,
        "weighted_sum": n * n * inner,
        "mlp": n * _mlp(d, config.mlp_units)[1],
    }
    macs["projections"] = macs["qkv"] + macs["output"]
    macs["attention_matrix"] = macs["scores"] + macs["weighted_sum"]
    macs["attention"] = macs["projections"] + macs["attention_matrix"]
    macs["total"] = macs["attention"] + macs["mlp"]
    return macs


def flops_per_image(config: Config | None = None, model: str = "sl-vit") -> dict:
    """Multiply-adds of the whole classifier for one image (chapter 5):
    ``{"tokenizer", "blocks", "head", "total"}``. The tokenizer projects ``N`` patches
    of ``P * P * C`` values (five times as many with SPT) to ``D``; the blocks are
    ``num_layers`` times :func:`flops_per_block` (LSA adds nothing measurable); the head
    is its dense layers and the logits. Preprocessing, augmentation and the shifts are
    memory moves, left out."""
    config = config or Config()
    tokenizer, _ = model_switches(model)
    values = tokenizer_parameters(config, _spt(tokenizer))["patch_values"]
    _, head = _mlp(_head_inputs(config), tuple(config.head_units) + (config.num_classes,))
    macs = {
        "tokenizer": config.num_patches * values * config.projection_dim,
        "blocks": config.num_layers * flops_per_block(config)["total"],
        "head": head,
    }
    macs["total"] = sum(macs.values())
    return macs


def receptive_field(patch_size: int, shift: int | None = None):
    """How many of SPT's five views show each pixel around one patch (chapter 3).

    Runs :func:`vitsd.shift_images` on an image whose pixels hold their own index, cuts
    the patch in the middle of the grid out of the original and its four copies shifted
    by ``shift`` pixels (default ``patch_size // 2``, as SPT does), and counts where
    each value came from. Returns an int array of shape ``(3 * P, 3 * P)``, centred on
    the patch (its own pixels are ``[P:2P, P:2P]``): 0 where the token sees nothing,
    otherwise the number of views that show the pixel. A plain ViT token sees its
    ``P x P`` patch alone (``shift=0``: every view is the original, so the count is 5).
    """
    import numpy as np

    from vitsd.layers.spt import SHIFTS, shift_images

    p = patch_size
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}.")
    shift = p // 2 if shift is None else shift
    if isinstance(shift, bool) or not isinstance(shift, int) or not 0 <= shift <= p:
        raise ValueError(f"shift must be an integer in [0, {p}], got {shift!r}.")
    size = 5 * p  # the patch at grid position (2, 2); a margin of 2P all round
    index = (np.arange(size * size, dtype="float32") + 1).reshape(1, size, size, 1)
    views = [index] + [np.asarray(shift_images(index, shift, d)) for d in SHIFTS]
    counts = np.zeros((size, size), dtype="int64")
    for view in views:
        seen = view[0, 2 * p:3 * p, 2 * p:3 * p, 0].astype("int64").ravel()
        seen = seen[seen > 0] - 1  # 0 is the zero padding of a shift
        np.add.at(counts, (seen // size, seen % size), 1)
    return counts[p:4 * p, p:4 * p]


def layer_parameters(model) -> list:
    """The parameters of a built Keras ``model``, one row per layer that has any
    (chapter 5): ``{"layer", "copies", "parameters"}``, ``parameters`` counting all
    ``copies``. Consecutive layers named ``<prefix>_<i>`` with consecutive ``i`` and the
    same class and count -- the transformer blocks ``block_0`` ... ``block_7`` -- are one
    row, named ``"block_0 to block_7"``. The rows add up to ``model.count_params()``."""
    rows, run = [], []

    def close():
        if not run:
            return
        first, last = run[0], run[-1]
        name = first[0] if len(run) == 1 else f"{first[0]} to {last[0]}"
        rows.append({"layer": name, "copies": len(run),
                     "parameters": sum(count for _, _, count, _ in run)})
        run.clear()

    for layer in model.layers:
        count = int(layer.count_params())
        if not count:
            continue
        match = re.fullmatch(r"(.+)_(\d+)", layer.name)
        key = (match.group(1), type(layer).__name__, count) if match else None
        index = int(match.group(2)) if match else None
        if run and key is not None and run[-1][1] == key and run[-1][3] == index - 1:
            run.append((layer.name, key, count, index))
            continue
        close()
        run.append((layer.name, key, count, index))
        if key is None:
            close()
    close()
    return rows
