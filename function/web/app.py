"""The request path: route lookup, the handler, the error answer, the request's log lines.

:meth:`App.handle` is what ``main.serve`` awaits for every request;
:func:`function.startup.build_app` builds the App at start-up.
"""

from __future__ import annotations

import logging
from time import perf_counter
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from function.observability import logs
from function.runtime.memory import HeapTrimmer, heap_trimmer
from function.web.body_headers import body_headers
from function.web.context import Context
from function.web.errors import (
    CLIP,
    ClientDisconnectedError,
    MethodNotAllowedError,
    clip,
    error_response,
)
from function.web.routes import Route, Router

log = logging.getLogger(logs.LOGGER_NAME)


class RequestRecorder(Protocol):
    """Told about every answered request and every error
    (:class:`function.observability.metrics.Recorder`)."""

    def request(self, route: str, method: str, code: int, seconds: float) -> None: ...

    def error(self, route: str, reason: str) -> None: ...


class App:
    """Dispatches a request to its route's handler and answers every failure as JSON."""

    def __init__(
        self,
        ctx: Context,
        router: Router,
        recorder: RequestRecorder | None = None,
        trimmer: HeapTrimmer | None = None,
    ) -> None:
        self.ctx = ctx
        self.router = router
        self._route = router.route
        self._respond = ctx.respond
        self._slow = ctx.settings.slow_request_seconds
        self._log_requests = ctx.settings.log_requests
        self._project = ctx.settings.project
        self._recorder = recorder
        # Large requests' freed memory goes back to the system (function.runtime.memory).
        self.trimmer = trimmer or heap_trimmer()
        self._trim = self.trimmer.after_request if self.trimmer.enabled else None

    async def handle(self, request: Request) -> Response:
        started = perf_counter()
        scope = request.scope
        path: str = scope["path"]
        method: str = scope["method"]
        route = self._route(path)
        try:
            handler = route.handlers.get(method)
            if handler is None:
                if not route.handlers:
                    raise self.router.not_found(path)
                shown = path if len(path) <= CLIP else clip(path)
                raise MethodNotAllowedError(
                    f"{method[:20]} is not allowed on {shown}: use {', '.join(route.allow)}",
                    route.allow,
                )
            response = await handler(request)
        except Exception as exc:  # every failure becomes a JSON answer, never a traceback
            response = self._error(exc, route, request)
        seconds = perf_counter() - started
        status = response.status_code
        if seconds >= self._slow or self._log_requests:
            self._log_request(request, route, status, seconds, len(response.body))
        if self._recorder is not None:
            self._recorder.request(route.name, method, status, seconds)
        if self._trim is not None:
            self._trim(max(len(response.body), _declared_length(request)), seconds)
        return response

    def refused(self, route: Route, reason: str) -> None:
        """A request the connection layer answered itself (a timeout, a limit, a request
        the parser cannot read): counted like the App's own errors."""
        if self._recorder is not None:
            self._recorder.error(route.name, reason)

    def _error(self, exc: Exception, route: Route, request: Request) -> Response:
        answer = error_response(exc, route.style)
        status = answer.status
        if self._recorder is not None:
            self._recorder.error(route.name, answer.reason)
        if status >= 500:
            scope = request.scope
            log.error(
                "%s %s failed with %d: %s",
                scope["method"],
                scope["path"],
                status,
                exc,
                exc_info=status == 500,
                extra={"fields": self._request_fields(request, route, status, None)},
            )
        elif isinstance(exc, ClientDisconnectedError):
            log.debug("client disconnected on %s", request.scope["path"])
        return self._respond.json(answer.body, status, answer.headers)

    def _log_request(
        self, request: Request, route: Route, status: int, seconds: float, size: int
    ) -> None:
        scope = request.scope
        slow = seconds >= self._slow
        fields = self._request_fields(request, route, status, seconds, size)
        fields["route"] = route.name
        message = f"{scope['method']} {scope['path']} {status} in {seconds * 1000:.1f} ms"
        if slow:
            fields["slow_request_seconds"] = self._slow
            log.warning("slow request: %s", message, extra={"fields": fields})
        else:
            log.info(message, extra={"fields": fields})

    def _request_fields(
        self,
        request: Request,
        route: Route,
        status: int,
        seconds: float | None,
        size: int | None = None,
    ) -> dict[str, object]:
        scope = request.scope
        fields: dict[str, object] = {"route": route.name}
        fields.update(logs.trace_fields(request.headers, self._project))
        if seconds is not None:
            fields["httpRequest"] = logs.http_request_field(
                scope["method"], scope["path"], status, seconds, size
            )
        return fields


def _declared_length(request: Request) -> int:
    """The request's ``Content-Length`` (0 when absent or not a number)."""
    value = body_headers(request).content_length
    return int(value) if value is not None and value.isdigit() else 0
