"""JSON log lines in Cloud Logging's structured format, one object per line on stderr.

Cloud Run turns each line into a log entry: ``severity`` and ``message`` become the entry's
severity and summary, ``logging.googleapis.com/trace`` ties it to the request's trace (taken
from ``X-Cloud-Trace-Context`` or W3C ``traceparent``) and ``httpRequest`` fills the request
panel. Any other field lands in ``jsonPayload``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

import orjson

LOGGER_NAME = "digitrun"
TRACE_FIELD = "logging.googleapis.com/trace"
SPAN_FIELD = "logging.googleapis.com/spanId"
SAMPLED_FIELD = "logging.googleapis.com/trace_sampled"

log = logging.getLogger(LOGGER_NAME)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; ``extra={"fields": {...}}`` adds fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": _rfc3339(record.created),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            # Error Reporting reads a traceback from ``stack_trace``; the client never sees it.
            entry["stack_trace"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(level: str) -> logging.Logger:
    """Send the ``digitrun`` logger's records to stderr as JSON, at ``level``; idempotent."""
    if not any(isinstance(h.formatter, JsonFormatter) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
    return log


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
