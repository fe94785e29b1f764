"""The service's start-up: settings, JSON logging, the verified model load, metrics, routes
(with the page's files and the prediction ids' secret).

``main.py`` calls :func:`build_app` once, in the gunicorn master before the workers fork;
if it raises, :func:`log_startup_failure` writes the one line that says why and the
process exits non-zero, so a server with an unverified model never starts.
"""

from __future__ import annotations

import logging
import os
from importlib import metadata

from function.config import Settings
from function.errors import DigitrunError
from function.observability import logs
from function.protocols.routing import routing_table
from function.runtime.served import load_model
from function.web.app import App
from function.web.context import Context
from function.web.routes import Router

log = logging.getLogger(logs.LOGGER_NAME)


def server_version() -> str:
    """This service's version (the installed package's, else the source tree's)."""
    try:
        return metadata.version("digitrun")
    except metadata.PackageNotFoundError:
        return "0+source"


def build_app(settings: Settings | None = None) -> App:
    """Start-up: settings, logging, the verified model, the routes; raises DigitrunError.

    With metrics on, ``function.observability.mode.prepare`` must have run (main.py does).
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
                # unset: prediction ids are signed with a per-start secret (this instance)
                "feedback_secret_shared": bool(settings.feedback_secret),
            }
        },
    )
    served = load_model(settings.model_uri)
    ctx = Context.create(served, settings)
    version = server_version()
    if not settings.metrics:
        return App(ctx, Router(routing_table(ctx, version), served.version))
    # prometheus_client picks its mode when imported: only now, after mode.prepare().
    from function.observability import exposition, metrics  # noqa: PLC0415

    recorder = metrics.Recorder()
    recorder.model_loaded(served.manifest, served.load_seconds, settings.drift_window)
    served.on_inference = recorder.inference
    # Each forked worker marks itself ready once it holds its own interpreter: in
    # multiprocess mode its first metric write re-creates every value at 0 in its own file.
    # At-fork hooks run in registration order: load_model registered the interpreter's
    # reopening first, and a worker that cannot reopen it exits before this runs.
    os.register_at_fork(after_in_child=recorder.model_ready)
    endpoint = None
    if settings.metrics_port:
        exposition.serve_on_port(settings.metrics_port, settings.metrics_host)
    else:
        endpoint = exposition.MetricsApi(ctx.respond).metrics
    routes = routing_table(ctx, version, metrics_endpoint=endpoint, on_feedback=recorder.feedback)
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
