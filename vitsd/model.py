"""The ViT classifier, built from switches (taught in chapter 5, "The model").

``build_vit(config, spt=..., lsa=...)`` returns a Keras functional model:

    raw 0..255 images -> preprocessing (normalise, resize)
                      -> augmentation (flip, rotate, zoom; active only in training)
                      -> tokenizer (plain patches or Shifted Patch Tokenization)
                      -> + learned position embedding
                      -> num_layers x TransformerBlock (MultiHeadAttention or LSA)
                      -> LayerNorm -> Flatten -> Dropout -> MLP head -> logits

SPT and LSA are independent switches, so vanilla ViT, SPT-only, LSA-only and SL-ViT
are one argument apart. At the default :class:`~vitsd.config.Config` the vanilla and
SL builds have the layers, widths and parameter counts of the two keras.io examples.
"""

from __future__ import annotations

import keras
from keras import layers

from vitsd.blocks import TransformerBlock, mlp_layers
from vitsd.config import Config, model_switches
from vitsd.patches import PositionEmbedding
from vitsd.spt import ShiftedPatchTokenization


def preprocessing(config: Config) -> keras.Sequential:
    """Normalisation (mean/variance adapted on training images) and resizing (chapter 1)."""
    return keras.Sequential(
        [
            layers.Normalization(name="normalization"),
            layers.Resizing(config.image_size, config.image_size, name="resize"),
        ],
        name="preprocessing",
    )


def augmentation(config: Config) -> keras.Sequential:
    """Random flip, rotation and zoom from Keras' preprocessing layers (chapter 1).

    They act only when ``training=True``; at inference the block is the identity.
    """
    stack = []
    if config.flip != "none":
        stack.append(layers.RandomFlip(config.flip, seed=config.seed, name="flip"))
    if config.rotation > 0:
        stack.append(layers.RandomRotation(config.rotation, seed=config.seed + 1, name="rotation"))
    if config.zoom > 0:
        stack.append(
            layers.RandomZoom(config.zoom, config.zoom, seed=config.seed + 2, name="zoom")
        )
    return keras.Sequential(stack, name="augmentation")


def build_vit(
    config: Config | None = None,
    spt: bool = True,
    lsa: bool = True,
    name: str | None = None,
) -> keras.Model:
    """The classifier: ``spt`` picks the tokenizer, ``lsa`` the attention.

    The normalisation statistics start at mean 0 / variance 1; call
    :func:`adapt_normalization` with the training images before training.
    """
    config = config or Config()
    inputs = keras.Input(shape=config.input_shape, name="images")
    x = preprocessing(config)(inputs)
    x = augmentation(config)(x)
    tokens = ShiftedPatchTokenization(
        config.patch_size,
        config.projection_dim,
        vanilla=not spt,
        layer_norm_eps=config.layer_norm_eps,
        name="tokenizer",
    )(x)
    tokens = PositionEmbedding(config.num_patches, config.projection_dim, name="position")(tokens)
    for i in range(config.num_layers):
        tokens = TransformerBlock(
            num_heads=config.num_heads,
            key_dim=config.key_dim,
            mlp_units=config.mlp_units,
            attention_dropout=config.attention_dropout,
            mlp_dropout=config.mlp_dropout,
            layer_norm_eps=config.layer_norm_eps,
            locality=lsa,
            name=f"block_{i}",
        )(tokens)
    x = layers.LayerNormalization(epsilon=config.layer_norm_eps, name="final_norm")(tokens)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(config.head_dropout, name="head_dropout")(x)
    for layer in mlp_layers(config.head_units, config.head_dropout, name="head"):
        x = layer(x)
    logits = layers.Dense(config.num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=name or variant_name(spt, lsa))


def build_named(model: str, config: Config | None = None) -> keras.Model:
    """``build_vit`` by ablation name: ``vit``, ``spt``, ``lsa`` or ``sl-vit``."""
    spt, lsa = model_switches(model)
    return build_vit(config, spt=spt, lsa=lsa, name=model)


def variant_name(spt: bool, lsa: bool) -> str:
    return {(False, False): "vit", (True, False): "spt", (False, True): "lsa", (True, True): "sl-vit"}[
        (bool(spt), bool(lsa))
    ]


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
