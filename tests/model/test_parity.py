"""Model behaviour: the LiteRT export reproduces Keras, and a mismatch blocks publishing."""

from __future__ import annotations

import numpy as np
import pytest

from function.runtime.litert import LiteRTModel
from model.errors import ParityError
from model.export import PARITY_TOLERANCE, check_parity, export_keras, export_litert
from model.training import compile_model, seed_everything

pytestmark = pytest.mark.slow  # trains models


@pytest.fixture(scope="module")
def small_model(mnist):
    seed_everything(0)
    hp = {
        "dropout": 0.2,
        "learning_rate": 1e-3,
        "schedule": "constant",
        "epochs": 1,
        "batch_size": 128,
    }
    model = compile_model("mlp", hp, 2000)
    model.fit(mnist.x_train[:2000], mnist.y_train[:2000], batch_size=128, epochs=1, verbose=0)
    return model


def test_parity_on_all_test_images(small_model, mnist, tmp_path):
    keras_probs = small_model.predict(mnist.x_test, batch_size=1000, verbose=0)
    tflite = export_litert(small_model, tmp_path)
    parity = check_parity(keras_probs, tflite, mnist.x_test)
    assert parity.images == 10000
    assert parity.argmax_mismatches == 0
    assert parity.max_abs_diff <= PARITY_TOLERANCE


def test_litert_keeps_a_dynamic_batch(small_model, mnist, tmp_path):
    runner = LiteRTModel(export_litert(small_model, tmp_path))
    for n in (1, 7, 256, 1):
        assert runner.predict(np.ascontiguousarray(mnist.x_test[:n])).shape == (n, 10)


def test_a_different_model_is_refused(small_model, mnist, tmp_path):
    tflite = export_litert(small_model, tmp_path)
    weights = small_model.get_weights()
    small_model.set_weights([w * 1.01 for w in weights])
    try:
        other_probs = small_model.predict(mnist.x_test, batch_size=1000, verbose=0)
    finally:
        small_model.set_weights(weights)
    with pytest.raises(ParityError, match="refusing to publish"):
        check_parity(other_probs, tflite, mnist.x_test)


def test_keras_export_reloads(small_model, mnist, tmp_path):
    import keras

    path = export_keras(small_model, tmp_path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        reloaded.predict(mnist.x_test[:10], verbose=0),
        small_model.predict(mnist.x_test[:10], verbose=0),
        atol=1e-6,
    )
