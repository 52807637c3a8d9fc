"""Repeated augmentation: several augmented passes per epoch (chapter 8, "Going further").

The official code of the SPT/LSA paper feeds training batches through
``utils/sampler.py``'s ``RASampler``, built in ``main.py`` line 223 as
``RASampler(len(train_dataset), batch_size, 1, args.ra, shuffle=True, drop_last=True)``
with ``--ra 3`` (``main.py`` line 98). Its third and fourth arguments are
``repetitions=1`` and ``len_factor=3`` (``sampler.py`` line 23): every epoch draws
``3 * len(dataset)`` indices from fresh random permutations, one after the other
(``sampler.py`` lines 31-57), and cuts them into batches, dropping the last incomplete
one (lines 56-61). So each of the paper's "epochs" is three shuffled passes over the
training set, every image augmented anew each time: 100 epochs are 300 passes (about
117,000 steps of 128 on CIFAR-100's 50,000 images). (DeiT's repeated augmentation
also puts several copies of one image in a batch; with ``repetitions=1`` it does not.)

vitsd does the same with ``tf.data``: shuffle (a new permutation per pass), repeat
``config.repeated_augmentation`` times, batch -- see :func:`training_batches` -- and
counts the steps of such an epoch with :func:`steps_per_epoch`, which the trainer
uses for the learning-rate schedule and the throughput of the run record.
"""

from __future__ import annotations

import math

import tensorflow as tf


def images_per_epoch(num_examples: int, config) -> int:
    """Training images one epoch feeds: ``repeated_augmentation`` passes over
    ``num_examples``, less the incomplete last batch when ``config.drop_remainder``."""
    total = int(num_examples) * config.repeated_augmentation
    if config.drop_remainder:
        return total // config.batch_size * config.batch_size
    return total


def steps_per_epoch(num_examples: int, config) -> int:
    """Optimizer steps in one epoch of ``num_examples`` training examples."""
    total = int(num_examples) * config.repeated_augmentation
    if config.drop_remainder:
        return total // config.batch_size
    return math.ceil(total / config.batch_size)


def training_batches(dataset: tf.data.Dataset, num_examples: int, config) -> tf.data.Dataset:
    """Shuffled, repeated, batched examples of one epoch.

    ``dataset`` holds the ``num_examples`` training examples in order. Each of the
    ``config.repeated_augmentation`` passes is a new permutation (seeded with
    ``config.seed``; new ones every epoch too), and batches run on across passes, as
    ``RASampler`` draws them. With ``repeated_augmentation == 1`` and no
    ``drop_remainder`` this is the plain shuffled epoch.
    """
    dataset = dataset.shuffle(num_examples, seed=config.seed, reshuffle_each_iteration=True)
    if config.repeated_augmentation > 1:
        dataset = dataset.repeat(config.repeated_augmentation)
    return dataset.batch(config.batch_size, drop_remainder=config.drop_remainder)
