"""Every answer is the service's, even where functions-framework, uvicorn or httptools
used to answer themselves: ``/robots.txt`` and ``/favicon.ico``, methods no route has (an
``Allow`` from the routing table, as the OpenAPI document lists it), methods the parser
does not know, paths with a newline, requests that are not HTTP. Raw sockets on the real
server: JSON in the path's protocol's shape, ``X-Model-Version``, ``nosniff``, no
``Server``."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import BinaryIO

import pytest

pytestmark = pytest.mark.slow

READ_TIMEOUT = 10.0  # seconds a test waits for an answer that should come at once


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after the answer
    seconds: float  # from sending to the end of the answer (or the close)

    def json(self) -> dict:
        return json.loads(self.body)


def read_answer(reader: BinaryIO) -> Answer | None:
    """One HTTP/1.1 answer (a ``Content-Length`` body) from a socket's ``makefile("rb")``
    and, when it says ``Connection: close``, whether the server then closed; None when the
    server closed without answering. Every read waits at most the socket's timeout."""
    started = time.monotonic()
    try:
        status_line = reader.readline()
    except ConnectionResetError:
        return None
    if not status_line:
        return None
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        assert name.lower() not in headers, f"header {name} sent twice"
        headers[name.lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", 0)))
    closed = headers.get("connection") == "close" and reader.read(1) == b""
    status = int(status_line.split()[1])
    return Answer(status, headers, body, closed, time.monotonic() - started)


def connect(port: int, timeout: float = READ_TIMEOUT) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def exchange(port: int, request: bytes, timeout: float = READ_TIMEOUT) -> Answer | None:
    """Send raw ``request`` bytes on a new connection; the answer (None: closed unanswered)."""
    with connect(port, timeout) as sock, sock.makefile("rb") as reader:
        sock.sendall(request)
        return read_answer(reader)


def check_service_answer(answer: Answer | None, status: int, style: str, version: str) -> str:
    """``answer`` is the service's JSON error in ``style``; its message."""
    assert answer is not None, "the connection closed without an answer"
    assert answer.status == status, (answer.status, answer.body)
    assert answer.headers["content-type"] == "application/json", answer.headers
    assert answer.headers["x-model-version"] == version, answer.headers
    assert answer.headers["x-content-type-options"] == "nosniff", answer.headers
    assert "server" not in answer.headers, answer.headers
    body = answer.json()
    if style == "plain":
        assert set(body) == {"error"} and isinstance(body["error"], str), body
        return body["error"]
    assert set(body["error"]) == {"code", "status", "message"}, body
    assert body["error"]["code"] == status, body
    return body["error"]["message"]


def request(method: str, target: str, *headers: str) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


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
