"""The real serving function as a child process: `functions-framework --asgi ...` on a free
loopback port, MODEL_URI pointing at the published test version. Every wait is bounded."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from scripts.local_stack import ServerProcess, start_function

START_TIMEOUT = 30.0


def start(env: dict[str, str], log_path: Path, workers: int = 1) -> ServerProcess:
    """The function's container command on a free loopback port, its log in ``log_path``."""
    full_env = {**os.environ, "WORKERS": str(workers), "PYTHONUNBUFFERED": "1", **env}
    return start_function(full_env, log_path=log_path)


@pytest.fixture(scope="session")
def start_server(tmp_path_factory: pytest.TempPathFactory, published_version: Path):
    """Start a server: ``start_server(workers=1, wait=True, **env)``; all stopped at the end."""
    servers: list[ServerProcess] = []

    def launch(workers: int = 1, wait: bool = True, **env: str) -> ServerProcess:
        env.setdefault("MODEL_URI", str(published_version))
        log_path = tmp_path_factory.mktemp("server") / "server.log"
        server = start(env, log_path, workers)
        servers.append(server)
        if wait:
            server.wait_ready(START_TIMEOUT)
        return server

    yield launch
    for server in servers:  # signal them all first: they drain in parallel
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def server(start_server) -> ServerProcess:
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
    from function.runtime.litert import LiteRTModel

    model = LiteRTModel(published_version / "model.tflite")
    return lambda x: model.predict_many(np.asarray(x, np.float32).reshape(-1, 784))


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="session")
def openapi_doc(server: ServerProcess) -> dict:
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
