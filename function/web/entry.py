"""What the HTTP server runs: every request to the App, and the answers the connection
layer writes itself, in the same JSON shape.

functions-framework wraps the function in a Starlette app that answers some requests
itself, in plain text: ``/robots.txt`` and ``/favicon.ico`` (404), methods outside its
list (405 with its own ``Allow``), paths its route pattern does not match (a ``%0A``).
The server's connections (:mod:`function.web.connections`) hand every request to an
:class:`Entry` instead, so every answer is the service's: JSON, ``X-Model-Version``,
``nosniff``, an ``Allow`` from the routing table. functions-framework's app still runs the
server's lifespan, and serves ``serve`` when functions-framework runs without gunicorn
(``--debug``).
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from function.web.app import App
from function.web.body import receive_within
from function.web.errors import Header, error_response

CLOSE = (b"connection", b"close")


class Entry:
    """The ASGI application of every HTTP request; :meth:`refusal` for the connection layer."""

    def __init__(self, app: App, body_timeout_seconds: float) -> None:
        self._app = app
        self._router = app.router
        self._respond = app.ctx.respond
        self._body_timeout = body_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive_within(receive, self._body_timeout))
        response = await self._app.handle(request)
        await response(scope, receive, send)

    def refusal(
        self, exc: Exception, target: bytes = b"", server_headers: Iterable[Header] = ()
    ) -> bytes:
        """The whole HTTP/1.1 answer (status line to body) to a request refused before it
        reached the App, in the error style of the protocol ``target``'s path belongs to
        (the service's default when it is not known yet), after the server's own headers
        (``date``); it always closes the connection. Counted in the metrics' errors by
        reason."""
        path = target.partition(b"?")[0].decode("latin-1")
        route = self._router.route(path)
        answer = error_response(exc, route.style)
        self._app.refused(route, answer.reason)
        headers = [header for header in answer.headers if header != CLOSE]
        response = self._respond.json(answer.body, answer.status, [*headers, CLOSE])
        lines = [f"HTTP/1.1 {answer.status} {HTTPStatus(answer.status).phrase}".encode()]
        for name, value in (*server_headers, *response.raw_headers):
            lines.append(name + b": " + value)
        return b"\r\n".join(lines) + b"\r\n\r\n" + response.body
