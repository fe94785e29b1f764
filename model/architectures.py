"""The two model architectures. Both take the contract's input (float32 [N, 784] in 0..1,
named ``image``) and give its output (10 softmax probabilities, named ``probabilities``),
so one tensor spec serves either."""

from __future__ import annotations

from typing import Any

from function.contract.spec import SPEC

ARCHS = ("mlp", "cnn")
DEFAULTS: dict[str, dict[str, Any]] = {
    # The original design: 784-512-256-10, ReLU, dropout 0.2, Adam, batch 128, 10 epochs.
    "mlp": {
        "epochs": 10,
        "batch_size": 128,
        "dropout": 0.2,
        "learning_rate": 1e-3,
        "schedule": "constant",
    },
    # A small VGG-style convnet with batch normalisation and a decaying learning rate.
    "cnn": {
        "epochs": 8,
        "batch_size": 128,
        "dropout": 0.25,
        "learning_rate": 3e-3,
        "schedule": "cosine",
    },
}


def build_mlp(dropout: float) -> Any:
    """784-512-256-10 MLP with ReLU, dropout and softmax."""
    import keras  # noqa: PLC0415 (heavy)
    from keras import layers  # noqa: PLC0415

    return keras.Sequential(
        [
            _input(keras),
            layers.Dense(512, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(256, activation="relu"),
            layers.Dropout(dropout),
            _output(layers),
        ],
        name="mlp",
    )


def build_cnn(dropout: float) -> Any:
    """A small convnet sized for CPU training.

    The 28x28 image is first folded into 14x14x4 (each 2x2 pixel block becomes 4 channels,
    "space to depth"): convolutions with a single input channel are slow on TensorFlow's
    CPU kernels, and this halves the work of the first layer at no loss of information.
    Then two conv3x3 + batch-norm + max-pool stages (64, 128 filters), dense 128, softmax.
    """
    import keras  # noqa: PLC0415 (heavy)
    from keras import layers  # noqa: PLC0415

    def conv(filters: int) -> list[Any]:
        return [
            layers.Conv2D(filters, 3, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.MaxPooling2D(padding="same"),
        ]

    height, width = SPEC.input.image_shape
    return keras.Sequential(
        [
            _input(keras),
            layers.Reshape((height // 2, 2, width // 2, 2)),
            layers.Permute((1, 3, 2, 4)),
            layers.Reshape((height // 2, width // 2, 4)),
            *conv(64),
            *conv(128),
            layers.Flatten(),
            layers.Dropout(dropout),
            layers.Dense(128, use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Dropout(dropout),
            _output(layers),
        ],
        name="cnn",
    )


def _input(keras: Any) -> Any:
    """The contract's input tensor: [N, 784] float32, named ``image``."""
    return keras.Input(shape=(SPEC.input.features,), name=SPEC.input.name, dtype=SPEC.input.dtype)


def _output(layers: Any) -> Any:
    """The contract's output layer: 10 softmax probabilities, named ``probabilities``."""
    return layers.Dense(SPEC.output.classes, activation="softmax", name=SPEC.output.name)


def build(arch: str, dropout: float) -> Any:
    """The named architecture, not yet compiled."""
    if arch == "mlp":
        return build_mlp(dropout)
    if arch == "cnn":
        return build_cnn(dropout)
    raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
