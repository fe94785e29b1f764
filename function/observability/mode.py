"""Choosing prometheus_client's mode before it is imported.

One worker serving /metrics itself keeps metrics in memory (cheapest per request). Several
workers, or a separate METRICS_PORT served by the gunicorn master, need prometheus_client's
multiprocess mode: each process writes its values to files in PROMETHEUS_MULTIPROC_DIR and
the scrape adds them up.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(workers: int, enabled: bool, metrics_port: int | None) -> str | None:
    """Set up multiprocess mode when needed; the directory, or None for single-process.

    Must run before anything imports prometheus_client. The directory (given, or a new
    temporary one) is emptied: values of an earlier run must not leak into this one.
    """
    if "prometheus_client" in sys.modules:
        raise RuntimeError(
            "function.observability.mode.prepare() must run before prometheus_client"
        )
    if not enabled or (workers <= 1 and not metrics_port):
        os.environ.pop(ENV, None)
        return None
    directory = os.environ.get(ENV) or tempfile.mkdtemp(prefix="digitrun-metrics-")
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in [*path.glob("*.db"), *path.glob("flush_*.ledger")]:
        stale.unlink()
    os.environ[ENV] = str(path)
    return str(path)
