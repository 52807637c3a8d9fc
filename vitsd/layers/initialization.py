"""The official code's weight initialisation (chapter 8, "Going further").

The SPT/LSA paper's official code (github.com/aanna0701/SPT_LSA_ViT) initialises its
ViT differently from Keras' defaults: ``models/vit.py`` line 155 applies
``init_weights`` (lines 14-21) to every module -- Xavier-normal weights, zero biases,
LayerNorm 1 and 0 -- and lines 143 and 145 draw the position embedding and the class
token from a standard normal (``torch.randn``). :func:`official_initialization` does the
same to a built vitsd model; ``Config(initialization="official")`` applies it in
:func:`vitsd.models.vit.build_vit`.
"""

from __future__ import annotations

import keras
import numpy as np


def _torch_fans(path: str, shape) -> tuple:
    """``(fan_in, fan_out)`` of a kernel as PyTorch counts them for the layer it plays:
    a query/key/value kernel ``(dim, heads, key_dim)`` is one third of the official
    code's fused ``to_qkv`` Linear (``models/vit.py`` line 61, ``dim -> 3 * inner``);
    an attention output kernel ``(heads, key_dim, dim)`` is ``Linear(inner, dim)``; a
    dense kernel is ``(in, out)``; a convolution kernel ``(kh, kw, in, out)`` has fans
    ``in * kh * kw`` and ``out * kh * kw``."""
    shape = tuple(int(d) for d in shape)
    name = path.split("/")[-2] if "/" in path else ""
    if name in ("query", "key", "value") and len(shape) == 3:
        return shape[0], 3 * shape[1] * shape[2]
    if name == "attention_output" and len(shape) == 3:
        return shape[0] * shape[1], shape[2]
    if len(shape) == 2:
        return shape
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def official_initialization(model: keras.Model, seed: int = 0) -> None:
    """Re-initialise ``model`` as the official code initialises its ViT (chapter 8):
    ``models/vit.py`` line 155 applies ``init_weights`` (lines 14-21) to every module --
    Xavier-normal weights (``std = sqrt(2 / (fan_in + fan_out))``, PyTorch's fans, see
    :func:`_torch_fans`), zero biases, LayerNorm 1 and 0 (Keras' defaults already) --
    and lines 143 and 145 draw the position embedding and the class token from a
    standard normal (``torch.randn``). Keras' defaults are Glorot-uniform kernels with
    Keras' fans (for the 3-D attention kernels about 2.6 times smaller a spread),
    uniform(-0.05, 0.05) position embeddings and a zero class token. Draws from a
    NumPy generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        path = variable.path
        shape = tuple(variable.shape)
        if path.endswith("class_token/token") or path.endswith("position_embedding/embeddings"):
            value = rng.standard_normal(shape)
        elif path.endswith("/kernel") and len(shape) >= 2:
            fan_in, fan_out = _torch_fans(path, shape)
            value = rng.standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))
        else:
            continue
        variable.assign(value.astype(keras.backend.standardize_dtype(variable.dtype)))
