"""The servers under test: their start commands and environments, started pinned to one CPU
(the unit Cloud Run bills) and stopped around each measurement, and their memory and
on-disk footprint."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from scripts.local_stack import (
    BIN,
    ROOT,
    ServerProcess,
    child_env,
    functions_framework_command,
    wait_for_port,
)

SERVER_CPU = "0"  # the server under test
LOAD_CPU = "1"  # the load generator (wrk, Locust)


@dataclass(frozen=True)
class Ready:
    """How to tell a started server is serving: a 200 from ``method path`` within
    ``timeout`` seconds (the port must accept connections first)."""

    path: str
    method: str = "GET"
    body: bytes | None = None
    timeout: float = 90


@contextlib.contextmanager
def pinned_server(
    argv: list[str], env: dict[str, str], port: int, ready: Ready
) -> Iterator[ServerProcess]:
    """``argv`` serving on ``port`` on CPU 0, yielded once ready, stopped on exit."""
    server = ServerProcess(argv, env, port, cpu=SERVER_CPU)
    try:
        wait_for_port(port, server.process, ready.timeout)
        server.wait_ready(ready.timeout, ready.path, ready.method, ready.body)
        yield server
    finally:
        server.stop()


def serving_env(model_uri: str, emulator_url: str, **extra: str) -> dict[str, str]:
    """The function's environment: its model at ``model_uri``, GCS at the emulator."""
    return child_env(MODEL_URI=model_uri, STORAGE_EMULATOR_HOST=emulator_url, **extra)


def noop_asgi_command(port: int) -> list[str]:
    """functions-framework's no-model handler in ASGI mode: the framework's own floor."""
    return functions_framework_command(port, "bench/references/noop_asgi.py")


def noop_flask_command(port: int) -> list[str]:
    """functions-framework's no-model handler in Flask mode."""
    return functions_framework_command(port, "bench/references/noop_flask.py", asgi=False)


def original_flask_command(port: int) -> list[str]:
    """The original design: Flask + Keras ``predict`` under one gunicorn worker."""
    return [
        str(BIN / "gunicorn"),
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        "1",
        "bench.references.original_flask:app",
    ]


def original_flask_env(version: Path) -> dict[str, str]:
    """The original design's environment: the version's Keras model."""
    return child_env(MODEL_KERAS=str(version / "model.keras"), TF_CPP_MIN_LOG_LEVEL="2")


def mlflow_serve_command(port: int, run_id: str) -> list[str]:
    """``mlflow models serve`` of the run's logged Keras model, one worker."""
    return [
        str(BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        f"runs:/{run_id}/model",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        "1",
    ]


def mlflow_env(state: Path) -> dict[str, str]:
    """``mlflow models serve``'s environment: the benchmark's tracking store, this venv."""
    return child_env(
        MLFLOW_TRACKING_URI=f"sqlite:///{state / 'mlflow.db'}",
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        MLFLOW_DISABLE_TELEMETRY="true",
        TF_CPP_MIN_LOG_LEVEL="2",
    )


def tree_rss_mb(pid: int) -> list[float]:
    """RSS (MB) of a process and each of its children."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        return [round(p.memory_info().rss / 2**20, 1) for p in procs]
    except psutil.NoSuchProcess:
        return []


def dir_size_mb(path: Path) -> float:
    """Bytes of the regular files under ``path`` (symlinks not followed), in MB."""
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return round(total / 2**20, 1)


def serving_venv_size() -> float:
    """Installed size (MB) of the serving venv, built first when missing."""
    venv = ROOT / ".venv-serving"
    if not (venv / ".installed").exists():
        subprocess.run(["make", "serving-venv"], cwd=ROOT, check=True, timeout=900)
    return dir_size_mb(venv)
