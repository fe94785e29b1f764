"""The request path: route lookup, the handler, the error answer, the request's log lines.

:func:`build_app` is the start-up: settings, JSON logging, the verified model load, the
routing table. :meth:`App.handle` is what ``main.serve`` awaits for every request.
"""

from __future__ import annotations

import logging
import os
from importlib import metadata
from time import perf_counter
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from function import logs
from function.config import Settings
from function.context import Context
from function.errors import DigitrunError
from function.http_errors import (
    ClientDisconnectedError,
    MethodNotAllowedError,
    error_body,
    error_headers,
    reason_for,
    status_for,
)
from function.routes import Route, Router, routing_table
from function.service import load_model

log = logging.getLogger(logs.LOGGER_NAME)


class RequestRecorder(Protocol):
    """Told about every answered request and every error (function.metrics.Recorder)."""

    def request(self, route: str, method: str, code: int, seconds: float) -> None: ...

    def error(self, route: str, reason: str) -> None: ...


class App:
    """Dispatches a request to its route's handler and answers every failure as JSON."""

    def __init__(
        self, ctx: Context, router: Router, recorder: RequestRecorder | None = None
    ) -> None:
        self.ctx = ctx
        self.router = router
        self._exact = router.exact
        self._respond = ctx.respond
        self._slow = ctx.settings.slow_request_seconds
        self._log_requests = ctx.settings.log_requests
        self._project = ctx.settings.project
        self._recorder = recorder

    async def handle(self, request: Request) -> Response:
        started = perf_counter()
        scope = request.scope
        path: str = scope["path"]
        method: str = scope["method"]
        route = self._exact.get(path) or self.router.fallback(path)
        try:
            handler = route.handlers.get(method)
            if handler is None:
                if not route.handlers:
                    raise self.router.not_found(path)
                raise MethodNotAllowedError(
                    f"{method} is not allowed on {path}: use {', '.join(route.allow)}",
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
        return response

    def _error(self, exc: Exception, route: Route, request: Request) -> Response:
        status = status_for(exc)
        if self._recorder is not None:
            self._recorder.error(route.name, reason_for(exc))
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
        return self._respond.json(error_body(exc, status, route.style), status, error_headers(exc))

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


def server_version() -> str:
    """This service's version (the installed package's, else the source tree's)."""
    try:
        return metadata.version("digitrun")
    except metadata.PackageNotFoundError:
        return "0+source"


def build_app(settings: Settings | None = None) -> App:
    """Start-up: settings, logging, the verified model, the routes; raises DigitrunError.

    With metrics on, ``function.metrics_mode.prepare`` must have run (main.py does).
    """
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level)
    log.info(
        "starting: loading model %s",
        settings.model_uri,
        extra={
            "fields": {
                "model_uri": settings.model_uri,
                "max_body_bytes": settings.max_body_bytes,
                "max_batch": settings.max_batch,
                "log_requests": settings.log_requests,
            }
        },
    )
    ctx = Context.create(load_model(settings.model_uri), settings)
    version = server_version()
    if not settings.metrics:
        return App(ctx, Router(routing_table(ctx, version), ctx.model.version))
    from function import metrics, metrics_mode  # noqa: PLC0415 (after prepare())

    recorder = metrics.RECORDER
    served = ctx.model
    recorder.model_loaded(served.manifest, served.load_seconds, settings.drift_window)
    served.on_inference = recorder.inference
    # Each forked worker sets its own readiness: in multiprocess mode its first metric write
    # re-creates every value at 0 in its own file, and model_ready is a min across processes.
    os.register_at_fork(after_in_child=lambda: recorder.model_ready(served.ready))
    endpoint = None
    if settings.metrics_port:
        metrics_mode.serve_on_port(settings.metrics_port)
    else:
        endpoint = metrics.MetricsApi(ctx).metrics
    routes = routing_table(ctx, version, metrics_endpoint=endpoint)
    return App(ctx, Router(routes, served.version), recorder)


def log_startup_failure(exc: BaseException) -> None:
    """The one log line that says why the service refuses to start."""
    if not log.handlers:  # the settings were not read: log at the default level
        logs.configure("INFO")
    known = isinstance(exc, DigitrunError)
    log.critical(
        "refusing to start: %s",
        exc if known else f"unexpected {type(exc).__name__}: {exc}",
        exc_info=not known,
        extra={"fields": {"error": type(exc).__name__, "model_uri": os.environ.get("MODEL_URI")}},
    )
