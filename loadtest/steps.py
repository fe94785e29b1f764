"""Load steps: the run cut wherever the number of users changed, with exact statistics for
each step (requests, failures, req/s, p50/p95/p99 of that step's requests alone), from
snapshots of Locust's own response-time counts on the master (or the only process).

The sampler is ``loadtest/recorder.py`` (in Locust's process). In distributed mode the
master's counts grow when workers report (every 3 s), so a step's edges are blurred by up
to that much: use steps of 15 s or more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
TRANSITION_SECONDS = 2.0  # a user count held for less is a step being reached


@dataclass(frozen=True)
class Mark:
    at: float  # epoch seconds
    users: int
    requests: int
    failures: int
    times: dict[int, int]  # response time (ms, Locust's rounding) → count, cumulative


def percentile(times: Mapping[int, int], q: float) -> int | None:
    """Locust's percentile of response-time counts (ms → requests): the smallest time
    under which at least a share ``q`` of the requests took (None without requests)."""
    total = sum(times.values())
    if not total:
        return None
    allowed_above = total - int(total * q)
    above = 0
    for ms in sorted(times, reverse=True):
        above += times[ms]
        if above >= allowed_above:
            return ms
    return 0


def step_stats(start: Mark, end: Mark) -> dict[str, Any]:
    """The step from ``start`` to ``end``: its users, length and its own requests' figures."""
    times = {
        ms: count - start.times.get(ms, 0)
        for ms, count in end.times.items()
        if count - start.times.get(ms, 0) > 0
    }
    requests = end.requests - start.requests
    seconds = max(end.at - start.at, 1e-9)
    step: dict[str, Any] = {
        "users": start.users,
        "start": start.at,
        "seconds": round(seconds, 2),
        "requests": requests,
        "failures": end.failures - start.failures,
        "rps": round(requests / seconds, 1),
    }
    for key, percent in PERCENTILES.items():
        step[key] = percentile(times, percent)
    return step


def collapse(marks: list[Mark]) -> list[Mark]:
    """The marks that start a step: a count held for less than ``TRANSITION_SECONDS``
    (users being started, or workers reporting one after the other) joins the step
    before it. The last mark, which closes the last step, is kept."""
    kept = [
        mark for mark, following in pairwise(marks) if following.at - mark.at >= TRANSITION_SECONDS
    ]
    return [*kept, marks[-1]] if marks else []


def steps_of(marks: list[Mark]) -> list[dict[str, Any]]:
    """The load steps with users between consecutive step marks."""
    starts = collapse(marks)
    return [step_stats(a, b) for a, b in pairwise(starts) if a.users > 0]
