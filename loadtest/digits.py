"""The digits the users send: real MNIST test digits with their labels.

From ``LOADTEST_DATA`` or ``MNIST_PATH`` (an ``.npz`` in Keras' layout, its ``x_test`` /
``y_test``), else the 500-digit sample shipped in ``loadtest/data/`` (MNIST, Yann LeCun and
Corinna Cortes, CC BY-SA 3.0), so nothing else is needed to test a remote endpoint.
``LOADTEST_DIGITS`` (default 1000) caps how many are prepared from a full test set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from function.contract.spec import SPEC
from loadtest.sample import SAMPLE_PATH

DATA_ENVS = ("LOADTEST_DATA", "MNIST_PATH")
DEFAULT_LIMIT = 1000


@dataclass(frozen=True)
class Digits:
    """uint8 images [N, 28, 28] (the raw MNIST layout), int64 labels [N], and their file."""

    images: np.ndarray
    labels: np.ndarray
    source: str


def data_path(env: Mapping[str, str] | None = None) -> Path:
    """The data file: ``LOADTEST_DATA``, else ``MNIST_PATH``, else the shipped sample."""
    env = os.environ if env is None else env
    for name in DATA_ENVS:
        if env.get(name):
            return Path(env[name]).expanduser()
    return SAMPLE_PATH


def load_digits(path: Path | None = None, limit: int | None = None, seed: int = 0) -> Digits:
    """At most ``limit`` test digits of ``path`` (a fixed random subset when there are more)."""
    path = path or data_path()
    limit = limit or int(os.environ.get("LOADTEST_DIGITS", DEFAULT_LIMIT))
    with np.load(path, allow_pickle=False) as data:
        images, labels = data["x_test"], data["y_test"]
    grid = (len(labels), *SPEC.input.image_shape)
    images = np.asarray(images, dtype=np.uint8).reshape(grid)
    if len(labels) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(labels), limit, replace=False))
        images, labels = images[keep], labels[keep]
    return Digits(images, np.asarray(labels, dtype=np.int64), str(path))
