"""The container every loader returns, and the error every loader raises (chapter 1,
"Data").

A :class:`Dataset` holds uint8 images ``(N, H, W, 3)``, int64 labels ``(N,)`` and the
class names, split into train and test. Every data problem (no network, a truncated
archive, an empty class folder, an unreadable image) raises :class:`DatasetError` with
a message that says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class DatasetError(RuntimeError):
    """A dataset could not be loaded; the message says why and what to do."""


@dataclass
class Dataset:
    """Images and labels of one dataset, split into train and test.

    ``x_*`` are uint8 arrays of shape ``(N, H, W, 3)``, ``y_*`` int64 arrays of shape
    ``(N,)`` with values in ``range(len(class_names))``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple:
        return tuple(int(d) for d in self.x_train.shape[1:])

    def summary(self) -> dict:
        """A JSON-ready description: name, sizes, image shape and class names."""
        return {
            "name": str(self.name),
            "num_classes": self.num_classes,
            "train_size": int(len(self.y_train)),
            "test_size": int(len(self.y_test)),
            "image_shape": list(self.image_shape),
            "class_names": [str(c) for c in self.class_names],
        }
