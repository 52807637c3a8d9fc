"""Figures for every chapter of the book (each function names the chapter it serves).

Chapter 1 "Data": :func:`plot_images`, :func:`plot_augmentations`.
Chapter 2 "Patches": :func:`plot_patch_grid`, :func:`plot_patches`.
Chapter 3 "Shifted Patch Tokenization": :func:`plot_shifted_views`.
Chapter 4 "Locality Self-Attention": :func:`plot_attention_matrices`,
:func:`plot_softmax_temperature`, :func:`plot_attention_profiles`.
Chapter 6 "Training and comparison": :func:`plot_size_comparison`,
:func:`plot_curves_by_model`, :func:`plot_loss_gaps`, :func:`plot_learning_rate`.
Chapter 7 "Looking inside": :func:`plot_attention_overlay`.
Chapter 8 "Going further": :func:`plot_augmented_batches`.

Every function builds and returns a :class:`matplotlib.figure.Figure` without going
through ``pyplot``: nothing is registered globally, nothing is shown, nothing needs
closing, and any backend (``Agg`` included) works. A notebook displays the returned
figure; a script calls ``fig.savefig(path)``.

Images may be ``uint8`` in 0..255 or floats in any range (for instance normalised
with the training mean and variance); :func:`to_display` maps either to ``[0, 1]``.
Tensors from TensorFlow or JAX are accepted wherever arrays are (``np.asarray``).

The figures live in modules by role -- :mod:`~vitsd.book.plots.images`,
:mod:`~vitsd.book.plots.attention`, :mod:`~vitsd.book.plots.training`,
:mod:`~vitsd.book.plots.comparison` -- and every one is importable from here
(``plots.plot_images``).
"""

from vitsd.book.plots._base import (
    CHART,
    PANEL,
    to_display,
    upsample_map,
)
from vitsd.book.plots.attention import (
    plot_attention_matrices,
    plot_attention_overlay,
    plot_attention_profiles,
    plot_rollout_comparison,
    plot_softmax_temperature,
)
from vitsd.book.plots.comparison import (
    plot_curves_by_model,
    plot_loss_gaps,
    plot_size_comparison,
)
from vitsd.book.plots.images import (
    plot_augmentations,
    plot_augmented_batches,
    plot_images,
    plot_patch_grid,
    plot_patches,
    plot_shifted_views,
)
from vitsd.book.plots.training import (
    confusion_matrix,
    plot_confusion_matrix,
    plot_history,
    plot_learning_rate,
    plot_time_to_accuracy,
)

__all__ = [
    "CHART",
    "PANEL",
    "confusion_matrix",
    "plot_attention_matrices",
    "plot_attention_overlay",
    "plot_attention_profiles",
    "plot_augmentations",
    "plot_augmented_batches",
    "plot_confusion_matrix",
    "plot_curves_by_model",
    "plot_history",
    "plot_images",
    "plot_learning_rate",
    "plot_loss_gaps",
    "plot_patch_grid",
    "plot_patches",
    "plot_rollout_comparison",
    "plot_shifted_views",
    "plot_size_comparison",
    "plot_softmax_temperature",
    "plot_time_to_accuracy",
    "to_display",
    "upsample_map",
]
