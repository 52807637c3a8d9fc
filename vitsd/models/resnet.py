"""A small CNN baseline: ResNet-20 for 32x32 images (chapter 6, "Training and comparison").

He, Zhang, Ren & Sun (2016), "Deep Residual Learning for Image Recognition", section
4.2: a 3x3 convolution with 16 filters, then three stages of ``n`` basic blocks (two
3x3 convolutions with BatchNorm and ReLU, plus the block's input) at 16, 32 and 64
filters, the second and third stage starting with stride 2; global average pooling
and one dense layer. ``depth = 6n + 2``: ResNet-20 has n = 3, about 0.28M parameters.
Where the width or resolution changes, the shortcut is a 1x1 convolution with stride 2
(the paper's option B; option A pads with zeros instead).

The baseline shares everything else with the ViTs of a campaign: the same
preprocessing block (normalisation adapted on the training images), the same input
pipeline and augmentation, loss, optimizer and schedule, so that a difference in
accuracy is the architecture's. ``build_named("resnet20", config)`` builds it.
"""

from __future__ import annotations

import keras
from keras import layers

from vitsd.config import Config

#: Baseline names (``--model``) and their depth, ``6n + 2``.
RESNETS = {"resnet20": 20}


def build_resnet(config: Config | None = None, depth: int = 20,
                 name: str = "resnet20") -> keras.Model:
    """ResNet-``depth`` (``depth = 6n + 2``) for ``config``'s input and classes.

    Uses ``config``'s preprocessing (normalisation, resizing to ``image_size``) and, for
    ``augment == "reference"``, its in-model augmentation, as :func:`vitsd.models.vit.build_vit`
    does; nothing of the transformer part of ``config`` applies.
    """
    from vitsd.models.vit import augmentation, preprocessing

    config = config or Config()
    if (depth - 2) % 6 or depth < 8:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32...), got {depth!r}.")
    blocks = (depth - 2) // 6
    regularizer = None  # AdamW's decoupled weight decay regularises, as for the ViTs
    inputs = keras.Input(shape=config.input_shape, name="images")
    x = preprocessing(config)(inputs)
    if config.augment == "reference":
        x = augmentation(config)(x)
    x = _conv_bn(x, 16, 3, 1, "stem", regularizer)
    x = layers.ReLU(name="stem_relu")(x)
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, filters, stride, f"stage{stage + 1}_block{block + 1}",
                             regularizer)
    x = layers.GlobalAveragePooling2D(name="mean_pool")(x)
    logits = layers.Dense(config.num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def _conv_bn(x, filters, kernel, stride, name, regularizer):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                      kernel_initializer="he_normal", kernel_regularizer=regularizer,
                      name=f"{name}_conv")(x)
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def _basic_block(x, filters, stride, name, regularizer):
    shortcut = x
    y = _conv_bn(x, filters, 3, stride, f"{name}_a", regularizer)
    y = layers.ReLU(name=f"{name}_a_relu")(y)
    y = _conv_bn(y, filters, 3, 1, f"{name}_b", regularizer)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, stride, f"{name}_shortcut", regularizer)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)
