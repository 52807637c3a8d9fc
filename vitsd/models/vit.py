"""The ViT classifier, built from switches (taught in chapter 5, "The model").

``build_vit(config, spt=..., lsa=...)`` returns a Keras functional model:

    raw 0..255 images -> preprocessing (normalise, resize)
                      -> augmentation (flip, rotate, zoom; active only in training)
                      -> tokenizer (plain patches, Shifted Patch Tokenization, or a
                         convolutional stem)
                      -> [class token] + learned position embedding
                      -> num_layers x TransformerBlock (MultiHeadAttention or LSA)
                      -> LayerNorm -> Flatten (or class token, or mean) -> Dropout
                      -> MLP head -> logits

SPT and LSA are independent switches, so vanilla ViT, SPT-only, LSA-only and SL-ViT
are one argument apart. At the default :class:`~vitsd.config.Config` the vanilla and
SL builds have the layers, widths and parameter counts of the two keras.io examples.
"""

from __future__ import annotations

import keras
from keras import layers

from vitsd.config import MODELS, TOKENIZERS, Config
from vitsd.layers.class_token import ClassToken
from vitsd.layers.position import PositionEmbedding
from vitsd.layers.spt import ShiftedPatchTokenization
from vitsd.layers.transformer_block import TransformerBlock, mlp_layers


@keras.saving.register_keras_serializable(package="vitsd")
class Resize(layers.Resizing):
    """Keras' ``Resizing``, with inference as the default (chapter 5).

    Keras' preprocessing layers declare ``call(data, training=True)``, and when a caller
    gives no ``training``, Keras hands the first default it meets on to every layer
    after it. With the plain layer first in the model, ``model(images)`` would run the
    dropout and the augmentation that follow it. With ``False`` as the default,
    ``model(images)`` means inference, as ``model.predict`` does; ``fit`` passes
    ``training=True`` explicitly and still trains.
    """

    def call(self, data, training=False):
        return super().call(data, training=training)


def preprocessing(config: Config) -> keras.Sequential:
    """Normalisation (mean/variance adapted on training images) and resizing (chapter 1)."""
    return keras.Sequential(
        [
            layers.Normalization(name="normalization"),
            Resize(config.image_size, config.image_size, name="resize"),
        ],
        name="preprocessing",
    )


def augmentation(config: Config) -> keras.Sequential:
    """Random flip, rotation and zoom from Keras' preprocessing layers (chapter 1).

    They act only when ``training=True``; at inference the block is the identity.
    """
    return keras.Sequential(augmentation_layers(config), name="augmentation")


def augmentation_layers(config: Config) -> list:
    """The reference augmentation layers, in order (also used by :mod:`vitsd.data.pipeline`
    when ``config.augment == "pipeline"``)."""
    stack = []
    if config.flip != "none":
        stack.append(layers.RandomFlip(config.flip, seed=config.seed, name="flip"))
    if config.rotation > 0:
        stack.append(layers.RandomRotation(config.rotation, seed=config.seed + 1, name="rotation"))
    if config.zoom > 0:
        stack.append(
            layers.RandomZoom(config.zoom, config.zoom, seed=config.seed + 2, name="zoom")
        )
    return stack


def make_tokenizer(config: Config, kind: str) -> layers.Layer:
    """``patches`` (plain ViT), ``spt`` (chapter 3) or ``conv`` (chapter 8)."""
    if kind == "conv":
        from vitsd.layers.conv_stem import ConvStem

        return ConvStem(config.patch_size, config.projection_dim, name="tokenizer")
    if kind not in TOKENIZERS:
        raise ValueError(f"tokenizer must be one of {TOKENIZERS}, got {kind!r}.")
    return ShiftedPatchTokenization(
        config.patch_size,
        config.projection_dim,
        vanilla=kind == "patches",
        norm=config.patch_norm if kind == "patches" else config.spt_norm,
        layer_norm_eps=config.layer_norm_eps, name="tokenizer",
    )


def build_vit(
    config: Config | None = None,
    spt: bool = True,
    lsa: bool = True,
    name: str | None = None,
    tokenizer: str | None = None,
) -> keras.Model:
    """The classifier: ``spt`` picks the tokenizer, ``lsa`` the attention.

    ``tokenizer`` (``"patches"``, ``"spt"`` or ``"conv"``) overrides ``spt`` when given.
    Layers are created under ``config.precision`` (e.g. ``mixed_bfloat16``); the
    logits stay float32. The normalisation statistics start at mean 0 / variance 1:
    call :func:`adapt_normalization` with the training images before training.
    """
    config = config or Config()
    tokenizer = tokenizer or ("spt" if spt else "patches")
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config.precision)
    try:
        return _build(config, tokenizer, lsa, name or variant_name(tokenizer, lsa))
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _build(config: Config, tokenizer: str, lsa: bool, name: str) -> keras.Model:
    inputs = keras.Input(shape=config.input_shape, name="images")
    x = preprocessing(config)(inputs)
    if config.augment == "reference":
        x = augmentation(config)(x)
    tokens = make_tokenizer(config, tokenizer)(x)
    num_tokens = config.num_patches
    if config.pooling == "class_token":
        tokens = ClassToken(name="class_token")(tokens)
        num_tokens += 1
    tokens = PositionEmbedding(num_tokens, config.projection_dim, name="position")(tokens)
    for i in range(config.num_layers):
        tokens = TransformerBlock(
            num_heads=config.num_heads,
            key_dim=config.key_dim,
            mlp_units=config.mlp_units,
            attention_dropout=config.attention_dropout,
            mlp_dropout=config.mlp_dropout,
            layer_norm_eps=config.layer_norm_eps,
            locality=lsa,
            drop_path=drop_path_rate(config, i),
            mlp_output_activation=config.mlp_output_activation,
            qkv_bias=config.qkv_bias,
            temperature=config.temperature,
            temperature_form=config.temperature_form,
            name=f"block_{i}",
        )(tokens)
    x = layers.LayerNormalization(epsilon=config.layer_norm_eps, name="final_norm")(tokens)
    if config.pooling == "flatten":
        x = layers.Flatten(name="flatten")(x)
    elif config.pooling == "class_token":
        x = layers.Cropping1D((0, num_tokens - 1), name="take_class_token")(x)
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.GlobalAveragePooling1D(name="mean_pool")(x)
    x = layers.Dropout(config.head_dropout, name="head_dropout")(x)
    for layer in mlp_layers(config.head_units, config.head_dropout, name="head"):
        x = layer(x)
    logits = layers.Dense(config.num_classes, dtype="float32", name="logits")(x)
    model = keras.Model(inputs, logits, name=name)
    if config.initialization == "official":
        from vitsd.layers.initialization import official_initialization

        official_initialization(model, config.seed)
    return model


def drop_path_rate(config: Config, block: int) -> float:
    """Stochastic-depth rate of block ``block``: growing linearly from 0 in the first
    block to ``config.stochastic_depth`` in the last (DeiT; ``drop_path_schedule ==
    "linear"``), or ``stochastic_depth`` in every block (``"constant"``: the official
    code's one ``DropPath(0.1)`` for all blocks, ``models/vit.py`` line 114)."""
    if config.drop_path_schedule == "constant":
        return config.stochastic_depth
    return config.stochastic_depth * block / max(config.num_layers - 1, 1)


def variant_name(tokenizer: str, lsa: bool) -> str:
    for name, parts in MODELS.items():
        if parts == (tokenizer, bool(lsa)):
            return name
    return f"{tokenizer}-{'lsa' if lsa else 'mha'}"
