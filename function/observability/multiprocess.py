"""prometheus_client's multiprocess mode: one registry adding up every process's files,
the production accuracy derived from the summed feedback counter, and the process metrics
(CPU, memory, fds) of every live worker.

Import only after :func:`function.observability.mode.prepare` chose the mode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector, multiprocess

from function.observability.accuracy import WithProductionAccuracy
from function.observability.metrics import FEEDBACK


class WorkerProcessCollector:
    """Process metrics (CPU, memory, fds) of every live worker, labelled by ``pid``.

    In multiprocess mode the scrape is answered by one process; the pids of the others are
    read from the names of the files they write in ``PROMETHEUS_MULTIPROC_DIR``.
    """

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def collect(self) -> Any:
        forget_dead_processes(str(self.directory))
        pids = sorted(
            {
                int(p.stem.rsplit("_", 1)[1])
                for p in self.directory.glob("*.db")
                if p.stem.rsplit("_", 1)[-1].isdigit()
            }
            | {os.getpid()}
        )
        merged: dict[str, Any] = {}
        for pid in pids:
            if not Path(f"/proc/{pid}").exists():
                continue
            for family in ProcessCollector(pid=lambda pid=pid: pid, registry=None).collect():
                samples = [s._replace(labels={**s.labels, "pid": str(pid)}) for s in family.samples]
                target = merged.setdefault(family.name, family)
                if target is family:
                    family.samples = samples
                else:
                    target.samples.extend(samples)
        yield from merged.values()


def forget_dead_processes(directory: str) -> None:
    """Drop the live-gauge files of processes that are gone (a worker gunicorn replaced):
    prometheus_client's ``live*`` gauge modes rely on this (counters keep their counts)."""
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            multiprocess.mark_process_dead(int(pid), directory)


def multiprocess_registry() -> CollectorRegistry:
    """A registry adding up every process's files, plus each worker's process metrics and
    the production accuracy (computed from the summed feedback counter).

    The process collector runs first on each scrape and drops dead processes' live-gauge
    files, so the multiprocess collector after it sees only live workers' gauges.
    """
    registry = CollectorRegistry()
    registry.register(WorkerProcessCollector(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    files = multiprocess.MultiProcessCollector(None)
    (feedback,) = FEEDBACK.describe()
    registry.register(WithProductionAccuracy(files, feedback.name))
    return registry
