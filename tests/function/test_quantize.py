"""``train --quantize int8`` end to end: a real small training run publishes a version that
serves its int8 file, the manifest records the quantization and its figures, ``evaluate``
re-measures both files, the release gate reads the served file's accuracy, and the function
serves the int8 file through the same interface."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import requests

from function.contract.manifest import INT8_FILE, SERVED_FILE
from function.runtime.litert import LiteRTModel
from loadtest import checks
from scripts.local_stack import ServerProcess, start_function
from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # trains a model, starts a server

# 20,000 examples, 2 epochs, seed 0: its int8 file passes the gates (argmax agreement 99.87%,
# accuracy drop 0.01 point); at this size the margin depends on the seed (seed 2: 99.76%,
# refused), and the suite's 5,000 x 1 model is refused (tests/model/test_quantize.py).
LIMIT, EPOCHS = "20000", "2"


@pytest.fixture(scope="module")
def int8_run(tmp_path_factory: pytest.TempPathFactory, mnist_path: str):
    """(the CLI's result, the published version's directory, the MLflow store URI)."""
    base = tmp_path_factory.mktemp("int8")
    store = f"sqlite:///{base / 'mlflow.db'}"
    result = run_cli(
        *("train", "--arch", "mlp", "--epochs", EPOCHS, "--limit", LIMIT, "--seed", "0"),
        *("--data", mnist_path, "--publish", str(base / "models"), "--quantize", "int8"),
        env={"MLFLOW_TRACKING_URI": store},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result, Path(result.stdout.strip().splitlines()[-1]), store


@pytest.fixture(scope="module")
def int8_version(int8_run) -> Path:
    return int8_run[1]


def test_the_manifest_records_the_quantization(int8_run):
    result, version, _ = int8_run
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["runtime"] == {"file": INT8_FILE, "engine": "litert", "quantization": "int8"}
    assert set(manifest["files"]) == {"model.keras", SERVED_FILE, INT8_FILE}
    figures = manifest["quantization"]
    assert figures["mode"] == "int8"
    assert figures["float_test_accuracy"] == manifest["metrics"]["test_accuracy"]
    assert figures["float_test_accuracy"] - figures["test_accuracy"] <= 0.001
    assert figures["argmax_agreement"] >= 0.998
    assert (figures["images"], figures["representative_examples"]) == (10000, 500)
    assert (figures["max_accuracy_drop"], figures["min_argmax_agreement"]) == (0.001, 0.998)
    assert manifest["parity"]["argmax_mismatches"] == 0  # the float file: bit-parity as before
    sizes = {name: entry["size"] for name, entry in manifest["files"].items()}
    assert sizes[INT8_FILE] < sizes[SERVED_FILE] / 3
    assert f"served: {INT8_FILE} (int8)" in result.stdout
    # No converter warning, no native chatter: only MLflow's registry lines.
    registry = ("Successfully registered model", "Created version")
    assert [line for line in result.stderr.splitlines() if not line.startswith(registry)] == []


def test_mlflow_records_the_quantization(int8_run):
    import mlflow

    _, version, store = int8_run
    manifest = json.loads((version / "manifest.json").read_text())
    run = mlflow.MlflowClient(store).get_run(manifest["mlflow"]["run_id"])
    assert run.data.params["quantize"] == "int8"
    metrics = run.data.metrics
    assert metrics["int8_test_accuracy"] == manifest["quantization"]["test_accuracy"]
    assert metrics["int8_argmax_agreement"] == manifest["quantization"]["argmax_agreement"]
    assert metrics["int8_tflite_bytes"] == manifest["files"][INT8_FILE]["size"]
    assert metrics["tflite_bytes"] == manifest["files"][SERVED_FILE]["size"]


def test_evaluate_and_the_release_gate(int8_version, mnist_path, capsys):
    from model.cli import main

    assert main(["evaluate", str(int8_version), "--data", mnist_path]) == 0
    out = capsys.readouterr().out
    assert "verified: 3 files" in out
    assert "accuracy (int8, served): " in out
    served = json.loads((int8_version / "manifest.json").read_text())["quantization"]
    floor = served["test_accuracy"]
    assert main(["check", str(int8_version), "--min-accuracy", str(floor)]) == 0
    assert "(mlp, int8)" in capsys.readouterr().out
    assert main(["check", str(int8_version), "--min-accuracy", str(floor + 0.0001)]) == 1
    assert "test accuracy (int8)" in capsys.readouterr().err


def test_evaluate_refuses_a_recorded_figure_the_file_does_not_give(
    int8_version, tmp_path, mnist_path
):
    import shutil

    from model.errors import EvaluationError
    from model.evaluate import evaluate_version

    copy = tmp_path / int8_version.name
    shutil.copytree(int8_version, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["quantization"]["argmax_agreement"] = 1.0
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(EvaluationError, match=rf"{INT8_FILE} argmax_agreement"):
        evaluate_version(str(copy), mnist_path)


@pytest.fixture(scope="module")
def int8_server(int8_version: Path, tmp_path_factory: pytest.TempPathFactory):
    env = {**os.environ, "WORKERS": "1", "PYTHONUNBUFFERED": "1", "MODEL_URI": str(int8_version)}
    server: ServerProcess = start_function(
        env, log_path=tmp_path_factory.mktemp("server") / "server.log"
    )
    try:
        server.wait_ready(30.0)
        yield server
    finally:
        server.stop()


def test_the_function_serves_the_int8_file(int8_server, int8_version, mnist):
    x = mnist.x_test[:20]
    quantized = LiteRTModel(int8_version / INT8_FILE).predict_many(x)
    float_probs = LiteRTModel(int8_version / SERVED_FILE).predict_many(x)
    assert not np.array_equal(quantized, float_probs)  # the two files answer differently
    # The int8 file's softmax moves in steps of 1/256: its rows miss 1 by a step or more
    # (a sure digit tops out at 255/256); the function divides each row by its sum.
    assert np.abs(quantized.sum(axis=1) - 1).max() >= 1 / 256 - 1e-6
    served = quantized / quantized.sum(axis=1, keepdims=True)

    response = requests.post(f"{int8_server.url}/predict", json={"images": x.tolist()}, timeout=5)
    assert response.status_code == 200, response.text
    body = response.json()
    np.testing.assert_allclose(body["probabilities"], served, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.sum(body["probabilities"], axis=1), 1, rtol=0, atol=1e-6)
    assert body["predictions"] == quantized.argmax(axis=1).tolist()
    # The load test's answer check (probabilities summing to 1 within 1e-3) accepts it.
    assert checks.predict_batch(response.content, {}, len(x)).tolist() == body["predictions"]

    single = requests.post(f"{int8_server.url}/predict", json={"image": x[0].tolist()}, timeout=5)
    assert single.status_code == 200, single.text
    assert single.json()["confidence"] == pytest.approx(served[0].max(), abs=1e-6)

    v2 = requests.post(
        f"{int8_server.url}/v2/models/mnist/infer",
        json={
            "inputs": [
                {
                    "name": "image",
                    "shape": [20, 784],
                    "datatype": "FP32",
                    "data": x.ravel().tolist(),
                }
            ]
        },
        timeout=5,
    )
    assert v2.status_code == 200, v2.text
    outputs = {output["name"]: output for output in v2.json()["outputs"]}
    output = outputs["probabilities"]
    assert output["datatype"] == "FP32" and output["shape"] == [20, 10]
    np.testing.assert_allclose(np.reshape(output["data"], (20, 10)), served, atol=1e-6)

    manifest = json.loads((int8_version / "manifest.json").read_text())
    (loaded,) = [e for e in int8_server.json_lines() if e["message"].endswith(" loaded")]
    assert loaded["file"] == INT8_FILE and loaded["quantization"] == "int8"
    assert loaded["sha256"] == manifest["files"][INT8_FILE]["sha256"]
    assert loaded["test_accuracy"] == manifest["quantization"]["test_accuracy"]
