"""Reading a request body under the size limit, while it streams in.

The limit is checked against ``Content-Length`` before anything is read (a client that
announces 50 MB gets its 413 at once) and again as each chunk arrives (a chunked upload is
cut off as soon as it passes the limit): the service never holds more than the limit.

JSON is parsed by orjson, which keeps the last of two equal keys silently; a body is
refused when an object repeats a key. The check costs nothing on the common bodies: a body
with at most one ``:`` cannot repeat a key, and otherwise the keys of the parsed value are
counted (lists that start with anything but a list or an object are not entered: pixels
cost nothing) and compared with the ``:`` in the text — equal means no repeated key, as
every key has its ``:``. Only when they differ (a ``:`` inside a string, a key not counted,
or a repeat) is the body parsed again by the standard library, which sees every pair.

A body must keep coming: the server (:mod:`function.web.entry`) hands every request a
receive channel from :func:`receive_within`, so a client that stops sending (a body shorter
than its ``Content-Length``, a stalled chunked upload) gets a 408 after
``BODY_TIMEOUT_SECONDS`` without data instead of holding a worker's connection for ever.

A large body with a ``Content-Length`` is not passed through ASGI messages: after the first
one, the server's connection (:mod:`function.web.connections`) has the kernel read the rest
straight into one :class:`function.web.body_sink.BodySink` of that length (no chunk list,
no join, no copy in user space, no pause in reading every 64 KB), and :func:`read_buffer`
hands that buffer on: V2 binary tensors are a numpy view of it. Its deadline is one timer
per body, re-armed from the time of the last chunk (the same 408 after
``BODY_TIMEOUT_SECONDS`` without data).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from starlette.requests import Request
from starlette.types import Message, Receive

from function.inputs.errors import InvalidInputError
from function.web.body_headers import body_headers
from function.web.body_sink import BodySink, body_timeout
from function.web.errors import (
    BodyTooLargeError,
    ClientDisconnectedError,
    UnsupportedMediaTypeError,
    clip,
)

JSON = "application/json"


# The scope extension through which the connection streams a body into a BodySink.
STREAM = "digitrun.body_stream"
Stream = Callable[[int, bytes, int], BodySink]


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body; BodyTooLargeError as soon as it passes ``limit`` bytes."""
    return to_bytes(await read_buffer(request, limit))


def to_bytes(body: bytes | np.ndarray) -> bytes:
    """A body from :func:`read_buffer` as bytes (a streamed body's buffer copied)."""
    return body if type(body) is bytes else body.tobytes()


async def read_buffer(request: Request, limit: int, aligned_at: int = 0) -> bytes | np.ndarray:
    """The whole body, as bytes or (a large body the connection streamed) the one buffer it
    was written into (uint8, any bytes-like use); BodyTooLargeError as soon as it passes
    ``limit`` bytes. A streamed body's byte ``aligned_at`` lands on an ``ALIGNMENT``
    boundary (where V2's binary tensors start: LiteRT copies an unaligned tensor once more,
    and numpy reads it at half speed)."""
    headers = body_headers(request)
    declared = headers.content_length
    size = None
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidInputError(f"Content-Length {clip(declared)} is not a number") from None
        if size > limit:
            raise BodyTooLargeError(_too_large(limit))
    encoding = headers.content_encoding
    if encoding is not None and encoding.strip().lower() not in ("", "identity"):
        raise UnsupportedMediaTypeError(f"Content-Encoding {clip(encoding)} is not supported")
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
    extensions = request.scope.get("extensions")
    stream: Stream | None = extensions.get(STREAM) if extensions else None
    if stream is not None and size is not None and len(body) < size:
        sink = stream(size, body, aligned_at)
        try:
            await sink.done
        finally:
            sink.close()
        return sink.buffer
    return await _read_chunks(receive, body, limit)


async def _read_chunks(receive: Receive, body: bytes, limit: int) -> bytes:
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


def receive_within(receive: Receive, seconds: float) -> Receive:
    """``receive`` with a deadline on each message: BodyTimeoutError (408) when the client
    sends nothing for ``seconds`` while its body is read.

    A message that has already arrived needs no deadline: uvicorn's ``receive`` (a bound
    method of its request cycle) returns at once while the cycle's ``message_event`` is set
    — a small body comes in the packet of its headers — and the timer a deadline arms and
    cancels (~7 µs) is skipped."""
    arrived = getattr(getattr(receive, "__self__", None), "message_event", None)
    if not isinstance(arrived, asyncio.Event):
        arrived = None

    async def receive_in_time() -> Message:
        if arrived is not None and arrived.is_set():
            return await receive()
        try:
            async with asyncio.timeout(seconds):
                return await receive()
        except TimeoutError:
            raise body_timeout(seconds) from None

    return receive_in_time


def _too_large(limit: int) -> str:
    return f"request body is over the {limit}-byte limit (MAX_BODY_BYTES)"


def media_type(request: Request) -> str:
    """The request's media type, lower-case, without parameters ("" when none is sent)."""
    return body_headers(request).content_type.partition(";")[0].strip().lower()


def is_json(media: str) -> bool:
    """A JSON media type; none at all is read as JSON too (the routes always did)."""
    return media in ("", JSON) or media.endswith("+json")


def require_json(request: Request) -> None:
    """415 unless the request's Content-Type is JSON (or absent)."""
    content_type = body_headers(request).content_type
    if content_type != JSON and not is_json(media_type(request)):
        raise UnsupportedMediaTypeError(
            f"Content-Type {clip(content_type)} is not supported: send {JSON}"
        )


def parse_json(body: bytes) -> Any:
    """The body as JSON (orjson); 400 with the parser's reason otherwise, and 400 when
    an object repeats a key."""
    if not body:
        raise InvalidInputError("the request body is empty: send a JSON object")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the body is not valid JSON: {exc}") from None
    colons = body.count(b":")
    if colons > 1 and colons != _count_keys(payload):
        _reject_repeated_keys(body)
    return payload


def _count_keys(value: Any) -> int:
    """Keys of the objects in ``value``, not entering lists that start with a scalar (a
    count too low only sends the body to the exact check)."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            count += len(item)
            stack.extend(item.values())
        elif type(item) is list and item and type(item[0]) in (list, dict):
            stack.extend(item)
    return count


def _reject_repeated_keys(body: bytes) -> None:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen = set()
        for key, _ in items:
            if key in seen:
                raise InvalidInputError(f"the JSON body repeats the key {clip(key)} in an object")
            seen.add(key)
        return {}

    try:
        json.loads(body, object_pairs_hook=pairs)
    except (ValueError, RecursionError):  # orjson read it: only the depth can differ
        raise InvalidInputError("the JSON body is nested too deeply") from None
