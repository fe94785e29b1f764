"""The real serving function as a child process: `functions-framework --asgi ...` on a free
loopback port, MODEL_URI pointing at the published test version. Every wait is bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.conftest import ROOT, free_port

FUNCTIONS_FRAMEWORK = str(Path(sys.executable).parent / "functions-framework")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


class Server:
    """One server process and its log."""

    def __init__(self, env: dict[str, str], log_path: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full_env = {
            **os.environ,
            "WORKERS": str(workers),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                FUNCTIONS_FRAMEWORK,
                "--asgi",
                "--target=serve",
                "--source=function/main.py",
                "--host=127.0.0.1",
                f"--port={self.port}",
            ],
            cwd=ROOT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> float:
        """Seconds until /v2/health/ready answered 200; fails on exit or timeout."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                response = requests.get(f"{self.url}/v2/health/ready", timeout=1)
                if response.status_code == 200:
                    return time.monotonic() - started
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server not ready after {timeout} s:\n{self.log()}")

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        self._log.close()
        return self.process.returncode

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def json_lines(self) -> list[dict]:
        """The JSON objects in the log (other lines, e.g. gunicorn's, are skipped)."""
        lines = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return lines


@pytest.fixture(scope="session")
def start_server(tmp_path_factory: pytest.TempPathFactory, published_version: Path):
    """Start a server: ``start_server(workers=1, wait=True, **env)``; all stopped at the end."""
    servers: list[Server] = []

    def start(workers: int = 1, wait: bool = True, **env: str) -> Server:
        env.setdefault("MODEL_URI", str(published_version))
        log_path = tmp_path_factory.mktemp("server") / "server.log"
        server = Server(env, log_path, workers)
        servers.append(server)
        if wait:
            server.wait_ready()
        return server

    yield start
    for server in servers:  # signal them all first: they drain in parallel
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def server(start_server) -> Server:
    """The default server (one worker, default settings) shared by the contract tests."""
    return start_server()


@pytest.fixture(scope="session")
def manifest(published_version: Path) -> dict:
    return json.loads((published_version / "manifest.json").read_text())


@pytest.fixture(scope="session")
def digits(mnist) -> tuple[np.ndarray, np.ndarray]:
    """Twenty real test digits (float32 [20, 784] in 0..1) and their labels."""
    return mnist.x_test[:20], mnist.y_test[:20]


@pytest.fixture(scope="session")
def reference(published_version: Path):
    """The served model run locally: what every answer must equal."""
    from function.inference import LiteRTModel

    model = LiteRTModel(published_version / "model.tflite")
    return lambda x: model.predict_many(np.asarray(x, np.float32).reshape(-1, 784))


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="session")
def openapi_doc(server: Server) -> dict:
    response = requests.get(f"{server.url}/openapi.json", timeout=5)
    assert response.status_code == 200
    return response.json()


@pytest.fixture(scope="session")
def conforms(openapi_doc: dict):
    """``conforms(path_template, method, response)``: the answer is one the OpenAPI
    document promises (status listed, JSON body valid against its schema)."""
    from tests.function.helpers import validate

    def check(template: str, method: str, response: requests.Response) -> None:
        operation = openapi_doc["paths"][template][method.lower()]
        spec = operation["responses"].get(str(response.status_code))
        assert spec, f"{method} {template}: status {response.status_code} is not documented"
        content_type = response.headers["content-type"].split(";")[0]
        assert content_type in spec["content"], f"{method} {template}: {content_type}"
        if content_type == "application/json":
            schema = spec["content"][content_type]["schema"]
            validate(response.json(), schema, openapi_doc, f"{method} {template}")

    return check
