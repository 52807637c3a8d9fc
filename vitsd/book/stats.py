"""How sure is a difference between two models? A bootstrap over test images and seeds.

A model's test accuracy moves for two reasons: the test set is one sample of the images
the model could meet (a different 10,000 would score a little differently), and the
training run is one sample of the runs it could have been (another seed -- another
initialisation, data order, augmentation draws -- gives another model).
:func:`difference_ci` puts both noises into one confidence interval for the difference
of two models' mean accuracies, from each model's per-image correctness on the same
test images, one row per training seed.

:func:`load_correctness` reads that per-image correctness for published runs, from the
``results/<dataset>/<run>.correct.npz`` files that ``tools/per_image.py`` writes
(:func:`write_correctness` / :func:`read_correctness`: the bits of the boolean vector,
``np.packbits``, and the number of images -- no images, no labels).

NumPy only: this module imports neither Keras nor a backend.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path

import numpy as np

#: The suffix of a run's per-image correctness file, beside its record in ``results/``.
CORRECT_SUFFIX = ".correct.npz"
#: How many entries one chunk of resampled pattern counts holds (rows x patterns): about
#: 32 MB of int64 counts at a time, however many resamples are asked for.
_CHUNK_ENTRIES = 4_000_000


def _correctness(values, name: str) -> np.ndarray:
    """``values`` as a 2-D uint8 array of 0/1 (seeds, images), or a ValueError naming
    ``name``."""
    try:
        array = np.asarray(values)
    except Exception as err:  # noqa: BLE001 - ragged lists and the like
        raise ValueError(
            f"{name} must be an array of per-image correctness (seeds, images), "
            f"not convertible to one ({err}): pass one equally long row per seed."
        ) from None
    if array.dtype == object:
        raise ValueError(
            f"{name} must be an array of per-image correctness (seeds, images); it holds "
            "Python objects (rows of different lengths?): pass one equally long row per seed."
        )
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (seeds, test images), one row per training seed (1-D for "
            f"a single seed); got shape {array.shape}."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"{name} is empty (shape {array.shape}): it needs at least one seed and one "
            "test image."
        )
    if array.dtype != bool:
        if not (np.issubdtype(array.dtype, np.number) and not np.iscomplexobj(array)):
            raise ValueError(
                f"{name} must hold booleans (or 0/1) per image, got dtype {array.dtype}: "
                "pass predictions == labels."
            )
        if not np.isin(array, (0, 1)).all():
            raise ValueError(
                f"{name} must hold booleans (or 0/1) per image, but it has other values "
                f"(e.g. {array[~np.isin(array, (0, 1))].flat[0]!r}): pass predictions == "
                "labels, not predictions, labels or accuracies."
            )
    return array.astype(np.uint8)


def difference_ci(correct_a, correct_b, confidence: float = 0.95, resamples: int = 10_000,
                  seed: int = 0) -> dict:
    """The difference of two models' mean test accuracies (A minus B) and a bootstrap
    confidence interval for it that counts both the test-set noise and the seed noise.

    Args:
        correct_a, correct_b: boolean (or 0/1) arrays of shape ``(seeds, test images)``:
            whether model A (B) classified each test image correctly, one row per
            training seed. The images must be the same, in the same order, for both
            models (equal image counts); the seed counts may differ. A 1-D array is
            one seed.
        confidence: the interval's confidence level, in (0, 1).
        resamples: how many bootstrap resamples (at least 100; the default 10,000 puts
            the Monte-Carlo error of a 95 % bound well below a tenth of a point).
        seed: seeds ``numpy.random.default_rng``: the same inputs and seed give the
            same interval.

    Returns:
        ``{"difference", "low", "high", "confidence", "resamples", "seeds_a",
        "seeds_b", "images"}``: ``difference`` is the mean accuracy of A minus that of
        B on the data (fractions, not points), ``low`` and ``high`` the interval.

    The method, in plain words. Each bootstrap resample imagines the whole experiment
    again: a new test set, drawn from the one we have -- ``images`` images with
    replacement, *the same draw for both models* (the models were tested on the same
    images, so an image that is hard for one tends to be hard for the other, and that
    shared difficulty cancels in the difference) -- and new training runs, drawn for
    each model on its own from its seeds, with replacement (each model's runs are
    independent of the other's). The resample's difference is A's mean accuracy over
    its drawn runs and images minus B's. The interval is the middle ``confidence`` of
    those differences: the percentile bootstrap (Efron & Tibshirani 1993, *An
    Introduction to the Bootstrap*, chapter 13). Resampling the runs as well as the
    images is the point of Bouthillier et al. 2021, "Accounting for Variance in Machine
    Learning Benchmarks" (MLSys 2021): a comparison on one seed, or with the test-set
    noise alone, reads differences between training runs as differences between
    models. With two or three seeds the seed level is only a rough stand-in for the
    spread of runs (a resample can only reuse the seeds there are), so the interval is
    best read as a lower bound on the uncertainty.

    How it is fast: a resampled test set matters only through how many images of each
    *pattern* it holds -- which of the runs got an image right (at most
    ``2 ** (seeds_a + seeds_b)`` patterns, a few dozen). Drawing ``images`` images with
    replacement is drawing those pattern counts from a multinomial with the patterns'
    frequencies, and every run's correct images in a resample are then one small matrix
    product, counts ``(resamples, patterns)`` @ patterns ``(patterns, runs)``. Drawing
    the runs only picks columns.
    """
    a = _correctness(correct_a, "correct_a")
    b = _correctness(correct_b, "correct_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"correct_a and correct_b must cover the same test images in the same order, "
            f"but correct_a has {a.shape[1]} images per seed and correct_b {b.shape[1]}: "
            "compare the models on the same test split."
        )
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) \
            or not 0 < float(confidence) < 1:
        raise ValueError(
            f"confidence must be a number strictly between 0 and 1 (e.g. 0.95 for a 95 % "
            f"interval), got {confidence!r}."
        )
    if isinstance(resamples, bool) or not isinstance(resamples, numbers.Integral) \
            or resamples < 100:
        raise ValueError(
            f"resamples must be an integer of at least 100 (10,000 is the usual choice), "
            f"got {resamples!r}."
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    confidence, resamples = float(confidence), int(resamples)
    seeds_a, seeds_b = a.shape[0], b.shape[0]
    n = a.shape[1]
    # The distinct patterns of correctness over all runs (A's runs first) and how many
    # test images show each; a resample draws pattern counts instead of image indices.
    patterns, frequency = np.unique(np.concatenate([a, b]).T, axis=0, return_counts=True)
    patterns = patterns.astype(np.float64)  # (patterns, seeds_a + seeds_b)
    rng = np.random.default_rng(int(seed))
    chunk = max(1, min(resamples, _CHUNK_ENTRIES // len(patterns)))
    differences = np.empty(resamples)
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        counts = rng.multinomial(n, frequency / n, size=rows)  # (rows, patterns)
        hits = counts @ patterns  # correct images of every run in every resample
        pick_a = rng.integers(0, seeds_a, size=(rows, seeds_a))
        pick_b = rng.integers(0, seeds_b, size=(rows, seeds_b)) + seeds_a
        hits_a = np.take_along_axis(hits, pick_a, axis=1).sum(axis=1)
        hits_b = np.take_along_axis(hits, pick_b, axis=1).sum(axis=1)
        differences[start:start + rows] = hits_a / (seeds_a * n) - hits_b / (seeds_b * n)
    tail = (1 - confidence) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    difference = a.sum() / (seeds_a * n) - b.sum() / (seeds_b * n)
    return {"difference": float(difference), "low": float(low), "high": float(high),
            "confidence": confidence, "resamples": resamples, "seeds_a": seeds_a,
            "seeds_b": seeds_b, "images": n}


def standard_error(p: float, n: int) -> float:
    """The binomial standard error of an accuracy ``p`` (a fraction) measured on ``n``
    images, as a fraction."""
    return math.sqrt(p * (1 - p) / n)


# ------------------------------------------------------- per-image correctness files
def write_correctness(path, correct, **meta) -> Path:
    """Write a boolean correctness vector to ``path`` (``.npz``): ``bits``
    (``np.packbits`` of it, 1/8 byte per image), ``images`` (its length) and ``meta``
    (small values: numbers, strings -- e.g. the checksum of the weights it came from).
    Atomic: a reader never sees half a file."""
    correct = np.asarray(correct)
    if correct.ndim != 1 or correct.dtype != bool:
        raise ValueError(
            f"correct must be a 1-D boolean vector (predictions == labels), got "
            f"{correct.dtype} of shape {correct.shape}."
        )
    reserved = {"bits", "images"} & set(meta)
    if reserved:
        raise ValueError(f"meta must not use the names {sorted(reserved)}: they hold the data.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, bits=np.packbits(correct), images=np.int64(len(correct)),
                            **{k: np.asarray(v) for k, v in meta.items()})
    tmp.replace(path)
    return path


def read_correctness(path) -> tuple[np.ndarray, dict]:
    """``(correct, meta)`` from a file of :func:`write_correctness`: the boolean vector
    and its other entries (as Python values)."""
    with np.load(path, allow_pickle=False) as data:
        images = int(data["images"])
        bits = data["bits"]
        meta = {k: data[k].item() for k in data.files if k not in ("bits", "images")}
    if bits.size != (images + 7) // 8:
        raise ValueError(
            f"{path} is damaged: {bits.size} bytes of bits for {images} images; run "
            "tools/per_image.py --force to write it again."
        )
    return np.unpackbits(bits, count=images).astype(bool), meta


def correctness_path(dataset: str, name: str, results_dir=None) -> Path:
    """Where the per-image correctness of run ``name`` of ``dataset`` is kept:
    ``results/<dataset>/<name>.correct.npz``."""
    if results_dir is None:
        from vitsd.sharing.published import RESULTS_DIR as results_dir
    return Path(results_dir) / dataset / f"{name}{CORRECT_SUFFIX}"


def load_correctness(dataset: str, names, results_dir=None, manifest_path=None) -> np.ndarray:
    """The per-image correctness of the runs ``names`` of ``dataset`` (e.g.
    ``["cpu-vit-s1", "cpu-vit-s2"]``), as a boolean array ``(len(names), images)`` -- the
    input of :func:`difference_ci`. Read from ``results/<dataset>/<name>.correct.npz``
    (default: this checkout's ``results/``), which ``tools/per_image.py`` writes; where
    the file is not there but published (listed in the manifest), it is downloaded and
    checked against its SHA-256 like the weights (:func:`vitsd.sharing.published.fetch`)."""
    from vitsd.sharing import published

    if isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise ValueError("names must list at least one run, e.g. ['cpu-vit-s1'].")
    rows = []
    for name in names:
        path = correctness_path(dataset, name, results_dir)
        key = f"{dataset}/{path.name}"
        # a published file missing from the checkout's results/ (or from a folder given
        # with its own manifest) is downloaded; another folder is read as it is
        downloadable = results_dir is None or manifest_path is not None
        if not path.is_file() and downloadable and key in published.manifest(manifest_path):
            path = published.fetch(dataset, path.name, results_dir=results_dir,
                                   manifest_path=manifest_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: write it with `python tools/per_image.py --dataset "
                f"{dataset} --only {name}` (in a checkout, with the dataset available)."
            )
        rows.append(read_correctness(path)[0])
    lengths = {len(row) for row in rows}
    if len(lengths) != 1:
        raise ValueError(
            f"the runs {names} of {dataset} were scored on different numbers of test "
            f"images ({sorted(lengths)}): rewrite their files with tools/per_image.py --force."
        )
    return np.stack(rows)
