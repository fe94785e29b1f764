"""``GET /metrics``: the text exposition, on the main port or on METRICS_PORT.

On the main port (which may be public) the exposition leaves out what tells an outsider
about the machine rather than the service: the interpreter (``python_info``, the
``python_gc_*`` collector) and the file-descriptor gauges. The METRICS_PORT server (never
routed by Cloud Run; scraped on localhost by the Prometheus sidecar) keeps them all, and
answers without a ``Server`` header naming the interpreter.

Every exposition first flushes this process's buffered values; in multiprocess mode it
then waits for the other processes' flushes (at most ``SCRAPE_WAIT_SECONDS``), so a scrape
holds every request answered before it began (:mod:`function.observability.flushes`).

Import only after :func:`function.observability.mode.prepare` chose the mode.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, generate_latest, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from function.observability import flushes
from function.observability.multiprocess import multiprocess_registry
from function.web.responses import Responder

# generate_latest() writes the 0.0.4 text format; prometheus_client 0.26's
# CONTENT_TYPE_LATEST names 1.0.0, which Prometheus 2.x servers do not know.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Metric families the main port leaves out (names as collected, without _total etc.).
PRIVATE_FAMILIES = frozenset({"process_open_fds", "process_max_fds"})
PRIVATE_PREFIXES = ("python_",)  # python_info (the interpreter's version), python_gc_*


def multiprocess_mode() -> bool:
    """True when prometheus_client writes its values to PROMETHEUS_MULTIPROC_DIR."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def private(name: str) -> bool:
    """True for a metric family the main port does not show."""
    return name in PRIVATE_FAMILIES or name.startswith(PRIVATE_PREFIXES)


class PublicView:
    """A registry's families without the private ones (see :func:`private`)."""

    def __init__(self, registry: Collector) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Any]:
        return (family for family in self._registry.collect() if not private(family.name))


def registry() -> Collector:
    """Every metric of the service (all workers' in multiprocess mode)."""
    return multiprocess_registry() if multiprocess_mode() else REGISTRY


def exposition() -> bytes:
    """The text exposition the main port serves: every metric but the private ones (this
    process's buffered values flushed first)."""
    flushes.flush_all()
    return generate_latest(PublicView(registry()))


def settled(app: Any, directory: str) -> Any:
    """The WSGI ``app``, answering once every process's flush under way has landed."""

    def answer(environ: dict[str, Any], start_response: Any) -> Any:
        flushes.wait_for_flushes(directory)
        return app(environ, start_response)

    return answer


class _Quiet(WSGIRequestHandler):
    """Logs nothing and names no server or interpreter version (the stdlib's handler
    sends ``Server: WSGIServer/0.2 CPython/3.x.y``)."""

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""

    def send_header(self, keyword: str, value: str) -> None:
        """Every header but ``Server`` (sent by the stdlib's own error answers)."""
        if keyword.lower() != "server":
            super().send_header(keyword, value)

    def handle(self) -> None:
        """WSGIRequestHandler.handle with a handler that sends no ``Server`` header."""
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _Anonymous(
            self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=False
        )
        handler.request_handler = self  # the stdlib's back-pointer
        handler.run(self.server.get_app())


class _Anonymous(ServerHandler):
    server_software = ""  # empty: wsgiref then writes no Server header


def serve_on_port(port: int, host: str) -> WSGIServer:
    """Serve every metric (the private ones too) at ``host:port`` from this process (the
    gunicorn master), in a daemon thread; the server is returned so a caller can stop it."""
    # as prometheus_client's start_http_server: the family that can bind ``host`` (IPv6 too)
    family, *_, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    server_class = type("MetricsServer", (ThreadingWSGIServer,), {"address_family": family})
    app = settled(make_wsgi_app(multiprocess_registry()), os.environ["PROMETHEUS_MULTIPROC_DIR"])
    server = make_server(address[0], port, app, server_class, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


class MetricsApi:
    """``GET /metrics`` on the main port."""

    def __init__(self, respond: Responder) -> None:
        self._respond = respond
        self._content_type = CONTENT_TYPE.encode()

    async def metrics(self, request: Request) -> Response:
        if multiprocess_mode():  # the other workers' records: wait for their flushes
            flushes.flush_all()
            await flushes.flushes_done(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        return self._respond.typed(exposition(), self._content_type)
