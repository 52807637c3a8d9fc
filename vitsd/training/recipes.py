"""Named training presets (chapters 6 and 8): ``recipe("cpu")``, ``recipe("paper")``, ...

Each recipe is a set of :class:`~vitsd.config.Config` overrides: the keras.io
reference (the defaults), a model sized for a 2-core CPU, and the training recipe of
the SPT/LSA paper's official code (:mod:`vitsd.training.paper_recipe` sets it next to
the paper's text). Plain Python, no Keras: the command line reads it at once.
"""

from __future__ import annotations

from vitsd.config import Config, check_names

#: Named presets: the keras.io reference, a CPU-sized model, and the SPT/LSA paper's
#: training recipe (chapter 8).
#:
#: "paper" follows the official code of Lee, Lee & Song (arXiv 2112.13492),
#: github.com/aanna0701/SPT_LSA_ViT at commit 54bd796 (``main.py`` run with
#: ``--dataset CIFAR100 --model vit``, its defaults otherwise), item by item with the
#: file and lines it comes from; :mod:`vitsd.training.paper_recipe` lays it out next to the
#: paper's text and lists what still differs.
RECIPES = {
    "reference": {},
    # A ViT sized for a 2-core CPU (chapter 6): 32x32 inputs, 4x4 patches (64 tokens),
    # 4 blocks of width 64 (4 heads of 16, MLP ratio 2), mean pooling into the
    # classifier, pad-and-crop + flip in the input pipeline, label smoothing 0.1,
    # AdamW 1e-3 / 5e-2, batch 128, 10 epochs (10 % warmup, then cosine). Chosen from
    # measured throughput: about 650 training images/s inside `fit` (TensorFlow CPU,
    # 2 cores), so an epoch of 40,500 CIFAR-10 images takes about a minute.
    "cpu": dict(
        image_size=32, patch_size=4, projection_dim=64, num_layers=4, num_heads=4,
        key_dim=16, mlp_units=(128, 64), head_units=(), pooling="mean",
        attention_dropout=0.0, mlp_dropout=0.0, head_dropout=0.0, augment="crop",
        crop_padding=4, label_smoothing=0.1, learning_rate=1e-3, weight_decay=5e-2,
        batch_size=128, epochs=10, warmup_fraction=0.1,
    ),
    "paper": dict(
        # models/create_model.py lines 9-12 (img_size 32): 4x4 patches, width 192,
        # depth 9, 12 heads of 16, MLP ratio 2; models/vit.py lines 143-172: a class
        # token read by LayerNorm + Linear; no dropout (vit.py line 125 defaults).
        image_size=32, patch_size=4, projection_dim=192, num_layers=9, num_heads=12,
        key_dim=16, mlp_units=(384, 192), head_units=(), pooling="class_token",
        attention_dropout=0.0, mlp_dropout=0.0, head_dropout=0.0,
        layer_norm_eps=1e-5,  # torch.nn.LayerNorm's default (vit.py lines 27, 151)
        # main.py line 77 (--sd 0.1); vit.py line 114: one DropPath(0.1) in every block.
        stochastic_depth=0.1, drop_path_schedule="constant",
        mlp_output_activation="linear",  # vit.py lines 39-45: Linear, GELU, Linear
        qkv_bias=False,  # vit.py line 61: to_qkv = Linear(..., bias=False)
        # vit.py lines 57, 69, 85: LSA multiplies the scores by a learned scale per
        # head, initialised to dim_head ** -0.5.
        temperature="head", temperature_form="multiply",
        # vit.py lines 14-21, 143, 145, 155: Xavier-normal Linear weights, zero biases,
        # class token and position embedding from torch.randn.
        initialization="official",
        # main.py lines 171-185: horizontal flip, RandomCrop(32, padding=4),
        # CIFAR10Policy; lines 100-104 and 206-214: RandomErasing(probability=0.25,
        # sh=0.4, r1=0.3) filled with the dataset mean, after normalisation.
        augment="autoaugment", flip="horizontal", crop_padding=4,
        random_erasing=0.25, random_erasing_fill="constant",
        # main.py lines 85-96 and 333-357, utils/mix.py: half of the batches mixed
        # (--mix_prob 0.5), CutMix or MixUp with equal odds, Beta(1, 1) for both, one
        # weight (and one box) per batch.
        cutmix_alpha=1.0, mixup_alpha=1.0, mix_probability=0.5, mix_lambda="per_batch",
        label_smoothing=0.1,  # main.py lines 65, 133-137; utils/losses.py line 11
        # main.py lines 98 and 221-223, utils/sampler.py: RASampler(len, 128, 1, 3,
        # shuffle=True, drop_last=True) -- 3 shuffled passes per epoch, last partial
        # batch dropped.
        repeated_augmentation=3, drop_remainder=True,
        # main.py lines 45-53 and 230: AdamW(lr 1e-3, weight decay 5e-2; PyTorch's
        # eps 1e-8), batch 128, 100 epochs; utils/scheduler.py lines 91-113: 10 warmup
        # epochs, then cosine.
        learning_rate=1e-3, weight_decay=5e-2, adam_epsilon=1e-8, batch_size=128,
        epochs=100, warmup_fraction=0.1,
    ),
}


def recipe(name: str, **overrides) -> Config:
    """The :class:`Config` of a named preset (see :data:`RECIPES`), with overrides."""
    if name not in RECIPES:
        raise ValueError(f"recipe must be one of {sorted(RECIPES)}, got {name!r}.")
    check_names(overrides)
    return Config(**{**RECIPES[name], **overrides})
