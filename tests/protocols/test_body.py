"""Reading bodies under MAX_BODY_BYTES on every POST route: refused from Content-Length
before a byte is read, cut off while a chunked upload passes the limit, a vanished client,
an encoding the service does not decode."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from starlette.requests import Request

from function.web.body import read_body
from tests.protocols.conftest import LIMIT
from tests.protocols.fake import VERSION, images, probabilities

ROUTES = {
    "/predict": "nested",
    "/v1/models/mnist:predict": "plain",
    "/v2/models/mnist/infer": "plain",
    f"/v2/models/mnist/versions/{VERSION}/infer": "plain",
}
TOO_LARGE = f"request body is over the {LIMIT}-byte limit (MAX_BODY_BYTES)"


def message(answer, style: str) -> str:
    body = answer.json()
    if style == "plain":
        assert set(body) == {"error"}
        return body["error"]
    assert set(body["error"]) == {"code", "status", "message"}
    assert body["error"]["code"] == answer.status
    return body["error"]["message"]


def valid_body(path: str) -> tuple[bytes, np.ndarray]:
    """A valid JSON body for ``path`` and the images it holds."""
    x = images(2, seed=50)
    if path == "/predict":
        payload = {"images": x.tolist()}
    elif path.startswith("/v1"):
        payload = {"instances": x.tolist()}
    else:
        payload = {
            "inputs": [{"name": "image", "shape": [2, 784], "datatype": "FP32", "data": x.tolist()}]
        }
    return json.dumps(payload).encode(), x


def answered_probabilities(path: str, answer) -> np.ndarray:
    body = answer.json()
    if path == "/predict":
        return np.float32(body["probabilities"])
    if path.startswith("/v1"):
        return np.float32(body["predictions"])
    return np.float32(body["outputs"][0]["data"]).reshape(-1, 10)


@pytest.mark.parametrize("path", list(ROUTES))
def test_declared_length_over_the_limit_is_413_before_reading(client, path):
    answer = client.post(path, b"{}", {"Content-Length": str(LIMIT + 1)})
    assert answer.status == 413
    assert message(answer, ROUTES[path]) == TOO_LARGE
    assert answer.received == 0  # not one message of the body was asked for
    assert answer.headers["connection"] == "close"
    assert answer.headers["x-model-version"] == VERSION
    assert client.model.calls == []


@pytest.mark.parametrize("path", list(ROUTES))
def test_undeclared_body_over_the_limit_in_one_message_is_413(client, path):
    body = b" " * (LIMIT + 1)
    answer = client.post(path, body, {"Content-Length": str(LIMIT)})  # a lying client
    assert answer.status == 413
    assert message(answer, ROUTES[path]) == TOO_LARGE


@pytest.mark.parametrize("path", list(ROUTES))
def test_chunked_upload_is_cut_off_once_it_passes_the_limit(client, path):
    chunk = b" " * (LIMIT // 4)
    answer = client.post(path, chunks=[chunk] * 12)  # three times the limit
    assert answer.status == 413
    assert message(answer, ROUTES[path]) == TOO_LARGE
    assert answer.received == 5  # 4 chunks are exactly the limit; the 5th passes it
    assert answer.headers["connection"] == "close"


@pytest.mark.parametrize("path", list(ROUTES))
def test_chunked_body_up_to_the_limit_is_read_whole(client, path):
    body, x = valid_body(path)
    body += b" " * (LIMIT - len(body))  # exactly the limit: trailing JSON whitespace
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    answer = client.post(path, chunks=chunks, headers={"Content-Type": "application/json"})
    assert answer.status == 200, answer.body
    assert answer.received == len(chunks)
    assert np.array_equal(answered_probabilities(path, answer), probabilities(x))
    assert np.array_equal(client.model.batch, x)


@pytest.mark.parametrize("path", list(ROUTES))
@pytest.mark.parametrize("chunks", [[], [b'{"ima']], ids=["at once", "mid-body"])
def test_client_disconnect_is_400_client_disconnected(client, path, chunks):
    answer = client.post(path, chunks=chunks, disconnect=True)
    assert answer.status == 400
    assert message(answer, ROUTES[path]) == "the client disconnected"
    assert answer.headers["connection"] == "close"
    assert client.model.calls == []


@pytest.mark.parametrize("path", list(ROUTES))
@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate, gzip"])
def test_content_encoding_is_415(client, path, encoding):
    body, _ = valid_body(path)
    answer = client.post(path, body, {"Content-Encoding": encoding})
    assert answer.status == 415
    assert message(answer, ROUTES[path]) == f"Content-Encoding {encoding!r} is not supported"
    assert answer.received == 0
    assert "connection" not in answer.headers


@pytest.mark.parametrize("encoding", ["identity", " Identity ", ""])
def test_identity_encoding_is_read(client, encoding):
    body, x = valid_body("/predict")
    answer = client.post("/predict", body, {"Content-Encoding": encoding})
    assert answer.status == 200, answer.body
    assert np.array_equal(client.model.batch, x)


@pytest.mark.parametrize("path", list(ROUTES))
def test_content_length_not_a_number_is_400(client, path):
    answer = client.post(path, b"{}", {"Content-Length": "12abc"})
    assert answer.status == 400
    assert message(answer, ROUTES[path]) == "Content-Length '12abc' is not a number"
    assert answer.received == 0


def test_read_body_returns_the_chunks_joined():
    """read_body directly: the bytes, in order, from as many messages as the client sent."""
    parts = [b"ab", b"", b"cd", b"e"]
    messages = [
        {"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
        for i, p in enumerate(parts)
    ]

    async def receive():
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    assert asyncio.run(read_body(Request(scope, receive), 5)) == b"abcde"
    assert messages == []
