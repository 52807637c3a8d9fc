"""vitsd: Vision Transformers for small datasets, with Keras 3.

The helper package of the vitsd book. Each object's docstring names the chapter that
teaches it; the book imports and displays this code rather than copying it.
"""

__version__ = "0.1.0"

from vitsd.config import MODELS, Config, model_switches  # noqa: E402
from vitsd.patches import Patches, PatchEncoder, PositionEmbedding, extract_patches  # noqa: E402
from vitsd.spt import SHIFTS, ShiftedPatchTokenization, shift_images  # noqa: E402
from vitsd.lsa import LocalitySelfAttention, diagonal_mask  # noqa: E402
from vitsd.blocks import TransformerBlock  # noqa: E402
from vitsd.schedule import WarmUpCosine  # noqa: E402
from vitsd.model import (  # noqa: E402
    adapt_normalization,
    build_named,
    build_vit,
    count_parameters,
    load_model,
)
