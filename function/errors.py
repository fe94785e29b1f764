"""The base of every error the project reports to a user as one clear line.

An error is typed where it arises and carries its own HTTP ``status`` and metrics
``reason`` as class attributes; :func:`function.web.errors.error_response` turns any
exception into the called protocol's answer and the ``model`` CLI turns one into an exit
code, in one place each. Domain errors live with their domain: the artifact contract's in
:mod:`function.contract.errors`, input errors in :mod:`function.inputs.errors`, routing and
body errors in :mod:`function.web.errors`.
"""

from __future__ import annotations


class DigitrunError(Exception):
    """Base of every error the project reports as one clear line (a 500 when unexpected
    in a request: nothing a client sent can cause it)."""

    status: int = 500
    reason: str = "internal"


class RequestError(DigitrunError):
    """The request cannot be served as sent (a 4xx): its message is the client's answer."""

    status = 400
    reason = "invalid_input"
