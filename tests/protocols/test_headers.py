"""Headers on every answer the function builds: ``X-Content-Type-Options: nosniff`` exactly
once (successes, errors, the page's files and its 304), and no ``Server`` header naming a
server or interpreter. Every route of the routing table is called with each of its methods,
with an empty body (an error) and, for every POST route, a valid body (a success).

The ``conftest`` ``call`` already fails on a repeated header; the server's own ``Server``
header (uvicorn's) is checked on a real server in tests/observability/test_public_metrics.py.
"""

from __future__ import annotations

import json

import pytest

from function.contract.spec import SPEC
from function.protocols.routing import routing_table
from function.web import paths
from function.web.responses import NOSNIFF, Responder
from tests.protocols.conftest import SERVER_VERSION
from tests.protocols.fake import VERSION

PIXELS = [0.0] * SPEC.input.features
NOSNIFF_NAME, NOSNIFF_VALUE = (part.decode() for part in NOSNIFF)


def check(answer, what: str) -> None:
    assert answer.headers.get(NOSNIFF_NAME) == NOSNIFF_VALUE, (what, answer.headers)
    assert "server" not in answer.headers, (what, answer.headers)
    assert answer.headers["x-model-version"] == VERSION, what


def concrete(path: str) -> str:
    """A routing-table path with its placeholders filled in."""
    return path.replace(paths.VERSION, VERSION).replace(paths.NAME, "app.js")


def every_route(ctx) -> list[tuple[str, str]]:
    """(method, path) for every method of every route, and HEAD wherever GET is."""
    called = []
    for route in routing_table(ctx, SERVER_VERSION):
        methods = [*route.handlers, *(["HEAD"] if "GET" in route.handlers else [])]
        called += [(method, concrete(route.path)) for method in methods]
    return called


def test_every_route_and_method_sends_nosniff_and_no_server(client, ctx):
    called = every_route(ctx)
    assert {path for _, path in called} >= {paths.PAGE, paths.PREDICT, paths.V2_READY}
    assert len(called) >= 25, called  # every route (17), GET ones with HEAD too
    for method, path in called:
        check(client.request(method, path), f"{method} {path}")


VALID_POSTS = {
    paths.PREDICT: ({"image": PIXELS}, "application/json"),
    f"{paths.V1_MODEL}:predict": ({"instances": [PIXELS]}, "application/json"),
    f"{paths.V2_MODEL}/infer": (
        {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": PIXELS}]},
        "application/json",
    ),
}


@pytest.mark.parametrize("path", VALID_POSTS)
def test_successful_posts_send_nosniff(client, path):
    payload, content_type = VALID_POSTS[path]
    answer = client.post_json(path, payload, content_type)
    assert answer.status == 200, answer.body
    check(answer, path)


def test_a_v2_binary_answer_sends_nosniff(client):
    body = json.dumps(
        {
            "inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": PIXELS}],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    answer = client.post(f"{paths.V2_MODEL}/infer", body, {"Content-Type": "application/json"})
    assert answer.status == 200 and answer.headers["content-type"] == "application/octet-stream"
    check(answer, "binary")


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("GET", "/nope", {}, b"", 404),
        ("GET", "/v2/models/other", {}, b"", 404),
        ("GET", "/static/missing.js", {}, b"", 404),
        ("DELETE", paths.PREDICT, {}, b"", 405),
        ("TRACE", paths.V2_READY, {}, b"", 405),
        ("POST", paths.PREDICT, {"Content-Type": "application/json"}, b"{not json", 400),
        ("POST", paths.PREDICT, {"Content-Type": "text/csv"}, b"1,2", 415),
        ("POST", paths.PREDICT, {"Content-Type": "application/json"}, b" " * 300_000, 413),
    ],
)
def test_errors_send_nosniff(client, method, path, headers, body, status):
    answer = client.request(method, path, body=body, headers=headers)
    assert answer.status == status, answer.body
    check(answer, f"{method} {path}")


def test_the_pages_304_sends_nosniff_once(client):
    tag = client.get("/").headers["etag"]
    answer = client.get("/", headers={"If-None-Match": tag})
    assert answer.status == 304
    check(answer, "304")


def test_the_responder_adds_nosniff_to_every_kind_of_answer():
    respond = Responder("v1")
    answers = {
        "json": respond.json(b"{}"),
        "json error": respond.json(b"{}", 400, [(b"allow", b"GET")]),
        "binary": respond.binary(b"\0"),
        "typed": respond.typed(b"x", b"text/plain"),
        "file": respond.file(b"x", [(b"content-type", b"text/css")]),
        # a caller's own copy of a header the Responder adds is not sent twice
        "file with nosniff": respond.file(b"x", [NOSNIFF, (b"x-model-version", b"old")]),
        "304": respond.not_modified([(b"etag", b'"a"')]),
    }
    for what, answer in answers.items():
        names = [name for name, _ in answer.raw_headers]
        assert names.count(NOSNIFF[0]) == 1, (what, answer.raw_headers)
        assert names.count(b"x-model-version") == 1, (what, answer.raw_headers)
        assert (b"x-model-version", b"v1") in answer.raw_headers, what
        assert b"server" not in names, what
