"""A ``.keras`` file saved before vitsd's modules moved into folders still loads.

Keras stores, for each custom object, its ``registered_name`` (``vitsd>ClassName``)
and the ``module`` it came from (``vitsd.spt``, ``vitsd.model``, ``vitsd.schedule``...).
It looks the registered name up first, so the old module paths do not matter as long
as ``import vitsd`` registers the classes. ``tests/fixtures/sl-vit-saved-before-folders``
is a tiny SL-ViT (class token, SPT, LSA, drop path, a WarmUpCosine optimizer) saved by
the flat-layout code, with its logits on four images.
"""

import json
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import vitsd

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sl-vit-saved-before-folders"


def test_the_fixture_names_the_old_module_paths():
    config = zipfile.ZipFile(FIXTURE.with_suffix(".keras")).read("config.json").decode()
    for old in ("vitsd.spt", "vitsd.model", "vitsd.patches", "vitsd.blocks", "vitsd.schedule"):
        assert f'"module": "{old}"' in config
    assert json.loads(config)["class_name"] == "Functional"


@pytest.mark.backend
def test_a_model_saved_before_the_folders_loads_with_the_same_logits():
    data = np.load(FIXTURE.with_suffix(".npz"))
    images = data["images"].astype("float32")
    model = vitsd.load_model(FIXTURE.with_suffix(".keras"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images, training=False)),
                               data["logits"], rtol=1e-5, atol=1e-5)
    with_optimizer = keras.saving.load_model(FIXTURE.with_suffix(".keras"))
    from vitsd.training.schedules import WarmUpCosine

    assert isinstance(with_optimizer.optimizer._learning_rate, WarmUpCosine)
