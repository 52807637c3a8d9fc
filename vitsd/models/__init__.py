"""The models (chapters 5 and 6): the ViT built from switches, and the CNN baseline.

* :mod:`vitsd.models.vit` -- ``build_vit``: the ViT of chapter 5, its preprocessing and
  augmentation blocks, with plain patches, Shifted Patch Tokenization or a
  convolutional stem, and MultiHeadAttention or Locality Self-Attention;
* :mod:`vitsd.models.resnet` -- ResNet-20, the CNN baseline of chapter 6.

This module holds what every model shares: building one by its name (``vit``,
``sl-vit``, ``resnet20``, ...), adapting its normalisation, counting its parameters and
loading a saved ``.keras`` file.
"""

from __future__ import annotations

import keras

from vitsd.config import Config, model_switches
from vitsd.models.vit import (  # noqa: F401  (re-exported: vitsd.models.build_vit, ...)
    Resize,
    augmentation,
    augmentation_layers,
    build_vit,
    drop_path_rate,
    make_tokenizer,
    preprocessing,
    variant_name,
)


def build_named(model: str, config: Config | None = None) -> keras.Model:
    """``build_vit`` by model name (see :data:`vitsd.config.MODELS`): ``vit``,
    ``spt``, ``lsa``, ``sl-vit``, ``conv-vit`` or ``conv-lsa``; or the CNN baseline
    ``resnet20`` (:func:`vitsd.models.resnet.build_resnet`)."""
    from vitsd.models.resnet import RESNETS

    if model in RESNETS:
        from vitsd.models.resnet import build_resnet

        return build_resnet(config, depth=RESNETS[model], name=model)
    tokenizer, lsa = model_switches(model)
    return build_vit(config, lsa=lsa, tokenizer=tokenizer, name=model)


def adapt_normalization(model: keras.Model, images) -> None:
    """Fit the model's normalisation layer to training images (per-channel mean/var)."""
    model.get_layer("preprocessing").get_layer("normalization").adapt(images)


def count_parameters(model: keras.Model) -> dict:
    """``{"trainable": n, "non_trainable": m, "total": n + m}``."""
    trainable = sum(int(v.numpy().size if hasattr(v, "numpy") else v.size) for v in model.trainable_weights)
    non_trainable = sum(int(v.numpy().size if hasattr(v, "numpy") else v.size) for v in model.non_trainable_weights)
    return {"trainable": trainable, "non_trainable": non_trainable, "total": trainable + non_trainable}


def load_model(path) -> keras.Model:
    """Load a ``.keras`` file saved from a vitsd model (custom layers are registered
    on import of :mod:`vitsd`), without its optimizer state."""
    return keras.saving.load_model(path, compile=False)
