"""JSON log lines in Cloud Logging's structured format, one object per line on stderr.

Cloud Run turns each line into a log entry: ``severity`` and ``message`` become the entry's
severity and summary, ``logging.googleapis.com/trace`` ties it to the request's trace (taken
from ``X-Cloud-Trace-Context`` or W3C ``traceparent``) and ``httpRequest`` fills the request
panel. Any other field lands in ``jsonPayload``.

Everything else the process writes to its log is JSON too: ``warnings.warn`` (Pillow's,
python-multipart's...) through ``logging.captureWarnings``, every library logger (the root
logger's handler, at WARNING or above; a ``logger`` field names it) and, in each forked
worker, uncaught exceptions in threads, "exception ignored" reports and the lines of the
server's own loggers (``gunicorn.error``, ``uvicorn.error``, ``uvicorn.access``). Only
gunicorn's master writes plain text (its start-up and shutdown lines, at
``GUNICORN_LOG_LEVEL``): it runs before and outside this code.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import orjson

LOGGER_NAME = "digitrun"
TRACE_FIELD = "logging.googleapis.com/trace"
SPAN_FIELD = "logging.googleapis.com/spanId"
SAMPLED_FIELD = "logging.googleapis.com/trace_sampled"
# The server's loggers: their handlers (gunicorn's, shared by uvicorn's loggers in a worker)
# are made when a worker starts, in the master: their format changes after the fork.
SERVER_LOGGERS = ("gunicorn.error", "uvicorn.error", "uvicorn.access")

log = logging.getLogger(LOGGER_NAME)
_routed = threading.Event()  # the process-wide hooks are installed once


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; ``extra={"fields": {...}}`` adds fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": _rfc3339(record.created),
        }
        if record.name != LOGGER_NAME and not record.name.startswith(LOGGER_NAME + "."):
            entry["logger"] = record.name
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            # Error Reporting reads a traceback from ``stack_trace``; the client never sees it.
            entry["stack_trace"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(level: str) -> logging.Logger:
    """Send the ``digitrun`` logger's records to stderr as JSON, at ``level``, and every
    other log line and warning of the process too (see the module's docstring); idempotent."""
    handler = next((h for h in log.handlers if isinstance(h.formatter, JsonFormatter)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
    root = logging.getLogger()
    if handler not in root.handlers:
        root.addHandler(handler)
    root.setLevel(max(logging.WARNING, logging.getLevelName(level)))
    if not _routed.is_set():
        _routed.set()
        logging.captureWarnings(True)
        os.register_at_fork(after_in_child=json_worker_logs)
    return log


def json_worker_logs() -> None:
    """In a forked worker: the server's loggers, uncaught exceptions in threads and
    "exception ignored" reports write JSON from now on."""
    threading.excepthook = _thread_exception
    sys.unraisablehook = _unraisable
    for name in SERVER_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setFormatter(JsonFormatter())


def _thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    thread = args.thread.name if args.thread is not None else "?"
    log.error(
        "uncaught exception in thread %s: %s",
        thread,
        args.exc_value,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def _unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    log.error(
        "%s: %r",
        unraisable.err_msg or "exception ignored",
        unraisable.object,
        exc_info=(unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback),
    )


def trace_fields(headers: Mapping[str, str], project: str) -> dict[str, Any]:
    """Cloud Logging's trace fields for a request's headers (empty when it carries none).

    ``X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1`` or ``traceparent: 00-TRACE-SPAN-01``.
    The trace is ``projects/PROJECT/traces/TRACE_ID`` when the project is known (that is
    the form Cloud Logging links to its trace), else the bare trace id.
    """
    trace = span = ""
    sampled = None
    raw = headers.get("x-cloud-trace-context")
    if raw:
        trace, _, rest = raw.partition("/")
        span, _, options = rest.partition(";")
        sampled = options.strip() == "o=1" if options else None
    else:
        parent = headers.get("traceparent", "").split("-")
        if len(parent) == 4:
            trace, span, sampled = parent[1], parent[2], parent[3].endswith("1")
    trace = trace.strip()
    if not trace:
        return {}
    fields: dict[str, Any] = {
        TRACE_FIELD: f"projects/{project}/traces/{trace}" if project else trace
    }
    if span.strip():
        fields[SPAN_FIELD] = span.strip()
    if sampled is not None:
        fields[SAMPLED_FIELD] = sampled
    return fields


def http_request_field(
    method: str, path: str, status: int, seconds: float, size: int | None = None
) -> dict[str, Any]:
    """Cloud Logging's ``httpRequest`` object for one request."""
    field: dict[str, Any] = {
        "requestMethod": method,
        "requestUrl": path,
        "status": status,
        "latency": f"{seconds:.6f}s",
    }
    if size is not None:
        field["responseSize"] = str(size)
    return field


def _rfc3339(created: float) -> str:
    seconds = int(created)
    micros = int((created - seconds) * 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"
