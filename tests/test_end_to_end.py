"""The smoke run: train a small MLP with the real CLI, publish it to the real GCS emulator,
then verify and re-measure it with ``evaluate`` and see it in ``list``."""

from __future__ import annotations

import json

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from tests.conftest import BUCKET, run_cli

pytestmark = pytest.mark.slow  # trains models


def test_train_publish_evaluate(emulator, mnist_path, tmp_path):
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    base = f"gs://{BUCKET}/e2e/models"
    trained = run_cli(
        "train",
        "--arch",
        "mlp",
        "--limit",
        "5000",
        "--epochs",
        "1",
        "--data",
        mnist_path,
        "--publish",
        base,
        env=env,
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "36/36" in trained.stdout and "val_accuracy" in trained.stdout  # Keras progress
    uri = trained.stdout.strip().splitlines()[-1]
    assert uri.startswith(base + "/")
    version = uri.rsplit("/", 1)[1]

    client = storage.Client(project="test", credentials=AnonymousCredentials())
    names = {b.name for b in client.list_blobs(BUCKET, prefix=f"e2e/models/{version}/")}
    assert names == {
        f"e2e/models/{version}/{n}" for n in ("manifest.json", "model.keras", "model.tflite")
    }
    manifest = json.loads(
        client.bucket(BUCKET).blob(f"e2e/models/{version}/manifest.json").download_as_bytes()
    )
    assert manifest["version"] == version
    assert manifest["metrics"]["test_accuracy"] > 0.85

    evaluated = run_cli("evaluate", uri, "--data", mnist_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "every sha256 matches" in evaluated.stdout
    assert f"{manifest['metrics']['test_accuracy']:.4f}" in evaluated.stdout

    listed = run_cli("list", base)
    assert listed.returncode == 0, listed.stderr
    assert version in listed.stdout and "complete" in listed.stdout
