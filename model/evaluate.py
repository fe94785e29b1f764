"""Re-measuring a published version: download, verify every checksum, recompute the test
accuracy with the LiteRT artifact (what the service runs) and compare with the manifest."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from function.contract.manifest import SERVED_FILE
from function.contract.storage import fetch_version
from function.runtime.litert import LiteRTModel
from model.data import load_mnist
from model.errors import EvaluationError
from model.evaluation import accuracy

ACCURACY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class EvaluationReport:
    """The outcome of ``evaluate_version``."""

    version: str
    files: int
    images: int
    accuracy: float
    manifest_accuracy: float


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
    measured = accuracy(data.y_test, probabilities.argmax(axis=1))
    recorded = manifest.metrics.test_accuracy
    if abs(measured - recorded) > ACCURACY_TOLERANCE:
        raise EvaluationError(
            f"{manifest.version}: LiteRT accuracy {measured:.6f} != manifest {recorded:.6f}"
        )
    return EvaluationReport(
        manifest.version, len(manifest.files), len(data.y_test), measured, recorded
    )
