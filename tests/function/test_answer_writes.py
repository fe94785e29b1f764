"""Each answer leaves in one write (:mod:`function.web.head_writer`), on a real server: a
HEAD answer (no body write) still leaves, ``100 Continue`` is not held back behind the
answer it precedes, and one kept-alive connection carries every kind of answer in turn
with its framing intact."""

from __future__ import annotations

import json

import pytest

from tests.function.raw_http import connect, read_answer, request

pytestmark = pytest.mark.slow

DIGIT = json.dumps({"image": [0.0] * 784}).encode()


def read_head(reader) -> tuple[int, dict[str, str]]:
    """A HEAD answer: the status and headers, no body whatever ``Content-Length`` says."""
    status = int(reader.readline().split()[1])
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.lower()] = value.strip()
    return status, headers


def test_one_connection_carries_head_continue_and_plain_answers(server, manifest):
    with connect(server.port) as sock, sock.makefile("rb") as reader:
        sock.sendall(request("HEAD", "/v2/health/ready"))
        status, headers = read_head(reader)
        assert status == 200 and headers["x-model-version"] == manifest["version"]

        sock.sendall(
            request(
                "POST",
                "/predict",
                "Content-Type: application/json",
                f"Content-Length: {len(DIGIT)}",
                "Expect: 100-continue",
            )
        )
        sock.settimeout(2.0)  # the 100 comes before the body is sent, not with the answer
        assert reader.readline().startswith(b"HTTP/1.1 100")
        assert reader.readline() == b"\r\n"
        sock.sendall(DIGIT)
        answer = read_answer(reader)
        assert answer is not None and answer.status == 200
        assert answer.json()["model_version"] == manifest["version"]

        sock.sendall(request("GET", "/v2/health/ready"))
        answer = read_answer(reader)
        assert answer is not None and answer.status == 200 and not answer.closed

        sock.sendall(request("GET", "/no/such/path"))
        answer = read_answer(reader)
        assert answer is not None and answer.status == 404
