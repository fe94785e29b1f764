"""Errors of the model's input: what a client sent cannot become the tensor the model takes."""

from __future__ import annotations

from function.errors import RequestError


class InvalidInputError(RequestError):
    """Malformed JSON, a wrong shape, dtype or value, an unreadable image..."""

    status = 400
    reason = "invalid_input"


class BatchTooLargeError(RequestError):
    """The batch holds more than MAX_BATCH images."""

    status = 413
    reason = "batch_too_large"


class TooManyPixelsError(RequestError):
    """A request's images would decode to more than MAX_REQUEST_PIXELS pixels."""

    status = 413
    reason = "too_many_pixels"
