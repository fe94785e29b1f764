"""``GET /metrics``: the text exposition, on the main port or on METRICS_PORT.

Import only after :func:`function.observability.mode.prepare` chose the mode.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, generate_latest, start_http_server
from starlette.requests import Request
from starlette.responses import Response

from function.observability.multiprocess import multiprocess_registry
from function.web.responses import Responder

# generate_latest() writes the 0.0.4 text format; prometheus_client 0.26's
# CONTENT_TYPE_LATEST names 1.0.0, which Prometheus 2.x servers do not know.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess_mode() -> bool:
    """True when prometheus_client writes its values to PROMETHEUS_MULTIPROC_DIR."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def exposition() -> bytes:
    """The text exposition of every metric (all workers' in multiprocess mode)."""
    return generate_latest(multiprocess_registry() if multiprocess_mode() else REGISTRY)


def serve_on_port(port: int, host: str) -> None:
    """Serve /metrics on ``host:port`` from this process (the gunicorn master) in a thread."""
    start_http_server(port, addr=host, registry=multiprocess_registry())


class MetricsApi:
    """``GET /metrics`` on the main port."""

    def __init__(self, respond: Responder) -> None:
        self._respond = respond
        self._content_type = CONTENT_TYPE.encode()

    async def metrics(self, request: Request) -> Response:
        return self._respond.typed(exposition(), self._content_type)
