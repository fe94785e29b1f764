"""Model behaviour: a training run is tracked in MLflow, registered, and reproducible.

The runs here are tiny (3,000 or 500 examples), too small for the int8 gates, and compare
float files: each asks for ``quantize=NONE`` explicitly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from function.contract.manifest import MODEL_NAME
from function.contract.quantization import NONE
from model import tracking
from model.training import TrainConfig, run

pytestmark = pytest.mark.slow  # trains models


@pytest.fixture(scope="module")
def tracked_run(mnist_path, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tracked")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
    try:
        config = TrainConfig(
            arch="mlp",
            epochs=2,
            limit=3000,
            seed=3,
            data=mnist_path,
            publish=str(tmp / "models"),
            verbose=0,
            quantize=NONE,
        )
        yield run(config), tmp
    finally:
        mp.undo()


@pytest.fixture
def client(tracked_run, monkeypatch):
    import mlflow

    _, tmp = tracked_run
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
    tracking.configure()
    return mlflow.MlflowClient()


def test_params_and_per_epoch_metrics(tracked_run, client):
    result, _ = tracked_run
    data = client.get_run(result.run_id).data
    assert data.params["arch"] == "mlp"
    assert data.params["epochs"] == "2"
    assert data.params["seed"] == "3"
    assert data.params["limit"] == "3000"
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        history = client.get_metric_history(result.run_id, key)
        assert [m.step for m in history] == [0, 1], key
    assert data.metrics["test_accuracy"] == pytest.approx(result.manifest.metrics.test_accuracy)
    for digit in range(10):
        assert f"precision_{digit}" in data.metrics
        assert f"recall_{digit}" in data.metrics


def test_artifacts(tracked_run, client, tmp_path):
    result, _ = tracked_run
    names = {a.path for a in client.list_artifacts(result.run_id, "evaluation")}
    assert names == {"evaluation/confusion_matrix.json", "evaluation/confusion_matrix.png"}
    local = client.download_artifacts(result.run_id, "evaluation/confusion_matrix.json", tmp_path)
    matrix = json.loads(Path(local).read_text())
    assert sum(map(sum, matrix)) == 10000
    png = client.download_artifacts(result.run_id, "evaluation/confusion_matrix.png", tmp_path)
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = client.download_artifacts(result.run_id, "manifest.json", tmp_path)
    assert json.loads(Path(manifest).read_text())["version"] == result.manifest.version


def test_registered_with_the_published_version(tracked_run, client):
    result, _ = tracked_run
    version = client.get_model_version(MODEL_NAME, result.registry_version)
    assert version.run_id == result.run_id
    assert version.tags[tracking.VERSION_TAG] == result.manifest.version
    assert version.tags[tracking.URI_TAG] == result.uri
    assert client.get_model_version_by_alias(MODEL_NAME, "published").version == version.version
    assert result.manifest.mlflow["run_id"] == result.run_id


def test_logged_model_has_a_signature(tracked_run, client):
    import mlflow

    result, _ = tracked_run
    info = mlflow.models.get_model_info(f"models:/{MODEL_NAME}/{result.registry_version}")
    inputs = info.signature.inputs.to_dict()
    assert list(inputs[0]["tensor-spec"]["shape"]) == [-1, 784]


def test_manifest_records_the_run(tracked_run, mnist):
    result, _ = tracked_run
    manifest = result.manifest.as_dict()  # what manifest.json holds
    assert manifest["arch"] == "mlp"
    assert manifest["hyperparameters"]["epochs"] == 2
    assert manifest["dataset"]["fingerprint"] == mnist.limited(3000).fingerprint
    assert manifest["dataset"]["train_examples"] == 3000
    assert set(manifest["files"]) == {"model.keras", "model.tflite"}
    assert manifest["parity"]["images"] == 10000
    assert len(manifest["metrics"]["per_class"]) == 10
    assert manifest["frameworks"]["keras"]
    assert manifest["input"]["shape"] == [None, 784]


def test_same_seed_same_model(tracked_run, mnist, mnist_path, tmp_path, monkeypatch):
    """Training is deterministic for a seed: the same metrics and bit-identical outputs.
    (In one process the flatbuffer bytes differ by the layer names Keras numbers.)"""
    from function.runtime.litert import LiteRTModel

    result, _ = tracked_run
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    again = run(
        TrainConfig(
            arch="mlp",
            epochs=2,
            limit=3000,
            seed=3,
            data=mnist_path,
            publish=str(tmp_path / "models"),
            verbose=0,
            quantize=NONE,
        )
    )
    assert again.manifest.metrics == result.manifest.metrics
    first = LiteRTModel(Path(result.uri) / "model.tflite").predict_many(mnist.x_test)
    second = LiteRTModel(Path(again.uri) / "model.tflite").predict_many(mnist.x_test)
    assert np.array_equal(first, second)


def test_failed_publication_leaves_no_registry_version(mnist_path, tmp_path, monkeypatch):
    """Nothing half-published: the registry never names a version the bucket lacks."""
    import mlflow

    from function.contract.errors import StorageUnavailableError
    from model import training

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")

    def refuse(*_args, **_kwargs):
        raise StorageUnavailableError("cannot reach storage")

    monkeypatch.setattr(training, "publish_version", refuse)
    config = TrainConfig(
        arch="mlp",
        epochs=1,
        limit=500,
        data=mnist_path,
        publish=str(tmp_path / "models"),
        verbose=0,
        quantize=NONE,
    )
    with pytest.raises(StorageUnavailableError):
        run(config)
    versions = mlflow.MlflowClient().search_model_versions(f"name='{MODEL_NAME}'")
    assert versions == []
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())
