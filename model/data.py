"""Loading MNIST: from an ``.npz`` path (flag or ``MNIST_PATH``) or Keras' own download."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from function.contract.spec import SPEC
from model.errors import DataError

DATA_ENV = "MNIST_PATH"
KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Dataset:
    """MNIST as the models take it: float32 [N, 784] in 0..1 and int labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: dict[str, str]

    @property
    def fingerprint(self) -> str:
        """One sha256 over the four arrays' hashes (each of the raw uint8 ``tobytes()``)."""
        joined = "".join(self.sha256[k] for k in KEYS)
        return hashlib.sha256(joined.encode()).hexdigest()

    def limited(self, limit: int | None) -> Dataset:
        """The first ``limit`` training examples (all when ``limit`` is None)."""
        if limit is None or limit >= len(self.y_train):
            return self
        return Dataset(
            self.x_train[:limit],
            self.y_train[:limit],
            self.x_test,
            self.y_test,
            self.source,
            self.sha256,
        )


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The four raw uint8 arrays of an MNIST ``.npz`` in Keras' layout."""
    if not path.is_file():
        raise DataError(f"MNIST file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in KEYS if k not in archive.files]
            if missing:
                raise DataError(f"{path}: not Keras' mnist.npz layout (missing {missing})")
            arrays = {k: archive[k] for k in KEYS}
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: cannot read MNIST arrays ({exc})") from exc
    return arrays


def download_keras() -> dict[str, np.ndarray]:
    """Keras' own MNIST download (cached in ~/.keras/datasets)."""
    import keras  # noqa: PLC0415 (heavy)

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # any download failure becomes one clear line
        raise DataError(f"could not download MNIST with Keras ({exc}); pass --data") from exc
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def check_layout(arrays: dict[str, np.ndarray], source: str) -> None:
    """MNIST's shapes and dtypes (the spec's raw images): [N, 28, 28] uint8, labels [N] in
    0..9."""
    spec = SPEC.input
    grid = spec.image_shape
    raw = f"{spec.raw_dtype}[N,{grid[0]},{grid[1]}]"
    last = SPEC.output.classes - 1
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != grid or x.dtype != np.dtype(spec.raw_dtype):
            raise DataError(f"{source}: x_{split} is {x.dtype}{list(x.shape)}, not {raw}")
        if y.shape != (x.shape[0],):
            raise DataError(f"{source}: y_{split} has {y.shape[0]} labels for {x.shape[0]} images")
        if y.size and (y.min() < 0 or y.max() > last):
            raise DataError(f"{source}: y_{split} holds labels outside 0..{last}")


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28] → float32 [N, 784] in 0..1: the contract's one scaling."""
    return SPEC.input.scale(images)


def load_mnist(path: str | Path | None = None) -> Dataset:
    """MNIST from ``path``; when None, Keras' normal download."""
    if path:
        arrays = read_npz(Path(path).expanduser())
        source = str(path)
    else:
        arrays = download_keras()
        source = "keras.datasets.mnist"
    check_layout(arrays, source)
    sha = {k: hashlib.sha256(np.ascontiguousarray(arrays[k]).tobytes()).hexdigest() for k in KEYS}
    return Dataset(
        x_train=to_model_input(arrays["x_train"]),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=to_model_input(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        source=source,
        sha256=sha,
    )


def class_prior(labels: np.ndarray) -> list[float]:
    """The share of each digit 0..9 among ``labels``."""
    counts = np.bincount(labels, minlength=SPEC.output.classes).astype(np.float64)
    return (counts / max(counts.sum(), 1.0)).round(6).tolist()
