"""Exporting a trained Keras model: ``model.keras`` (source of truth) and ``model.tflite``
(the LiteRT flatbuffer the service runs), with a parity check between the two."""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from function.contract.manifest import SERVED_FILE, SOURCE_FILE
from function.runtime.litert import LiteRTModel
from model.errors import ParityError

log = logging.getLogger(__name__)
PARITY_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Parity:
    """How closely the LiteRT export reproduces Keras on a set of images."""

    images: int
    max_abs_diff: float
    argmax_mismatches: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "max_abs_diff": self.max_abs_diff,
            "argmax_mismatches": self.argmax_mismatches,
            "tolerance": PARITY_TOLERANCE,
        }


def export_keras(model: Any, directory: Path) -> Path:
    """Save the Keras model (architecture, weights, optimizer state) as ``model.keras``."""
    path = directory / SOURCE_FILE
    model.save(path)
    return path


def export_litert(model: Any, directory: Path) -> Path:
    """Convert to a LiteRT flatbuffer with a dynamic batch dimension: ``model.tflite``."""
    import tensorflow as tf  # noqa: PLC0415 (heavy)

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    path = directory / SERVED_FILE
    chatter = io.StringIO()  # the converter prints its traced signature on stdout
    with contextlib.redirect_stdout(chatter):
        flatbuffer = converter.convert()
    log.debug("LiteRT converter: %s", chatter.getvalue())
    path.write_bytes(flatbuffer)
    return path


def check_parity(keras_probs: np.ndarray, tflite_path: Path, images: np.ndarray) -> Parity:
    """Compare LiteRT's probabilities with Keras' on ``images``; raise ParityError if off."""
    litert_probs = LiteRTModel(tflite_path).predict_many(images)
    diff = float(np.max(np.abs(litert_probs - keras_probs))) if len(images) else 0.0
    mismatches = int(np.sum(litert_probs.argmax(1) != keras_probs.argmax(1)))
    parity = Parity(len(images), diff, mismatches)
    if mismatches or diff > PARITY_TOLERANCE:
        raise ParityError(
            f"LiteRT export differs from Keras on {len(images)} test images: "
            f"{mismatches} argmax mismatches, max |Δp| = {diff:.2e} "
            f"(allowed 0 and {PARITY_TOLERANCE:.0e}); refusing to publish"
        )
    return parity
