"""Options of the HTTP server functions-framework runs the function in (gunicorn with
uvicorn workers), where its command line offers none.

functions-framework names the worker class ``uvicorn_worker.UvicornWorker`` and passes no
server options; that class reads ``CONFIG_KWARGS`` when gunicorn forks a worker, after
``main.py`` ran in the master. Setting it there is the one place for them:

* ``http``: the connection protocol of :mod:`function.web.connections` (header and body
  timeouts, header and connection limits), handing every request to ``entry``;
* ``ws``: none — the service speaks no WebSocket, so an ``Upgrade`` request is plain HTTP;
* ``server_header``: off — no ``server: uvicorn`` on any answer.

The keep-alive timeout is gunicorn's ``keepalive`` (2 s), which the worker passes on.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from function.config import Settings
from function.web.entry import Entry


@dataclass(frozen=True)
class ConnectionLimits:
    """What each connection may take (see :mod:`function.web.connections`)."""

    header_timeout_seconds: float
    body_timeout_seconds: float
    max_connections: int
    max_headers: int
    max_header_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(**{limit.name: getattr(settings, limit.name) for limit in fields(cls)})


def configure_workers(settings: Settings, entry: Entry) -> None:
    """Every uvicorn worker forked from here on serves ``entry`` under ``settings``' limits."""
    from uvicorn_worker import UvicornWorker  # noqa: PLC0415 (only in the server)

    from function.web.connections import protocol_class  # noqa: PLC0415
    from function.web.reads import buffered  # noqa: PLC0415

    protocol = buffered(protocol_class(ConnectionLimits.from_settings(settings), entry))
    UvicornWorker.CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        "http": protocol,
        "ws": "none",
        "server_header": False,
    }
