"""A stand-in for the served model (no LiteRT, no TensorFlow) and the inputs the protocol
tests send it.

:class:`FakeModel` implements :class:`function.runtime.predictor.Predictor`. Its answer can
be worked out by hand: the predicted digit is the number of pixels above one half, modulo
10, and the probabilities are a softmax of that one-hot boost plus a small fixed random
linear map (so they differ from image to image and from class to class). Every batch it is
handed is recorded, so a test can assert the exact float32 array a protocol produced.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from function.contract.spec import SPEC, TensorSpec

VERSION = "20260101T000000Z-0123abcd"
FEATURES = SPEC.input.features
CLASSES = SPEC.output.classes
_WEIGHTS = np.random.default_rng(20260101).normal(size=(FEATURES, CLASSES)) * 0.02
_BOOST = 5.0  # dominates the random part, whose logits differ by far less than 5


def predicted_digit(pixels: np.ndarray) -> np.ndarray:
    """The fake's digit for each row of float32 [N, 784]: pixels above 0.5, modulo 10."""
    return (np.asarray(pixels).reshape(-1, FEATURES) > 0.5).sum(axis=1) % CLASSES


def probabilities(pixels: np.ndarray) -> np.ndarray:
    """What :meth:`FakeModel.predict` answers for float32 [N, 784], computed directly."""
    x = np.asarray(pixels, dtype=np.float64).reshape(-1, FEATURES)
    logits = x @ _WEIGHTS
    logits[np.arange(len(x)), predicted_digit(x)] += _BOOST
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


class FakeModel:
    """A Predictor whose batches are recorded in :attr:`calls`."""

    def __init__(self, version: str = VERSION, spec: TensorSpec = SPEC) -> None:
        self.version = version
        self.spec = spec
        self.calls: list[np.ndarray] = []

    def predict(self, images: np.ndarray) -> np.ndarray:
        # The protocol's promise to the model, checked as the real interpreter would need it.
        if not (
            isinstance(images, np.ndarray)
            and images.dtype == np.float32
            and images.ndim == 2
            and images.shape[1] == self.spec.input.features
            and images.flags.c_contiguous
        ):
            raise TypeError(f"not a C-contiguous float32 [N, 784] batch: {images!r:.200}")
        self.calls.append(images.copy())
        return probabilities(images)

    @property
    def batch(self) -> np.ndarray:
        """The one batch it was called with (fails unless called exactly once)."""
        assert len(self.calls) == 1, f"called {len(self.calls)} times"
        return self.calls[0]


def images(n: int, seed: int = 0) -> np.ndarray:
    """``n`` float32 images [n, 784] in 0..1, each a different predicted digit when n <= 10.

    Image ``i`` has ``(i + seed) % 10 + 10 * (seed % 3)`` pixels above one half (one of
    them exactly 1.0) and the rest below, at random positions and values; pixel 0 is 0.0.
    float32 values are exactly representable in JSON (float32 → Python float → text).
    """
    rng = np.random.default_rng(seed)
    out = rng.uniform(0.0, 0.45, size=(n, FEATURES)).astype(np.float32)
    out[:, 0] = 0.0
    for i in range(n):
        lit = (i + seed) % 10 + 10 * (seed % 3)
        where = rng.choice(np.arange(1, FEATURES), size=lit, replace=False)
        out[i, where] = rng.uniform(0.55, 1.0, size=lit).astype(np.float32)
        if lit:
            out[i, where[0]] = 1.0
    return out


def raw_images(n: int, seed: int = 0) -> np.ndarray:
    """``n`` uint8 images [n, 784] in 0..255 (both ends present)."""
    raw = np.random.default_rng(seed).integers(0, 256, size=(n, FEATURES), dtype=np.uint8)
    raw[:, 0], raw[:, 1] = 0, 255
    return raw


def mnist_like(cuts: int = 0) -> np.ndarray:
    """float32 [784]: a ring already laid out as MNIST's digits are (20 pixels tall, centred
    by mass), which the PNG/JPEG preprocessing gives back unchanged. It has 208 - 8 * cuts
    lit pixels (``cuts`` in 0..2, cut symmetrically): predicted digit 8, 0 or 2."""
    grid = np.zeros((28, 28), np.float32)
    grid[4:24, 8:20] = 1.0
    grid[12:16, 10:18] = 0.0  # the hole
    for k in range(cuts):
        grid[12:16, [8 + k, 19 - k]] = 0.0
    return grid.reshape(FEATURES)


def png(gray: np.ndarray) -> bytes:
    """A grayscale PNG of uint8 [H, W]."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(gray, dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def digit_png(pixels: np.ndarray) -> bytes:
    """One float32 image (784 values in 0..1) as a 28x28 PNG, white ink on black."""
    return png(np.round(np.asarray(pixels).reshape(28, 28) * 255))
