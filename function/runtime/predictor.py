"""The one interface every protocol calls: a model version that predicts digits.

:class:`function.runtime.served.ServedModel` is the real one (a verified LiteRT model); the
protocol unit tests pass a small fake, so request parsing is tested without a server.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from function.contract.spec import TensorSpec


class Predictor(Protocol):
    """A model version: its id, its tensor spec, and probabilities for a batch."""

    version: str
    spec: TensorSpec

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities [N, classes] for a C-contiguous float32 batch [N, features]."""
        ...
