"""Reading a request body under the size limit, while it streams in.

The limit is checked against ``Content-Length`` before anything is read (a client that
announces 50 MB gets its 413 at once) and again as each chunk arrives (a chunked upload is
cut off as soon as it passes the limit): the service never holds more than the limit.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from function.inputs.errors import InvalidInputError
from function.web.errors import (
    BodyTooLargeError,
    ClientDisconnectedError,
    UnsupportedMediaTypeError,
)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body; BodyTooLargeError as soon as it passes ``limit`` bytes."""
    headers = request.headers
    declared = headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidInputError(f"Content-Length {declared!r} is not a number") from None
        if size > limit:
            raise BodyTooLargeError(_too_large(limit))
    encoding = headers.get("content-encoding")
    if encoding is not None and encoding.strip().lower() not in ("", "identity"):
        raise UnsupportedMediaTypeError(f"Content-Encoding {encoding!r} is not supported")
    # The ASGI receive channel directly: Starlette's stream() generator and body() cache
    # would only add work on the hot path.
    receive = request.receive
    message = await receive()
    if message["type"] != "http.request":
        raise ClientDisconnectedError("the client disconnected")
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise BodyTooLargeError(_too_large(limit))
        return body
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnectedError("the client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(_too_large(limit))
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _too_large(limit: int) -> str:
    return f"request body is over the {limit}-byte limit (MAX_BODY_BYTES)"


def parse_json(body: bytes) -> Any:
    """The body as JSON (orjson); 400 with the parser's reason otherwise."""
    if not body:
        raise InvalidInputError("the request body is empty: send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the body is not valid JSON: {exc}") from None
