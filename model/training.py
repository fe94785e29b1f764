"""The training job as one plain function: train → evaluate → export (→ quantize) → parity
→ track → publish. The CLI is a thin shell over ``run``; tests call it directly."""

from __future__ import annotations

import logging
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from function.contract.manifest import Manifest
from function.contract.quantization import NONE, QUANTIZATIONS, Quantization
from function.contract.storage import open_store
from model import architectures, quantize, tracking
from model.arguments import DEFAULT_QUANTIZATION
from model.data import Dataset, load_mnist
from model.evaluation import summarize
from model.export import Parity, check_parity, export_keras, export_litert
from model.manifest import build_manifest, git_commit
from model.publish import publish_version

log = logging.getLogger(__name__)
VALIDATION_SPLIT = 0.1


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (the manifest records it)."""

    arch: str = "mlp"
    epochs: int | None = None
    batch_size: int | None = None
    dropout: float | None = None
    learning_rate: float | None = None
    seed: int = 0
    limit: int | None = None
    data: str | None = None
    publish: str = "models"
    verbose: int | str = "auto"
    # int8 (the CLI's default too): serve the int8 quantization, refused unless it passes
    # the gates; none: serve the float file.
    quantize: str = DEFAULT_QUANTIZATION

    def resolved(self) -> dict[str, Any]:
        """Hyperparameters with the architecture's defaults filled in."""
        defaults = architectures.DEFAULTS[self.arch]
        return {
            "epochs": self.epochs if self.epochs is not None else defaults["epochs"],
            "batch_size": self.batch_size or defaults["batch_size"],
            "dropout": self.dropout if self.dropout is not None else defaults["dropout"],
            "learning_rate": self.learning_rate or defaults["learning_rate"],
            "schedule": defaults["schedule"],
            "optimizer": "adam",
            "validation_split": VALIDATION_SPLIT,
            "seed": self.seed,
            "limit": self.limit,
        }


@dataclass(frozen=True)
class TrainResult:
    """What a run produced."""

    uri: str
    manifest: Manifest
    run_id: str
    registry_version: str
    fit_seconds: float


def seed_everything(seed: int) -> None:
    """Python, numpy and TensorFlow seeds, and deterministic TensorFlow ops."""
    import keras  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def compile_model(arch: str, hp: dict[str, Any], train_examples: int) -> Any:
    """Build and compile ``arch`` with Adam and the architecture's learning-rate schedule."""
    import keras  # noqa: PLC0415

    model = architectures.build(arch, hp["dropout"])
    rate: Any = hp["learning_rate"]
    if hp["schedule"] == "cosine":
        fit_examples = math.ceil(train_examples * (1 - VALIDATION_SPLIT))
        steps = max(1, hp["epochs"] * math.ceil(fit_examples / hp["batch_size"]))
        rate = keras.optimizers.schedules.CosineDecay(hp["learning_rate"], steps)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def fit(model: Any, data: Dataset, hp: dict[str, Any], verbose: int | str) -> float:
    """Train in place with per-epoch MLflow logging; seconds spent fitting."""
    start = time.perf_counter()
    model.fit(
        data.x_train,
        data.y_train,
        batch_size=hp["batch_size"],
        epochs=hp["epochs"],
        validation_split=VALIDATION_SPLIT,
        shuffle=True,
        callbacks=[tracking.epoch_logger()],
        verbose=verbose,
    )
    return time.perf_counter() - start


