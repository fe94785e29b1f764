"""Every answer is the service's, even where functions-framework, uvicorn or httptools
used to answer themselves: ``/robots.txt`` and ``/favicon.ico``, methods no route has (an
``Allow`` from the routing table, as the OpenAPI document lists it), methods the parser
does not know, paths with a newline, requests that are not HTTP. Raw sockets on the real
server: JSON in the path's protocol's shape, ``X-Model-Version``, ``nosniff``, no
``Server``."""

from __future__ import annotations

import pytest

from tests.function.raw_http import (
    check_service_answer,
    connect,
    exchange,
    read_answer,
    request,
)

pytestmark = pytest.mark.slow


def allowed(openapi_doc: dict, template: str) -> set[str]:
    """The methods the OpenAPI document lists for ``template``, with HEAD wherever GET is."""
    methods = {method.upper() for method in openapi_doc["paths"][template]}
    return methods | ({"HEAD"} if "GET" in methods else set())


NOT_ALLOWED = [
    # method, path, its OpenAPI template, error style
    ("TRACE", "/predict", "/predict", "nested"),
    ("CONNECT", "/predict", "/predict", "nested"),
    ("OPTIONS", "/predict", "/predict", "nested"),
    ("PROPFIND", "/", "/", "nested"),
    ("TRACE", "/v2/health/ready", "/v2/health/ready", "plain"),
    ("PURGE", "/v1/models/mnist", "/v1/models/mnist", "plain"),
]


@pytest.mark.parametrize(("method", "path", "template", "style"), NOT_ALLOWED)
def test_a_method_no_route_has_gets_405_with_the_routes_allow(
    server, manifest, openapi_doc, method, path, template, style
):
    answer = exchange(server.port, request(method, path, "Connection: close"))
    message = check_service_answer(answer, 405, style, manifest["version"])
    assert method in message, message
    allow = {part.strip() for part in answer.headers["allow"].split(",")}
    assert allow == allowed(openapi_doc, template), (allow, template)


@pytest.mark.parametrize(
    ("target", "style", "shown"),
    [
        ("/robots.txt", "nested", "/robots.txt"),  # functions-framework answered these itself
        ("/favicon.ico", "nested", "/favicon.ico"),
        ("/a%0Ab", "nested", "/a\\nb"),  # a decoded newline: outside Starlette's route pattern
        ("/v2/models/mnist/%0A", "plain", "\\n"),
        ("*", "nested", "*"),
    ],
)
def test_paths_the_framework_answered_get_the_services_404(server, manifest, target, style, shown):
    answer = exchange(server.port, request("GET", target, "Connection: close"))
    message = check_service_answer(answer, 404, style, manifest["version"])
    assert shown in message, message


def test_a_method_the_parser_does_not_know_gets_501(server, manifest):
    answer = exchange(server.port, request("FOO", "/predict"))
    message = check_service_answer(answer, 501, "nested", manifest["version"])
    assert "method" in message and answer.closed


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"GET /a\nb HTTP/1.1\r\nHost: x\r\n\r\n", "not valid HTTP"),  # a raw newline
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad header\r\n\r\n", "not valid HTTP"),
        (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", "not valid HTTP"),
        (request("CONNECT", "example.com:443"), "not a path"),  # a proxy's request
    ],
)
def test_what_the_parser_cannot_read_gets_a_json_400_and_close(server, manifest, raw, fragment):
    answer = exchange(server.port, raw)
    message = check_service_answer(answer, 400, "nested", manifest["version"])
    assert fragment in message and answer.closed, (message, answer.headers)
    assert "Traceback" not in message and "callback" not in message, message


def test_an_upgrade_request_is_answered_as_http_and_closes(server):
    upgrade = request("GET", "/v2/health/live", "Connection: Upgrade", "Upgrade: websocket")
    answer = exchange(server.port, upgrade)
    assert answer is not None and answer.status == 200, answer
    assert answer.closed, answer.headers


def test_keep_alive_and_pipelining_still_work(server):
    """Two pipelined requests, then a third on the same connection: all answered."""
    with connect(server.port) as sock, sock.makefile("rb") as reader:
        sock.sendall(request("GET", "/v2/health/live") + request("GET", "/v2/health/ready"))
        first, second = read_answer(reader), read_answer(reader)
        sock.sendall(request("GET", "/nope"))
        third = read_answer(reader)
    assert [a.status for a in (first, second, third)] == [200, 200, 404]
    assert not any(a.closed for a in (first, second, third))
