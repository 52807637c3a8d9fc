"""Optional checks on real photographs: the CIFAR-10 JPEG training split kept in
../shared/data beside the checkout. Skipped cleanly where that folder is absent."""

import io
from pathlib import Path

import numpy as np
import pytest

from vitsd.config import Config
from vitsd.data import load_dataset

NPZ = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10_jpeg_train.npz"
pytestmark = pytest.mark.skipif(not NPZ.is_file(), reason=f"real images not present at {NPZ}")


@pytest.fixture(scope="module")
def real_images():
    from PIL import Image

    data = np.load(NPZ)
    offsets, jpeg, labels = data["offsets"], data["jpeg"], data["labels"]
    names = [str(n) for n in data["label_names"]]
    rng = np.random.default_rng(0)
    picks = np.concatenate([rng.choice(np.flatnonzero(labels == c), 6, replace=False)
                            for c in range(3)])
    images = np.stack([np.asarray(Image.open(io.BytesIO(jpeg[offsets[i]:offsets[i + 1]].tobytes()))
                                  .convert("RGB")) for i in picks])
    return images, labels[picks], names


def test_image_folder_loader_reads_real_photos_losslessly(tmp_path, real_images):
    from PIL import Image

    images, labels, names = real_images
    for k, (img, label) in enumerate(zip(images, labels)):
        folder = tmp_path / names[label]
        folder.mkdir(exist_ok=True)
        Image.fromarray(img).save(folder / f"{k}.png")
    data = load_dataset(str(tmp_path), seed=0)
    assert data.class_names == sorted(names[c] for c in set(labels.tolist()))
    loaded = np.concatenate([data.x_train, data.x_test])
    assert len(loaded) == len(images)
    # Every photo comes back pixel for pixel (PNG is lossless, size already 32x32).
    originals = {img.tobytes() for img in images}
    assert {img.tobytes() for img in loaded} == originals


def test_attention_maps_of_real_photos_are_finite_distributions(real_images):
    import vitsd

    images, _, _ = real_images
    config = Config(num_layers=2, head_units=(32,), num_classes=10)
    model = vitsd.build_named("sl-vit", config)
    vitsd.adapt_normalization(model, images)
    maps = vitsd.attention_maps(model, images[:4])
    assert maps.shape == (4, 12, 12) and np.isfinite(maps).all()
    np.testing.assert_allclose(maps.sum((1, 2)), 1.0, rtol=1e-5)


# The whole archive through load_dataset (its 45,000 + 5,000 split, by name and by path):
# tests/training/test_cpu_preset.py::test_the_hold_out_is_the_same_for_every_run_seed,
# which decodes it anyway.