def run(config: TrainConfig) -> TrainResult:
    """Train, evaluate, export, check parity, track in MLflow and publish one version."""
    import mlflow  # noqa: PLC0415

    if config.arch not in architectures.ARCHS:
        raise ValueError(f"unknown architecture {config.arch!r}")
    if config.quantize not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {config.quantize!r}")
    hp = config.resolved()
    destination = open_store(config.publish)
    destination.check()  # fail before training, not after it
    data = load_mnist(config.data).limited(config.limit)
    tracking.configure()
    seed_everything(config.seed)

    with mlflow.start_run() as active:
        run_id = active.info.run_id
        mlflow.log_params(
            {
                "arch": config.arch,
                **hp,
                "data_source": data.source,
                "data_fingerprint": data.fingerprint,
                "train_examples": len(data.y_train),
                "quantize": config.quantize,
            }
        )
        model = compile_model(config.arch, hp, len(data.y_train))
        fit_seconds = fit(model, data, hp, config.verbose)
        mlflow.log_metric("fit_seconds", fit_seconds)

        keras_probs = model.predict(data.x_test, batch_size=1000, verbose=0)
        summary = summarize(data.y_test, keras_probs)
        tracking.log_evaluation(summary, f"{config.arch} — test accuracy {summary['accuracy']:.4f}")
        log.info("test accuracy %.4f, loss %.4f", summary["accuracy"], summary["loss"])
        uri, manifest, registry_version = export_and_publish(
            model, keras_probs, summary, data, config, active.info
        )
    return TrainResult(uri, manifest, run_id, registry_version, fit_seconds)


def export_and_publish(
    model: Any,
    keras_probs: np.ndarray,
    summary: dict[str, Any],
    data: Dataset,
    config: TrainConfig,
    run_info: Any,
) -> tuple[str, Manifest, str]:
    """Export both formats, check parity, register in MLflow and publish the version;
    (its URI, its manifest, the registry version). A failed publication is unregistered."""
    import mlflow  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="digitrun-version-") as tmp:
        staging = Path(tmp)
        parity, quantization = export_files(model, keras_probs, data, config, staging)
        registry_version = tracking.log_and_register(
            model, data.x_test[:5], keras_probs[:5].astype(np.float32)
        )
        manifest = build_manifest(
            directory=staging,
            files=[p.name for p in staging.iterdir()],
            arch=config.arch,
            hyperparameters=config.resolved(),
            data=data,
            summary=summary,
            parity=parity.as_dict(),
            quantization=quantization,
            mlflow_info={
                "run_id": run_info.run_id,
                "experiment_id": run_info.experiment_id,
                "tracking_uri": mlflow.get_tracking_uri(),
                "registered_model": tracking.MODEL_NAME,
                "registered_version": registry_version,
            },
            git=git_commit(tracking.PROJECT_ROOT),
        )
        mlflow.log_dict(manifest.as_dict(), "manifest.json")
        try:
            uri = publish_version(staging, manifest, config.publish)
        except Exception:
            tracking.unregister(registry_version)
            raise
    tracking.record_publication(registry_version, manifest.version, uri)
    return uri, manifest, registry_version


def export_files(
    model: Any, keras_probs: np.ndarray, data: Dataset, config: TrainConfig, staging: Path
) -> tuple[Parity, Quantization | None]:
    """Write the version's model files into ``staging``: ``model.keras``, ``model.tflite``
    (parity with Keras checked) and, unless ``--quantize none``, ``model-int8.tflite`` (its
    gates checked). Every figure goes to MLflow before a gate may refuse the run."""
    import mlflow  # noqa: PLC0415

    export_keras(model, staging)
    tflite = export_litert(model, staging)
    parity = check_parity(keras_probs, tflite, data.x_test)
    mlflow.log_metrics(
        {
            "parity_max_abs_diff": parity.max_abs_diff,
            "parity_argmax_mismatches": parity.argmax_mismatches,
            "tflite_bytes": tflite.stat().st_size,
        }
    )
    if config.quantize == NONE:
        return parity, None
    representative = quantize.representative_set(data.x_train, config.seed)
    int8 = quantize.export_int8(model, staging, representative)
    measured = quantize.measure(keras_probs, int8, data.x_test, data.y_test, len(representative))
    mlflow.log_metrics(
        {
            "int8_test_accuracy": measured.test_accuracy,
            "int8_argmax_agreement": measured.argmax_agreement,
            "int8_accuracy_drop": measured.float_test_accuracy - measured.test_accuracy,
            "int8_tflite_bytes": int8.stat().st_size,
        }
    )
    return parity, quantize.check_gates(measured)


def progress_verbosity() -> int:
    """Keras progress bars on a terminal, one line per epoch otherwise."""
    return 1 if sys.stdout.isatty() else 2
