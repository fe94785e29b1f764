"""Routing and body errors, and the one place that turns any exception into an answer.

Every error class carries its own HTTP ``status`` and metrics ``reason``
(:class:`function.errors.DigitrunError`); :func:`error_response` reads them and writes the
body in the shape of the protocol that was called:

* ``PLAIN`` — ``{"error": "<message>"}``: TensorFlow Serving REST and Open Inference
  Protocol V2 (the shape their specifications and clients use);
* ``NESTED`` — ``{"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": ...}}``:
  ``/predict`` and the service's other routes (Google's JSON error shape).

Anything else is a bug: a 500 with a generic message (the traceback goes to the log); a
:class:`ServerRefusalError` (501, 503) is not one, and says why. The answers the connection
layer writes before a request exists (:mod:`function.web.connections`) use the same classes.
A message quotes what a client sent only through :func:`clip` (at most ``CLIP`` characters),
and no message is longer than ``MAX_MESSAGE``: a 100 KB header never comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import orjson

from function.errors import DigitrunError, RequestError

Header = tuple[bytes, bytes]

CLIP = 100  # characters of client input a message may quote
MAX_MESSAGE = 1000  # characters of any error message


def clip(value: object, limit: int = CLIP) -> str:
    """``repr(value)`` of client input for a message, cut to ``limit`` characters (a long
    value ends in ``...`` and says how long it was); a huge value is never rendered whole."""
    if isinstance(value, str | bytes | bytearray):
        size = len(value)
        text = repr(value[: limit + 1])
    elif isinstance(value, list | dict):
        try:  # C speed and bounded by the body size; repr only when it is short
            rendered = orjson.dumps(value).decode()
        except TypeError:
            rendered = repr(value)
        size = len(rendered)
        text = repr(value) if size <= limit else rendered
    else:
        text = repr(value)
        size = len(text)
    if len(text) <= limit + 2 and size <= limit:
        return text
    return f"{text[:limit]}... ({size} characters)"


def clip_json(value: object, limit: int = CLIP) -> str:
    """Client JSON ``value`` rendered as JSON for a message, cut to ``limit`` characters
    (a value orjson cannot render, such as one nested too deeply, is named by its type)."""
    try:
        text = orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return f"a {type(value).__name__} nested too deeply"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class NotFoundError(RequestError):
    """No such route."""

    status = 404
    reason = "not_found"


class ModelNotFoundError(NotFoundError):
    """A model name or version this service does not serve."""

    reason = "model_not_found"


class MethodNotAllowedError(RequestError):
    """The route exists but not with this method."""

    status = 405
    reason = "method_not_allowed"

    def __init__(self, message: str, allow: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allow = allow


class ClosesConnection:
    """Mixin: the answer ends the connection (``Connection: close``): the rest of the
    request may still be on the wire, or the connection cannot be trusted to carry more."""


class BodyTooLargeError(ClosesConnection, RequestError):
    """The body is over MAX_BODY_BYTES (found while reading it)."""

    status = 413
    reason = "body_too_large"


class UnsupportedMediaTypeError(RequestError):
    """A Content-Type (or Content-Encoding) this route does not read."""

    status = 415
    reason = "unsupported_media_type"


class ClientDisconnectedError(ClosesConnection, RequestError):
    """The client went away while its body was being read: nobody gets an answer."""

    status = 400
    reason = "client_disconnected"


class BodyTimeoutError(ClosesConnection, RequestError):
    """The body stopped arriving: nothing for BODY_TIMEOUT_SECONDS while it was read."""

    status = 408
    reason = "body_timeout"


class HeaderTimeoutError(ClosesConnection, RequestError):
    """The request line and headers did not all arrive within HEADER_TIMEOUT_SECONDS."""

    status = 408
    reason = "header_timeout"


class TargetTooLongError(ClosesConnection, RequestError):
    """The request target alone is over MAX_HEADER_BYTES."""

    status = 414
    reason = "target_too_long"


class HeadersTooLargeError(ClosesConnection, RequestError):
    """More than MAX_HEADERS header fields, or the target and headers over MAX_HEADER_BYTES."""

    status = 431
    reason = "headers_too_large"


class MalformedRequestError(ClosesConnection, RequestError):
    """Not an HTTP/1.1 request the parser can read (bad request line, header or target)."""

    status = 400
    reason = "malformed_request"


class ServerRefusalError(DigitrunError):
    """A 5xx that is not a failure: the server will not serve this request (now, or
    ever), and its message says why."""


class MethodNotImplementedError(ClosesConnection, ServerRefusalError):
    """A request method the HTTP parser does not know (RFC 9110: 501, not 405)."""

    status = 501
    reason = "method_not_implemented"


class TooManyConnectionsError(ClosesConnection, ServerRefusalError):
    """The worker already holds MAX_CONNECTIONS connections."""

    status = 503
    reason = "too_many_connections"


class ErrorStyle(Enum):
    PLAIN = "plain"
    NESTED = "nested"


CANONICAL = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    410: "GONE",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    431: "REQUEST_HEADER_FIELDS_TOO_LARGE",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
}
INTERNAL_MESSAGE = "internal error: the service failed to answer this request"


@dataclass(frozen=True)
class ErrorAnswer:
    """What any exception becomes: status, metrics reason, JSON body, extra headers."""

    status: int
    reason: str
    body: bytes
    headers: tuple[Header, ...]


def error_response(exc: BaseException, style: ErrorStyle) -> ErrorAnswer:
    """The answer to a request that raised ``exc``, in the called protocol's shape; a
    client error's (or a refusal's) message is its answer, anything else a 500 without
    details."""
    if isinstance(exc, DigitrunError) and (exc.status < 500 or isinstance(exc, ServerRefusalError)):
        status, reason, message = exc.status, exc.reason, str(exc)
    else:
        status, reason, message = 500, DigitrunError.reason, ""
    message = message or INTERNAL_MESSAGE
    if len(message) > MAX_MESSAGE:
        message = f"{message[:MAX_MESSAGE]}... (cut)"
    if style is ErrorStyle.PLAIN:
        body = orjson.dumps({"error": message})
    else:
        canonical = CANONICAL.get(status, "UNKNOWN")
        body = orjson.dumps({"error": {"code": status, "status": canonical, "message": message}})
    return ErrorAnswer(status, reason, body, _headers(exc))


def _headers(exc: BaseException) -> tuple[Header, ...]:
    if isinstance(exc, MethodNotAllowedError):
        return ((b"allow", ", ".join(exc.allow).encode()),)
    if isinstance(exc, TooManyConnectionsError):
        return ((b"connection", b"close"), (b"retry-after", b"1"))
    if isinstance(exc, ClosesConnection):
        return ((b"connection", b"close"),)
    return ()
