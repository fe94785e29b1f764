"""Labelled MNIST test digits to send: from ``--data`` / ``MNIST_PATH`` (an ``.npz`` in
Keras' layout, ``x_test`` / ``y_test``), else the sample shipped with the client.

``mnist_sample.npz`` holds the first 500 digits of the MNIST test set (uint8 [500, 28, 28])
and their labels. MNIST: Yann LeCun and Corinna Cortes, the MNIST database, made available
under the Creative Commons Attribution-Share Alike 3.0 license (CC BY-SA 3.0).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from client.errors import UsageError
from client.png import encode_gray
from function.contract.spec import SPEC

SAMPLE = Path(__file__).with_name("mnist_sample.npz")


@dataclass(frozen=True)
class Digits:
    """Test digits (uint8 [N, 28, 28], white ink on black) and their labels."""

    images: np.ndarray
    labels: np.ndarray
    source: str
    first: int = 0  # index of images[0] in the source

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, first: int, count: int) -> Digits:
        """``count`` digits from index ``first``; a UsageError when the source is short."""
        if first < 0 or count < 1:
            raise UsageError(f"digit index {first} / count {count}: need index >= 0, count >= 1")
        if first + count > len(self):
            hint = "" if self.source != "the bundled sample" else " (use --data for more)"
            raise UsageError(
                f"{self.source} holds {len(self)} test digits: cannot take {count} "
                f"from index {first}{hint}"
            )
        end = first + count
        return Digits(self.images[first:end], self.labels[first:end], self.source, first)

    def describe(self) -> str:
        """ "#3" or "#0-49" (indices in the source) and the source."""
        span = f"#{self.first}" if len(self) == 1 else f"#{self.first}-{self.first + len(self) - 1}"
        return f"{span} of {self.source}"


def load_digits(path: str | None) -> Digits:
    """The test digits of the ``.npz`` at ``path``, or the bundled sample when None."""
    file = Path(path).expanduser() if path else SAMPLE
    source = str(file) if path else "the bundled sample"
    if not file.is_file():
        raise UsageError(f"MNIST file {file} does not exist (--data / MNIST_PATH)")
    try:
        with np.load(file) as data:
            images, labels = data["x_test"], data["y_test"]
    except KeyError:
        raise UsageError(f"{file} has no x_test / y_test (Keras' mnist.npz layout)") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UsageError(f"{file} is not a readable .npz file: {exc}") from None
    shape = (len(labels), *SPEC.input.image_shape)
    if images.dtype != np.uint8 or images.shape != shape:
        raise UsageError(
            f"{file}: x_test is {images.dtype} {list(images.shape)}, expected uint8 {list(shape)}"
        )
    return Digits(images, labels.astype(np.int64), source)


def digit_png(image: np.ndarray) -> bytes:
    """A test digit as a user would upload it: a PNG, dark ink on white paper."""
    return encode_gray(np.uint8(SPEC.input.raw_max) - image)
