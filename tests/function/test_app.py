"""The request path in-process: states a healthy server never shows (a worker without a
model, a handler bug), the routing table against the OpenAPI document, settings, traces."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
from pathlib import Path

import pytest
from starlette.requests import Request

from function import logs
from function.app import App, build_app
from function.config import ConfigError, Settings
from function.http_errors import ErrorStyle
from function.openapi import document
from function.routes import Route, routing_table

pytestmark = pytest.mark.slow  # builds the app around the trained test model


def call(app: App, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """One request through App.handle, as the ASGI server would pass it."""
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {"type": "http", "method": method, "path": path, "headers": raw, "query_string": b""}
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return asyncio.run(app.handle(Request(scope, receive)))


@pytest.fixture(scope="module")
def app(published_version: Path) -> App:
    return build_app(Settings(model_uri=str(published_version)))


@pytest.fixture
def captured():
    """The digitrun logger's JSON lines during one test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logs.log.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logs.log.removeHandler(handler)


def test_a_worker_without_a_model_answers_503(published_version, tmp_path, captured):
    app = build_app(Settings(model_uri=str(published_version)))
    model = app.ctx.model
    # What a forked worker does when it cannot open its own interpreter:
    model.path = tmp_path / "gone.tflite"
    model._pid = -1
    model.reopen_after_fork()
    assert not model.ready
    image = json.dumps({"image": [0.0] * 784}).encode()
    cases = [
        ("POST", "/predict", image, ErrorStyle.NESTED),
        ("POST", "/v1/models/mnist:predict", b'{"instances": [[0]]}', ErrorStyle.PLAIN),
        ("GET", "/v2/health/ready", b"", ErrorStyle.PLAIN),
        ("GET", "/v2/models/mnist/ready", b"", ErrorStyle.PLAIN),
        ("POST", "/v2/models/mnist/infer", b'{"inputs": []}', ErrorStyle.PLAIN),
    ]
    for method, path, body, style in cases:
        if path.endswith(":predict"):
            body = json.dumps({"instances": [[0.0] * 784]}).encode()
        if path.endswith("/infer"):
            body = json.dumps(
                {
                    "inputs": [
                        {"name": "image", "shape": [1, 784], "datatype": "FP32", "data": [0] * 784}
                    ]
                }
            ).encode()
        response = call(app, method, path, body, {"content-type": "application/json"})
        assert response.status_code == 503, (path, response.body)
        error = json.loads(response.body)["error"]
        message = error if style is ErrorStyle.PLAIN else error["message"]
        assert "not ready" in message
    assert call(app, "GET", "/v2/health/live").status_code == 200
    lines = captured()
    assert any("could not open gone.tflite" in e["message"] for e in lines)
    assert sum(e["severity"] == "ERROR" and "503" in e["message"] for e in lines) == len(cases)


def test_a_handler_bug_is_a_json_500_and_a_logged_traceback(app, captured):
    async def broken(request):
        raise RuntimeError("secret internal detail")

    app.router.exact["/broken"] = Route("/broken", "broken", ErrorStyle.NESTED, {"GET": broken})
    try:
        response = call(app, "GET", "/broken", headers={"X-Cloud-Trace-Context": "abc/1;o=0"})
    finally:
        del app.router.exact["/broken"]
    assert response.status_code == 500
    body = json.loads(response.body)
    assert body["error"]["code"] == 500
    assert "secret" not in response.body.decode()
    assert "Traceback" not in response.body.decode()
    (line,) = [e for e in captured() if e["severity"] == "ERROR"]
    assert "secret internal detail" in line["message"]
    assert "RuntimeError" in line["stack_trace"]
    assert line["logging.googleapis.com/trace"] == "abc"
    assert line["logging.googleapis.com/trace_sampled"] is False
    assert line["route"] == "broken"


def test_client_disconnect_while_reading_is_quiet(app, captured):
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/predict",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }

    async def receive():
        return {"type": "http.disconnect"}

    response = asyncio.run(app.handle(Request(scope, receive)))
    assert response.status_code == 400
    assert not [e for e in captured() if e["severity"] in ("ERROR", "WARNING")]


def test_routing_table_and_openapi_document_agree(app):
    """Every (path, method) of the table is in the document, and nothing else is."""
    table = {
        (route.path, method.lower())
        for route in routing_table(app.ctx, "test")
        for method in route.handlers
    }
    doc = document("test", app.ctx.model.version)
    documented = {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }
    assert table == documented
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["responses"]["200"], (path, method)
    refs = json.dumps(doc).count('"$ref"')
    assert refs > 0
    for name in _refs(doc):
        assert name in doc["components"]["schemas"], name


def _refs(node) -> set[str]:
    found = set()
    if isinstance(node, dict):
        if "$ref" in node:
            found.add(node["$ref"].rsplit("/", 1)[-1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def test_route_names_are_a_fixed_set(app):
    names = {route.name for route in app.router.exact.values()}
    assert "unknown" not in names
    assert app.router.fallback("/anything/at/all").name == "unknown"
    assert app.router.fallback("/v2/models/x").name == "unknown"
    assert app.router.fallback("/predict/").name == "predict"


def test_settings_defaults_and_errors():
    settings = Settings.from_env({"MODEL_URI": "gs://b/v"})
    assert settings.max_body_bytes == 4 * 1024 * 1024
    assert settings.max_batch == 1024
    assert settings.log_requests is False
    assert settings.log_level == "INFO"
    full = Settings.from_env(
        {
            "MODEL_URI": "/m",
            "MAX_BODY_BYTES": "100",
            "MAX_BATCH": "8",
            "LOG_LEVEL": "debug",
            "LOG_REQUESTS": "TRUE",
            "SLOW_REQUEST_SECONDS": "0.25",
            "GOOGLE_CLOUD_PROJECT": "p",
        }
    )
    assert (full.max_body_bytes, full.max_batch, full.log_level) == (100, 8, "DEBUG")
    assert (full.log_requests, full.slow_request_seconds, full.project) == (True, 0.25, "p")
    for env in (
        {},
        {"MODEL_URI": "x", "LOG_LEVEL": "LOUD"},
        {"MODEL_URI": "x", "SLOW_REQUEST_SECONDS": "-1"},
        {"MODEL_URI": "x", "SLOW_REQUEST_SECONDS": "nan"},
    ):
        with pytest.raises(ConfigError):
            Settings.from_env(env)


@pytest.mark.parametrize(
    ("headers", "project", "expected"),
    [
        ({}, "p", {}),
        ({"x-cloud-trace-context": "t1"}, "", {logs.TRACE_FIELD: "t1"}),
        (
            {"x-cloud-trace-context": "t1/22;o=1"},
            "p",
            {
                logs.TRACE_FIELD: "projects/p/traces/t1",
                logs.SPAN_FIELD: "22",
                logs.SAMPLED_FIELD: True,
            },
        ),
        (
            {"traceparent": "00-abc-def-00"},
            "",
            {logs.TRACE_FIELD: "abc", logs.SPAN_FIELD: "def", logs.SAMPLED_FIELD: False},
        ),
        ({"traceparent": "garbage"}, "p", {}),
    ],
)
def test_trace_fields(headers, project, expected):
    assert logs.trace_fields(headers, project) == expected


def test_model_files_other_than_the_served_one_are_dropped(app):
    assert app.ctx.model.path.exists()
    assert sorted(os.listdir(app.ctx.model.path.parent)) == ["model.tflite"]
