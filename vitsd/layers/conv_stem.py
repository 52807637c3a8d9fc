"""The early convolutional stem (taught in chapter 8, "Going further").

From "Early Convolutions Help Transformers See Better" (Xiao et al., arXiv 2106.14881):
instead of cutting the image into ``p x p`` patches and projecting each one linearly
(a single ``p x p`` convolution of stride ``p``), a ViT can start with a few small
convolutions. For a patch size ``p = 2**n`` the stem stacks ``n`` 3x3 convolutions of
stride 2, each followed by BatchNormalization and ReLU, with the number of channels
doubling at every stage, then a 1x1 convolution to ``projection_dim``. The image shrinks
by ``p`` along each side, so the stem produces exactly the token grid of plain patches
-- ``(H/p) * (W/p)`` tokens -- and the rest of the ViT does not change.

The strided 3x3 convolutions overlap: with Keras' ``"same"`` padding, token ``(r, c)``
sees input rows ``p*r .. p*r + 2p - 2`` (and the same for columns, clipped at the
border), almost twice a patch, where a plain patch token sees only its own ``p x p``
square. The paper reports that this stem makes ViT training more stable (less
sensitive to the optimiser and learning rate) and more accurate.
"""

from __future__ import annotations

import keras
from keras import layers, ops

#: Patch sizes the stem accepts (powers of two); any larger power of two works too.
VALID_PATCH_SIZES = (2, 4, 8, 16, 32)


def _is_power_of_two(value) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and value >= 2
        and value & (value - 1) == 0
    )


@keras.saving.register_keras_serializable(package="vitsd")
class ConvStem(layers.Layer):
    """Images ``(batch, H, W, C)`` -> tokens ``(batch, (H/p)*(W/p), projection_dim)``.

    ``log2(patch_size)`` stages of 3x3 convolution (stride 2, ``"same"`` padding, no
    bias) + BatchNormalization + ReLU; the first stage has ``filters`` channels
    (default ``projection_dim // 4``), each further stage twice as many; then a 1x1
    convolution (with bias) to ``projection_dim``. Width 192 and patch 4 give stages of
    48 and 96 channels. Inputs are the normalised images; ``H`` and ``W`` must be static
    and divisible by ``patch_size``.
    """

    def __init__(self, patch_size: int, projection_dim: int, filters: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        if not _is_power_of_two(patch_size):
            raise ValueError(
                "patch_size must be a power of two >= 2 for the convolutional stem "
                f"(one stride-2 convolution per halving), e.g. {VALID_PATCH_SIZES}; "
                f"got {patch_size!r}."
            )
        if isinstance(projection_dim, bool) or not isinstance(projection_dim, int) \
                or projection_dim <= 0:
            raise ValueError(
                f"projection_dim must be a positive integer, got {projection_dim!r}."
            )
        if filters is None:
            filters = max(projection_dim // 4, 1)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"filters must be a positive integer or None, got {filters!r}.")
        self.patch_size = patch_size
        self.projection_dim = projection_dim
        self.filters = filters
        self.num_stages = patch_size.bit_length() - 1  # log2(patch_size)
        self.convs = []
        self.norms = []
        for i, width in enumerate(self.stage_filters):
            self.convs.append(
                layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False,
                              name=f"conv_{i}")
            )
            self.norms.append(layers.BatchNormalization(name=f"norm_{i}"))
        self.projection = layers.Conv2D(projection_dim, 1, name="projection")

    @property
    def stage_filters(self) -> tuple:
        """Channels of the 3x3 stages: ``filters``, doubling (e.g. ``(48, 96)``)."""
        return tuple(self.filters * 2**i for i in range(self.num_stages))

    def _check_input_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"ConvStem expects images (batch, height, width, channels), got shape "
                f"{tuple(input_shape)}."
            )
        _, height, width, channels = input_shape
        if height is None or width is None or channels is None:
            raise ValueError(
                "ConvStem needs images with a static height, width and channels; got "
                f"shape {tuple(input_shape)}. Resize to a fixed size first."
            )
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(
                f"image height and width ({height}x{width}) must be divisible by "
                f"patch_size ({self.patch_size})."
            )

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        shape = tuple(input_shape)
        for conv, norm in zip(self.convs, self.norms):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            norm.build(shape)
        self.projection.build(shape)
        self.built = True

    def call(self, images, training=None):
        x = images
        for conv, norm in zip(self.convs, self.norms):
            x = ops.relu(norm(conv(x), training=training))
        x = self.projection(x)
        _, rows, cols, dim = x.shape
        return ops.reshape(x, (-1, rows * cols, dim))

    def compute_output_shape(self, input_shape):
        self._check_input_shape(input_shape)
        b, h, w, _ = input_shape
        return (b, (h // self.patch_size) * (w // self.patch_size), self.projection_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "patch_size": self.patch_size,
            "projection_dim": self.projection_dim,
            "filters": self.filters,
        }
