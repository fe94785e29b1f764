"""Responses from ready bytes and prebuilt headers.

Every answer carries ``X-Model-Version`` and ``X-Content-Type-Options: nosniff`` (added
here, in one place: a browser never guesses a type the service did not name). The header
lists are built once per content type at start-up; a response only adds its
``Content-Length``, so Starlette's header rendering is skipped on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from starlette.responses import Response

Header = tuple[bytes, bytes]

JSON = b"application/json"
BINARY = b"application/octet-stream"
NOSNIFF: Header = (b"x-content-type-options", b"nosniff")


class ReadyResponse(Response):
    """A Starlette Response whose body and raw headers are already final."""

    def __init__(self, body: bytes, status_code: int, raw_headers: list[Header]) -> None:
        # Deliberately not calling Response.__init__: nothing is left to render.
        self.body = body
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.background = None


class Responder:
    """Builds the service's responses, all stamped with the served model's version."""

    def __init__(self, model_version: str) -> None:
        version = (b"x-model-version", model_version.encode("latin-1", "replace"))
        self.model_version = model_version
        self._json = ((b"content-type", JSON), version, NOSNIFF)
        self._binary = ((b"content-type", BINARY), version, NOSNIFF)
        self._version = (version, NOSNIFF)

    def json(self, body: bytes, status: int = 200, extra: Iterable[Header] = ()) -> Response:
        """A JSON body (already serialised)."""
        return ReadyResponse(body, status, [*self._json, _length(body), *extra])

    def binary(self, body: bytes, extra: Iterable[Header] = ()) -> Response:
        """An octet-stream body (V2 binary tensor data)."""
        return ReadyResponse(body, 200, [*self._binary, _length(body), *extra])

    def typed(self, body: bytes, content_type: bytes) -> Response:
        """Any other content type (a static page, a document)."""
        headers = [(b"content-type", content_type), *self._version, _length(body)]
        return ReadyResponse(body, 200, headers)

    def file(self, body: bytes, headers: Sequence[Header]) -> Response:
        """A static file with its prebuilt headers (content type, caching, security)."""
        return ReadyResponse(body, 200, [*_own(headers), *self._version, _length(body)])

    def not_modified(self, headers: Sequence[Header]) -> Response:
        """304: the client's copy is current; no body, no Content-Length."""
        return ReadyResponse(b"", 304, [*_own(headers), *self._version])


def _own(headers: Sequence[Header]) -> list[Header]:
    """A caller's prebuilt headers without the ones added here (never sent twice)."""
    return [header for header in headers if header[0] not in _ADDED]


_ADDED = frozenset((b"x-model-version", NOSNIFF[0]))


def _length(body: bytes) -> Header:
    return (b"content-length", str(len(body)).encode())
