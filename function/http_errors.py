"""Typed request errors and the one place that turns any exception into an HTTP answer.

Code that finds a problem raises one of the classes below (they know nothing of HTTP);
:func:`status_for` maps it to a status and :func:`error_body` writes the body in the shape
of the protocol that was called:

* ``PLAIN`` — ``{"error": "<message>"}``: TensorFlow Serving REST and Open Inference
  Protocol V2 (the shape their specifications and clients use);
* ``NESTED`` — ``{"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": ...}}``:
  ``/predict`` and the service's other routes (Google's JSON error shape).

Anything not listed is a bug: a 500 with a generic message (the traceback goes to the log).
"""

from __future__ import annotations

from enum import Enum

import orjson

from function.errors import DigitrunError


class RequestError(DigitrunError):
    """The request cannot be served as sent (a 4xx)."""


class InvalidInputError(RequestError):
    """Malformed JSON, a wrong shape, dtype or value, an unreadable image..."""


class NotFoundError(RequestError):
    """No such route."""


class ModelNotFoundError(NotFoundError):
    """A model name or version this service does not serve."""


class MethodNotAllowedError(RequestError):
    """The route exists but not with this method."""

    def __init__(self, message: str, allow: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allow = allow


class PayloadTooLargeError(RequestError):
    """The request is bigger than the service accepts."""


class BodyTooLargeError(PayloadTooLargeError):
    """The body is over MAX_BODY_BYTES (found while reading it)."""


class BatchTooLargeError(PayloadTooLargeError):
    """The batch holds more than MAX_BATCH images."""


class UnsupportedMediaTypeError(RequestError):
    """A Content-Type (or Content-Encoding) this route does not read."""


class ClientDisconnectedError(RequestError):
    """The client went away while its body was being read: nobody gets an answer."""


class ModelNotReadyError(DigitrunError):
    """No verified model is loaded in this process."""


class ErrorStyle(Enum):
    PLAIN = "plain"
    NESTED = "nested"


# The one mapping from error type to HTTP status (the most specific class wins).
_STATUS: dict[type[BaseException], int] = {
    InvalidInputError: 400,
    ClientDisconnectedError: 400,
    NotFoundError: 404,
    MethodNotAllowedError: 405,
    PayloadTooLargeError: 413,
    UnsupportedMediaTypeError: 415,
    ModelNotReadyError: 503,
}
# The fixed set of error reasons (a metrics label): the most specific class wins.
_REASON: dict[type[BaseException], str] = {
    InvalidInputError: "invalid_input",
    ClientDisconnectedError: "client_disconnected",
    ModelNotFoundError: "model_not_found",
    NotFoundError: "not_found",
    MethodNotAllowedError: "method_not_allowed",
    BodyTooLargeError: "body_too_large",
    BatchTooLargeError: "batch_too_large",
    UnsupportedMediaTypeError: "unsupported_media_type",
    ModelNotReadyError: "not_ready",
}
_CANONICAL = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
INTERNAL_MESSAGE = "internal error: the service failed to answer this request"


def status_for(exc: BaseException) -> int:
    """The HTTP status for an exception: its class's entry in the table, else 500."""
    for cls in type(exc).__mro__:
        status = _STATUS.get(cls)
        if status is not None:
            return status
    return 500


def reason_for(exc: BaseException) -> str:
    """The error's reason label: its class's entry in the table, else ``internal``."""
    for cls in type(exc).__mro__:
        reason = _REASON.get(cls)
        if reason is not None:
            return reason
    return "internal"


def error_body(exc: BaseException, status: int, style: ErrorStyle) -> bytes:
    """The JSON error body in the called protocol's shape; never a traceback."""
    message = str(exc) if status < 500 or isinstance(exc, ModelNotReadyError) else ""
    message = message or INTERNAL_MESSAGE
    if style is ErrorStyle.PLAIN:
        return orjson.dumps({"error": message})
    return orjson.dumps(
        {"error": {"code": status, "status": _CANONICAL.get(status, "UNKNOWN"), "message": message}}
    )


def error_headers(exc: BaseException) -> tuple[tuple[bytes, bytes], ...]:
    """Headers an error adds to the response."""
    if isinstance(exc, MethodNotAllowedError):
        return ((b"allow", ", ".join(exc.allow).encode()),)
    if isinstance(exc, BodyTooLargeError | ClientDisconnectedError):
        # The rest of the body may still be on the wire: do not reuse the connection.
        return ((b"connection", b"close"),)
    return ()
