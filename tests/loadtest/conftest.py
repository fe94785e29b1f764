"""The load tests start real servers with the serving tests' fixtures: the published test
model, and a second model trained by the real CLI on MNIST with every label moved to the
next digit, which answers well-formed but wrong digits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scripts.local_stack import BIN, ROOT, ServerProcess
from tests.conftest import run_cli
from tests.function.conftest import start_server  # noqa: F401 (fixture)

RUN_TIMEOUT = 120


@pytest.fixture(scope="session")
def load_server(start_server) -> ServerProcess:  # noqa: F811
    """One server (one worker) with the published test model, for the load tests."""
    return start_server()


@pytest.fixture(scope="session")
def wrong_version(tmp_path_factory: pytest.TempPathFactory, mnist_path: str) -> Path:
    """An MLP trained (3,000 examples, 1 epoch) on MNIST whose labels are all (y + 1) mod
    10: its own test set says it is right, real digits say it is wrong. Float
    (``--quantize none``): a model this small fails the int8 gates."""
    base = tmp_path_factory.mktemp("wrong")
    with np.load(mnist_path) as data:
        shifted = {
            "x_train": data["x_train"][:3000],
            "y_train": (data["y_train"][:3000] + 1) % 10,
            "x_test": data["x_test"][:1000],
            "y_test": (data["y_test"][:1000] + 1) % 10,
        }
    np.savez(base / "shifted.npz", **shifted)
    result = run_cli(
        "train", "--arch", "mlp", "--epochs", "1", "--limit", "3000", "--seed", "0",
        "--data", str(base / "shifted.npz"), "--publish", str(base / "models"),
        "--quantize", "none",
        env={"MLFLOW_TRACKING_URI": f"sqlite:///{base / 'mlflow.db'}"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def wrong_server(start_server, wrong_version: Path) -> ServerProcess:  # noqa: F811
    return start_server(MODEL_URI=str(wrong_version))


def run_locust(url: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Plain ``locust -f loadtest/locustfile.py --headless ARGS --host URL``."""
    return subprocess.run(
        [str(BIN / "locust"), "-f", "loadtest/locustfile.py", "--headless", *args, "--host", url],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def run_runner(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m loadtest ARGS --quiet``."""
    return subprocess.run(
        [sys.executable, "-m", "loadtest", *args, "--quiet"],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
