"""MLflow: where runs are stored, what each run records, and the model registry."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from function.contract.manifest import MODEL_NAME
from model.errors import TrackingError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
DEFAULT_EXPERIMENT = "digitrun-mnist"
VERSION_TAG = "digitrun.version"
URI_TAG = "digitrun.uri"


def default_tracking_uri() -> str:
    """A sqlite store inside the project: ``sqlite:///<project>/mlflow.db``."""
    return f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


def configure() -> str:
    """Point MLflow at ``MLFLOW_TRACKING_URI`` (default: the project's sqlite store) and
    select the experiment; telemetry off. Returns the tracking URI."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow  # noqa: PLC0415 (heavy, and must see the telemetry switch first)

    # MLflow logs its store migrations and registry steps at INFO on stderr; keep the
    # command's output to what the user asked for unless LOG_LEVEL says otherwise.
    level = os.environ.get("LOG_LEVEL", "WARNING").upper()
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(level)

    uri = os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    mlflow.set_tracking_uri(uri)
    name = os.environ.get(EXPERIMENT_ENV, DEFAULT_EXPERIMENT)
    try:
        if mlflow.get_experiment_by_name(name) is None:
            mlflow.create_experiment(name, artifact_location=_artifact_location(uri))
        mlflow.set_experiment(name)
    except Exception as exc:  # any store failure is one clear line
        raise TrackingError(f"MLflow store {uri} is not usable: {exc}") from exc
    return uri


def _artifact_location(uri: str) -> str | None:
    """Keep a sqlite store's artifacts beside its database, not in the current directory."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    db = Path(parsed.path[1:] if parsed.path.startswith("//") else parsed.path)
    return (db.parent / "mlartifacts").resolve().as_uri()


def epoch_logger() -> Any:
    """A Keras callback logging every epoch's loss/accuracy/val metrics to the active run."""
    import keras  # noqa: PLC0415
    import mlflow  # noqa: PLC0415

    def log(epoch: int, logs: dict[str, Any] | None) -> None:
        mlflow.log_metrics({k: float(v) for k, v in (logs or {}).items()}, step=epoch)

    return keras.callbacks.LambdaCallback(on_epoch_end=log)


def log_evaluation(summary: dict[str, Any], title: str) -> None:
    """Test accuracy/loss, per-class precision/recall, and the confusion matrix (JSON, PNG)."""
    import mlflow  # noqa: PLC0415

    from model.evaluation import plot_confusion_matrix  # noqa: PLC0415

    metrics = {"test_accuracy": summary["accuracy"], "test_loss": summary["loss"]}
    for digit, row in summary["per_class"].items():
        metrics[f"precision_{digit}"] = row["precision"]
        metrics[f"recall_{digit}"] = row["recall"]
    mlflow.log_metrics(metrics)
    with tempfile.TemporaryDirectory() as tmp:
        matrix = np.asarray(summary["confusion_matrix"])
        (Path(tmp) / "confusion_matrix.json").write_text(json.dumps(matrix.tolist()))
        plot_confusion_matrix(matrix, Path(tmp) / "confusion_matrix.png", title)
        mlflow.log_artifacts(tmp, artifact_path="evaluation")


def log_and_register(model: Any, x_sample: np.ndarray, y_sample: np.ndarray) -> str:
    """Log the Keras model with its signature and register it; the registry version."""
    import mlflow  # noqa: PLC0415
    from mlflow.models import infer_signature  # noqa: PLC0415

    info = mlflow.keras.log_model(
        model,
        name="model",
        signature=infer_signature(x_sample, y_sample),
        registered_model_name=MODEL_NAME,
    )
    return str(info.registered_model_version)


def unregister(registry_version: str) -> None:
    """Remove a registry version whose publication failed: the registry never names a
    version the bucket does not hold."""
    import mlflow  # noqa: PLC0415

    mlflow.MlflowClient().delete_model_version(MODEL_NAME, registry_version)


def record_publication(registry_version: str, version_id: str, uri: str) -> None:
    """Name the published version on the registry entry, so both name the same thing."""
    import mlflow  # noqa: PLC0415

    client = mlflow.MlflowClient()
    client.set_model_version_tag(MODEL_NAME, registry_version, VERSION_TAG, version_id)
    client.set_model_version_tag(MODEL_NAME, registry_version, URI_TAG, uri)
    client.set_registered_model_alias(MODEL_NAME, "published", registry_version)
    mlflow.set_tags({VERSION_TAG: version_id, URI_TAG: uri})
