"""Model behaviour: both architectures build, take the shared input spec and train."""

from __future__ import annotations

import numpy as np
import pytest

from model import architectures
from model.training import compile_model, seed_everything

pytestmark = pytest.mark.slow  # trains models


@pytest.mark.parametrize("arch", architectures.ARCHS)
def test_builds_and_trains_a_step(arch, mnist):
    seed_everything(0)
    hp = {**architectures.DEFAULTS[arch], "epochs": 1}
    model = compile_model(arch, hp, 256)
    assert model.input_shape == (None, 784)
    assert model.output_shape == (None, 10)
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(
        mnist.x_train[:256], mnist.y_train[:256], batch_size=128, epochs=1, verbose=0
    )
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    probs = model.predict(mnist.x_test[:8], verbose=0)
    assert probs.shape == (8, 10)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_mlp_is_the_original_design():
    model = architectures.build_mlp(0.2)
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert [layer.units for layer in dense] == [512, 256, 10]
    assert model.count_params() == 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10


def test_cnn_folds_pixels_without_losing_them():
    """The space-to-depth front keeps every pixel: 28x28x1 → 14x14x4, a permutation."""
    import keras

    model = architectures.build_cnn(0.25)
    fold = keras.Sequential(model.layers[:3])
    image = np.arange(784, dtype=np.float32).reshape(1, 784)
    folded = fold(image).numpy()
    assert folded.shape == (1, 14, 14, 4)
    assert sorted(folded.ravel().tolist()) == list(range(784))
    assert folded[0, 0, 0].tolist() == [0, 1, 28, 29]  # one 2x2 block of the image


def test_unknown_architecture():
    with pytest.raises(ValueError, match="unknown architecture"):
        architectures.build("resnet", 0.1)
