"""The machine a run shared: its CPUs, and how much CPU time processes outside the run
(other than this runner, its Locust processes and the local stack) used meanwhile, so a
report can say when its figures were taken on a busy machine."""

from __future__ import annotations

import os
import platform
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo").read().splitlines():  # noqa: SIM115 (one read)
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def busy_seconds() -> float:
    """CPU seconds every core spent on anything but idle and I/O wait, since boot."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def own_seconds() -> float:
    """CPU seconds used by this process and its descendants (those alive and those reaped)."""
    mine = os.times()
    total = mine.user + mine.system + mine.children_user + mine.children_system
    for child in psutil.Process().children(recursive=True):
        try:
            used = child.cpu_times()
            total += used.user + used.system + used.children_user + used.children_system
        except psutil.Error:
            continue
    return total


@dataclass(frozen=True)
class Snapshot:
    at: float
    busy: float
    own: float
    load: tuple[float, float, float]

    @classmethod
    def take(cls) -> Snapshot:
        return cls(time.monotonic(), busy_seconds(), own_seconds(), os.getloadavg())


def shared(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """The CPUs, and the share of them that other processes used between two snapshots."""
    cores = psutil.cpu_count() or 1
    wall = max(after.at - before.at, 1e-9)
    others = max(0.0, (after.busy - before.busy) - (after.own - before.own))
    return {
        "cores": cores,
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "seconds": round(wall, 1),
        "run_cpu_share": round((after.own - before.own) / (wall * cores), 3),
        "others_cpu_share": round(others / (wall * cores), 3),
        "load_before": [round(x, 2) for x in before.load],
        "load_after": [round(x, 2) for x in after.load],
    }


class CpuSampler:
    """Every second, the share of the CPUs other processes used (a background thread), so
    each load step can say how much of the machine it really had."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.samples: list[tuple[float, float]] = []  # (epoch seconds, others' share)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        cores = psutil.cpu_count() or 1
        last = (time.monotonic(), busy_seconds(), own_seconds())
        while not self._stop.wait(self.every):
            now = (time.monotonic(), busy_seconds(), own_seconds())
            others = max(0.0, (now[1] - last[1]) - (now[2] - last[2]))
            share = others / (max(now[0] - last[0], 1e-9) * cores)
            self.samples.append((time.time(), round(min(share, 1.0), 3)))
            last = now

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def others_during(samples: list[tuple[float, float]], start: float, seconds: float) -> float | None:
    """Other processes' mean share of the CPUs between ``start`` and ``start + seconds``."""
    inside = [share for at, share in samples if start < at <= start + seconds + 0.5]
    return round(sum(inside) / len(inside), 3) if inside else None
