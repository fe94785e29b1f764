"""Shared fixtures: the MNIST path, a real GCS emulator, a temp MLflow store, and one small
trained + published model version reused by the training and serving tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.local_stack import ROOT

BUCKET = "digitrun-test"
# A test that asks for one of these trains a model or starts a server: it is marked slow,
# and `make test-fast` (pytest -m "not slow") leaves it out.
SLOW_FIXTURES = frozenset({"published_version", "start_server", "server", "emulator"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def mnist_path() -> str:
    """MNIST_PATH, which tests and CI pass explicitly (the suite runs offline)."""
    path = os.environ.get("MNIST_PATH")
    if not path:
        pytest.fail("set MNIST_PATH to an mnist.npz in Keras' layout (see README)")
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        pytest.fail(f"MNIST_PATH={path} does not exist")
    return str(resolved)


@pytest.fixture(scope="session")
def mnist(mnist_path: str):
    from model.data import load_mnist

    return load_mnist(mnist_path)


@pytest.fixture(scope="session")
def emulator() -> Iterator[str]:
    """A real gcp-storage-emulator on loopback (in memory) with bucket ``digitrun-test``;
    STORAGE_EMULATOR_HOST points at it for this process and its children."""
    from gcp_storage_emulator.server import create_server

    server = create_server("127.0.0.1", 0, in_memory=True, default_bucket=BUCKET)
    server.start()
    host, port = server._api._httpd.server_address
    url = f"http://{host}:{port}"
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = url
    try:
        yield url
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh sqlite MLflow store for one test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    return uri


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600):
    """``python -m model ARGS`` in a child process (the real command line)."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "model", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def published_version(tmp_path_factory: pytest.TempPathFactory, mnist_path: str) -> Path:
    """One small MLP (5,000 examples, 1 epoch) trained by the real CLI and published to a
    local directory: the model the serving tests load. Its directory is returned. It serves
    the float file (``--quantize none``): the serving tests compare its answers with Keras
    and LiteRT at float tolerance, and a model this small fails the int8 gates anyway."""
    base = tmp_path_factory.mktemp("published")
    result = run_cli(
        "train",
        "--arch",
        "mlp",
        "--epochs",
        "1",
        "--limit",
        "5000",
        "--seed",
        "0",
        "--data",
        mnist_path,
        "--publish",
        str(base / "models"),
        "--quantize",
        "none",
        env={"MLFLOW_TRACKING_URI": f"sqlite:///{base / 'mlflow.db'}"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "served: model.tflite (float)" in result.stdout, result.stdout[-3000:]
    return Path(result.stdout.strip().splitlines()[-1])
