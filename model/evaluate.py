"""Re-measuring a published version: download, verify every checksum, recompute the test
accuracy with the float LiteRT file and, when the version serves an int8 quantization, the
quantized file's accuracy and argmax agreement, and compare them with the manifest."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from function.contract.manifest import SERVED_FILE, Manifest
from function.contract.quantization import Quantization
from function.contract.storage import fetch_version
from function.runtime.litert import LiteRTModel
from model.data import Dataset, load_mnist
from model.errors import EvaluationError
from model.evaluation import accuracy
from model.quantize import measure

ACCURACY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class EvaluationReport:
    """The outcome of ``evaluate_version``."""

    version: str
    files: int
    images: int
    accuracy: float
    manifest_accuracy: float
    quantized: Quantization | None = None  # re-measured, when the version serves int8


def evaluate_version(uri: str, data_path: str | None) -> EvaluationReport:
    """Verify the version at ``uri`` and check its accuracy on the MNIST test set."""
    data = load_mnist(data_path)
    with tempfile.TemporaryDirectory(prefix="digitrun-eval-") as tmp:
        manifest = fetch_version(uri, Path(tmp))
        expected = manifest.dataset.sha256
        for key in ("x_test", "y_test"):
            if expected.get(key) != data.sha256[key]:
                raise EvaluationError(
                    f"{key} of {data.source} differs from the data the version was measured on"
                )
        model = LiteRTModel(Path(tmp) / SERVED_FILE, manifest.spec)
        probabilities = model.predict_many(data.x_test)
        quantized = _remeasure_quantized(manifest, Path(tmp), probabilities, data)
    measured = accuracy(data.y_test, probabilities.argmax(axis=1))
    recorded = manifest.metrics.test_accuracy
    if abs(measured - recorded) > ACCURACY_TOLERANCE:
        raise EvaluationError(
            f"{manifest.version}: LiteRT accuracy {measured:.6f} != manifest {recorded:.6f}"
        )
    return EvaluationReport(
        manifest.version, len(manifest.files), len(data.y_test), measured, recorded, quantized
    )


def _remeasure_quantized(
    manifest: Manifest, directory: Path, float_probs: np.ndarray, data: Dataset
) -> Quantization | None:
    """The quantized served file's figures measured again; EvaluationError when they are
    not the manifest's."""
    recorded = manifest.quantization
    if recorded is None:
        return None
    path = directory / manifest.served_file
    again = measure(float_probs, path, data.x_test, data.y_test, recorded.representative_examples)
    for name in ("test_accuracy", "float_test_accuracy", "argmax_agreement"):
        mine, theirs = getattr(again, name), getattr(recorded, name)
        if abs(mine - theirs) > ACCURACY_TOLERANCE:
            raise EvaluationError(
                f"{manifest.version}: {manifest.served_file} {name} {mine:.6f} "
                f"!= manifest {theirs:.6f}"
            )
    return again
