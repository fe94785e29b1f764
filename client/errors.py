"""The client's errors: each one is a single line for the user and an exit code.

Exit codes: 0 every answer arrived (and every accuracy is at or above the floor), 1 an
accuracy is under ``--min-accuracy``, 2 the command cannot run as given (flags, URL, files,
no ID token with ``--id-token always``), 3 the endpoint failed (HTTP error status, timeout,
connection, an answer that is not this service's).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BELOW_FLOOR = 1
EXIT_USAGE = 2
EXIT_ENDPOINT = 3


class ClientError(Exception):
    """Base of the client's errors; ``str(error)`` is the one line shown to the user."""

    exit_code: int = EXIT_ENDPOINT


class UsageError(ClientError):
    """A flag, the URL, the data file or the PNG file cannot be used as given."""

    exit_code = EXIT_USAGE


class AuthError(UsageError):
    """``--id-token always`` and no ID token can be obtained from the environment."""


class EndpointError(ClientError):
    """The endpoint did not give a usable answer."""


class HttpStatusError(EndpointError):
    """The endpoint answered with an error status (or a redirect)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RequestTimeoutError(EndpointError):
    """No answer within ``--timeout`` seconds."""


class ConnectionFailedError(EndpointError):
    """No connection: refused, unknown host, TLS failure."""


class BadAnswerError(EndpointError):
    """A 200 whose body is not the answer this service gives."""
