"""Raw HTTP/1.1 on a socket, for tests that must send what no HTTP client sends (partial
headers, stalled bodies, unknown methods) and see exactly what the server answers."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import BinaryIO

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
