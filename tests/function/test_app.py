"""The request path in-process: states a healthy server never shows (a worker without a
model, a handler bug), the routing table against the OpenAPI document."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.requests import Request

from function.config import Settings
from function.observability import logs
from function.protocols.openapi import document
from function.protocols.routing import routing_table
from function.startup import build_app
from function.web.app import App
from function.web.errors import ErrorStyle
from function.web.routes import Route
from scripts.local_stack import ROOT

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


def test_a_worker_that_cannot_open_the_model_exits(published_version, tmp_path):
    """A forked worker whose interpreter does not open exits with gunicorn's worker boot
    error (3), which stops the server: it never lives on answering 503."""
    script = f"""
import os, shutil, sys
sys.path.insert(0, {str(ROOT)!r})
from function.runtime.served import load_model
served = load_model({str(published_version)!r})
os.remove(served.path)  # what the worker opens after the fork is gone
pid = os.fork()
if pid == 0:
    os._exit(0)  # not reached: the at-fork hook exits first
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "3", result.stdout + result.stderr


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
    routes = routing_table(app.ctx, "test")
    table = {(route.path, method.lower()) for route in routes for method in route.handlers}
    doc = document(routes, "test", app.ctx.model.version, app.ctx.model.spec)
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


def test_model_files_other_than_the_served_one_are_dropped(app):
    assert app.ctx.model.path.exists()
    assert sorted(os.listdir(app.ctx.model.path.parent)) == ["model.tflite"]
