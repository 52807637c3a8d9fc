"""Hyperparameters of a vitsd run, validated (taught in chapter 5, "The model").

The defaults are the reference configuration of the keras.io example "Train a Vision
Transformer on small datasets": CIFAR-100 images (32x32x3) resized to 72x72, cut into
6x6 patches (a 12x12 grid of 144 tokens), 8 transformer blocks of width 64, AdamW with
a warmup-cosine schedule, batch 256, 50 epochs.

Every invalid value raises ``ValueError`` naming the parameter and what would be valid.

Shared by :mod:`vitsd.models` and :mod:`vitsd.training`; the named presets built on it
(``recipe("cpu")``, ...) are :mod:`vitsd.training.recipes`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

#: Model variants by command-line name: name -> (tokenizer, locality self-attention).
#: The first four are the ablation of the SPT/LSA paper; the ``conv-*`` ones use the
#: early convolutional stem of Xiao et al. (arXiv 2106.14881) as tokenizer.
MODELS = {
    "vit": ("patches", False),
    "spt": ("spt", False),
    "lsa": ("patches", True),
    "sl-vit": ("spt", True),
    "conv-vit": ("conv", False),
    "conv-lsa": ("conv", True),
}
TOKENIZERS = ("patches", "spt", "conv")
POOLINGS = ("flatten", "class_token", "mean")
AUGMENTS = ("reference", "pipeline", "strong", "crop", "autoaugment", "none")
SCHEDULES = ("warmup_cosine", "constant", "triangular")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical", "none")
ERASING_FILLS = ("noise", "constant")
MIX_LAMBDAS = ("per_example", "per_batch")
MLP_OUTPUT_ACTIVATIONS = ("gelu", "linear")
DROP_PATH_SCHEDULES = ("linear", "constant")
TEMPERATURES = ("layer", "head")
TEMPERATURE_FORMS = ("divide", "multiply")
INITIALIZATIONS = ("keras", "official")


@dataclass(frozen=True)
class Config:
    """All hyperparameters of one model and its training run.

    Build one with keyword overrides, ``Config(epochs=3)``, or derive one from another
    with :meth:`replace`. The instance is immutable and validated on creation.
    """

    # Data
    input_shape: tuple = (32, 32, 3)
    num_classes: int = 100
    # Tokens
    image_size: int = 72
    patch_size: int = 6
    projection_dim: int = 64
    # LayerNorm over each flat patch before its projection (chapter 6's ablation):
    # ``spt_norm`` for SPT's shifted-patch tokens (True: the paper's official code and
    # keras.io; False: the concatenated shifted patches are projected as they are),
    # ``patch_norm`` for plain ViT patches (False: the classic ViT; True: normalised
    # like SPT's). Each normalises a token over its own values, which makes it blind to
    # its neighbourhood's brightness and contrast.
    spt_norm: bool = True
    patch_norm: bool = False
    # Transformer
    num_layers: int = 8
    num_heads: int = 4
    key_dim: int = 64
    mlp_units: tuple = (128, 64)
    head_units: tuple = (2048, 1024)
    layer_norm_eps: float = 1e-6
    attention_dropout: float = 0.1
    mlp_dropout: float = 0.1
    head_dropout: float = 0.5
    pooling: str = "flatten"
    stochastic_depth: float = 0.0
    # Architecture switches of the SPT/LSA paper's official code (chapter 8); the
    # defaults are the keras.io model. "linear": the rate grows from 0 in the first
    # block to ``stochastic_depth`` in the last (DeiT); "constant": every block.
    drop_path_schedule: str = "linear"
    # Activation after the MLP's last dense layer: "gelu" (keras.io) or "linear".
    mlp_output_activation: str = "gelu"
    # Bias on the query/key/value projections.
    qkv_bias: bool = True
    # LSA's learned temperature: one per "layer" or one per "head"; scores divided by
    # it ("divide", initialised to sqrt(key_dim)) or multiplied by a learned scale
    # ("multiply", initialised to 1 / sqrt(key_dim)).
    temperature: str = "layer"
    temperature_form: str = "divide"
    # "keras": Keras' initializers; "official": the PyTorch code's (Xavier-normal
    # weights with PyTorch's fans, standard-normal class token and position embedding).
    initialization: str = "keras"
    # Augmentation (Keras preprocessing layers). "reference": flip, rotation and zoom
    # inside the model, as keras.io does; "pipeline": the same three layers in the
    # parallel tf.data input pipeline instead (the model then has no random layers and
    # compiles with XLA); "strong": flip, RandAugment and random erasing in the input
    # pipeline (chapter 8); "crop": random pad-and-crop by ``crop_padding`` pixels and
    # flip, per image, in the input pipeline (the CPU preset); "autoaugment": flip,
    # pad-and-crop, AutoAugment's CIFAR-10 policy and random erasing, per image, in the
    # input pipeline (the paper's official code, chapter 8); "none".
    augment: str = "reference"
    crop_padding: int = 4
    flip: str = "horizontal"
    rotation: float = 0.02
    zoom: float = 0.2
    randaugment_ops: int = 2
    randaugment_factor: float = 0.5
    random_erasing: float = 0.0
    # "noise": Keras' RandomErasing; "constant": the official code's rectangle of
    # constant colour (area 2-40 %, aspect ratio 0.3-3.3, vitsd.data.pipeline.ConstantErasing).
    random_erasing_fill: str = "noise"
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    # Fraction of batches mixed (CutMix or MixUp); the others pass unmixed.
    mix_probability: float = 1.0
    # "per_example": Keras' layers, one mixing weight (and CutMix box) per example;
    # "per_batch": one weight and one box for the whole batch (the official code).
    mix_lambda: str = "per_example"
    label_smoothing: float = 0.0
    # Augmented passes over the training data per epoch (a repeated-augmentation
    # sampler, vitsd.data.sampler): an epoch is this many shuffled passes, so this many times
    # the steps.
    repeated_augmentation: int = 1
    # Drop the last incomplete training batch of each epoch.
    drop_remainder: bool = False
    # Optimisation
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    adam_epsilon: float = 1e-7
    batch_size: int = 256
    epochs: int = 50
    warmup_fraction: float = 0.1
    schedule: str = "warmup_cosine"
    cycle_epochs: int = 10
    min_learning_rate: float = 1e-5
    validation_split: float = 0.1
    seed: int = 42
    # Speed (chapter 8): mixed precision and XLA / jit compilation of the train step.
    precision: str = "float32"
    jit_compile: bool = False

    def __post_init__(self):
        # Normalise sequences so that configs read back from JSON compare equal.
        for name in ("input_shape", "mlp_units", "head_units"):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)):
                object.__setattr__(self, name, tuple(value))
        self.validate()

    # ------------------------------------------------------------------ derived
    @property
    def grid_size(self) -> int:
        """Patches along one side of the resized image (72 // 6 = 12)."""
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        """Tokens per image (12 * 12 = 144)."""
        return self.grid_size**2

    @property
    def channels(self) -> int:
        return self.input_shape[-1]

    @property
    def soft_labels(self) -> bool:
        """Whether training needs one-hot (soft) labels: label smoothing or CutMix/MixUp
        is on. The trainer then uses categorical loss and metrics."""
        return self.label_smoothing > 0 or self.mixup_alpha > 0 or self.cutmix_alpha > 0

    # --------------------------------------------------------------- validation
    def validate(self) -> None:
        def positive_int(name):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")

        def fraction(name, low_open=False, high_open=True):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, got {value!r}.")
            lo_ok = value > 0 if low_open else value >= 0
            hi_ok = value < 1 if high_open else value <= 1
            if not (lo_ok and hi_ok) or math.isnan(value):
                lo = "(0" if low_open else "[0"
                hi = "1)" if high_open else "1]"
                raise ValueError(f"{name} must be in {lo}, {hi}, got {value!r}.")

        for name in (
            "num_classes", "image_size", "patch_size", "projection_dim", "num_layers",
            "num_heads", "key_dim", "batch_size", "epochs",
        ):
            positive_int(name)
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {self.num_classes}.")
        if len(self.input_shape) != 3 or any(
            isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in self.input_shape
        ):
            raise ValueError(
                "input_shape must be three positive integers (height, width, channels), "
                f"got {self.input_shape!r}."
            )
        if self.image_size % self.patch_size:
            divisors = [d for d in range(1, self.image_size + 1) if self.image_size % d == 0]
            raise ValueError(
                f"image_size ({self.image_size}) must be divisible by patch_size "
                f"({self.patch_size}); valid patch sizes for this image size: {divisors}."
            )
        if self.patch_size < 2:
            raise ValueError(
                f"patch_size must be at least 2 (shifted patch tokenization shifts by half "
                f"a patch), got {self.patch_size}."
            )
        for name in ("mlp_units", "head_units"):
            units = getattr(self, name)
            if not units and name == "mlp_units":
                raise ValueError("mlp_units must hold at least one layer width.")
            if any(isinstance(u, bool) or not isinstance(u, int) or u <= 0 for u in units):
                raise ValueError(f"{name} must be positive integers, got {units!r}.")
        if self.mlp_units[-1] != self.projection_dim:
            raise ValueError(
                f"mlp_units must end with projection_dim ({self.projection_dim}) so that the "
                f"residual connection adds matching widths, got {self.mlp_units!r}."
            )
        for name in ("attention_dropout", "mlp_dropout", "head_dropout", "rotation",
                     "zoom", "warmup_fraction", "weight_decay", "stochastic_depth",
                     "random_erasing", "label_smoothing"):
            fraction(name)
        fraction("randaugment_factor", high_open=False)
        positive_int("randaugment_ops")
        positive_int("cycle_epochs")
        positive_int("crop_padding")
        for name in ("mixup_alpha", "cutmix_alpha", "min_learning_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
        if self.cutmix_alpha > 1 and self.mix_lambda == "per_example":
            raise ValueError(
                f"cutmix_alpha must be at most 1 (Keras' CutMix) with mix_lambda="
                f"'per_example', got {self.cutmix_alpha!r}."
            )
        fraction("mix_probability", low_open=True, high_open=False)
        positive_int("repeated_augmentation")
        if isinstance(self.adam_epsilon, bool) or not isinstance(
            self.adam_epsilon, (int, float)
        ) or not self.adam_epsilon > 0:
            raise ValueError(f"adam_epsilon must be a positive number, got {self.adam_epsilon!r}.")
        if self.min_learning_rate >= self.learning_rate and self.schedule == "triangular":
            raise ValueError(
                f"min_learning_rate ({self.min_learning_rate}) must be below learning_rate "
                f"({self.learning_rate}) for the triangular schedule."
            )
        for name, valid in (("pooling", POOLINGS), ("augment", AUGMENTS),
                            ("precision", PRECISIONS),
                            ("random_erasing_fill", ERASING_FILLS),
                            ("mix_lambda", MIX_LAMBDAS),
                            ("mlp_output_activation", MLP_OUTPUT_ACTIVATIONS),
                            ("drop_path_schedule", DROP_PATH_SCHEDULES),
                            ("temperature", TEMPERATURES),
                            ("temperature_form", TEMPERATURE_FORMS),
                            ("initialization", INITIALIZATIONS)):
            if getattr(self, name) not in valid:
                raise ValueError(f"{name} must be one of {valid}, got {getattr(self, name)!r}.")
        for name in ("jit_compile", "qkv_bias", "drop_remainder", "spt_norm", "patch_norm"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}.")
        fraction("validation_split")
        if isinstance(self.learning_rate, bool) or not isinstance(
            self.learning_rate, (int, float)
        ) or not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}.")
        if not self.layer_norm_eps > 0:
            raise ValueError(f"layer_norm_eps must be positive, got {self.layer_norm_eps!r}.")
        if self.flip not in FLIP_MODES:
            raise ValueError(f"flip must be one of {FLIP_MODES}, got {self.flip!r}.")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}.")

    # ------------------------------------------------------------ conversions
    def replace(self, **overrides) -> "Config":
        """A copy with some fields changed; unknown names raise ``ValueError``."""
        check_names(overrides)
        return dataclasses.replace(self, **overrides)

    def differences(self, other: "Config") -> dict:
        """``{name: (self's value, other's value)}`` for every field that differs."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (tuples become lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls, values: dict) -> "Config":
        """Inverse of :meth:`to_dict`; unknown names raise ``ValueError``."""
        check_names(values)
        return cls(**values)


def check_names(values: dict) -> None:
    valid = [f.name for f in dataclasses.fields(Config)]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown config parameter(s) {unknown}; valid names are: {', '.join(valid)}."
        )


#: Baselines that are not ViTs, by command-line name (chapter 6): a ResNet-20 CNN
#: (:mod:`vitsd.models.resnet`), trained with the same data, augmentation and schedule.
BASELINES = ("resnet20",)


def check_model_name(name: str) -> str:
    """``name`` if it is a ViT variant (:data:`MODELS`) or a baseline (:data:`BASELINES`)."""
    if name in MODELS or name in BASELINES:
        return name
    raise ValueError(
        f"model must be one of {sorted(MODELS) + list(BASELINES)}, got {name!r}."
    )


def model_switches(name: str) -> tuple:
    """``(tokenizer, lsa)`` for a model name among :data:`MODELS`."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(
            f"model must be one of {sorted(MODELS)}, got {name!r}."
        ) from None
