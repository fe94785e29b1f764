"""The end of a run, on the master (or the only process): the gates' verdict, which sets
Locust's exit code, and the result file the runner reads (``LOADTEST_RESULT``): verdicts,
accuracy per request kind, each worker's requests, the load steps and every request
kind's response-time counts (for the cross-check with the service's histogram)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from loadtest import gates
from loadtest.accuracy import Tally

log = logging.getLogger("digitrun.loadtest")
RESULT_ENV = "LOADTEST_RESULT"


def measured(environment: Any, tally: Tally) -> gates.Measured:
    total = environment.stats.total
    return gates.Measured(
        requests=total.num_requests,
        failures=total.num_failures,
        p95_ms=float(total.get_response_time_percentile(0.95) or 0.0),
        p99_ms=float(total.get_response_time_percentile(0.99) or 0.0),
        rps=float(total.total_rps or 0.0),
        accuracy=tally.accuracy(),
    )


def entry_stats(entry: Any) -> dict[str, Any]:
    """One Locust statistics entry: counts, req/s, mean and quantiles (ms), and its
    response-time counts (ms → requests), for the cross-check."""
    return {
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "rps": round(float(entry.total_rps or 0.0), 2),
        "mean": round(float(entry.avg_response_time or 0.0), 2),
        "p50": entry.get_response_time_percentile(0.50),
        "p95": entry.get_response_time_percentile(0.95),
        "p99": entry.get_response_time_percentile(0.99),
        "times": {str(ms): n for ms, n in sorted(entry.response_times.items())},
    }


def conclude(environment: Any, tally: Tally, recorder: Any) -> dict[str, Any]:
    """Judge the run, set the exit code, log the verdicts; the result document."""
    limits = gates.limits_from_env()
    verdicts = gates.evaluate(measured(environment, tally), limits)
    ok = gates.passed(verdicts)
    environment.process_exit_code = 0 if ok else 1
    for verdict in verdicts:
        log.info("gate %s: %s", "pass" if verdict.passed else "FAIL", verdict.text)
    log.info("load test gates: %s", "PASS" if ok else "FAIL")
    from locust.runners import MasterRunner  # noqa: PLC0415 (Locust's process only)

    workers = dict(tally.workers)
    if not isinstance(environment.runner, MasterRunner):
        workers = {"local": tally.local_requests()}
    return {
        "verdict": "PASS" if ok else "FAIL",
        "limits": limits,
        "gates": [verdict.__dict__ for verdict in verdicts],
        "accuracy": {kind: list(counts) for kind, counts in tally.accuracy().items()},
        "workers": workers,
        "steps": recorder.finish(),
        "kinds": {e.name: entry_stats(e) for e in environment.stats.entries.values()},
        "total": entry_stats(environment.stats.total),
        "errors": [
            {"name": e.name, "error": str(e.error), "count": e.occurrences}
            for e in environment.stats.errors.values()
        ],
    }


def install(events: Any, tally: Tally) -> None:
    """Wire the tally, the step recorder and the verdict into Locust's events."""
    from locust.runners import MasterRunner, WorkerRunner  # noqa: PLC0415

    from loadtest.recorder import StepRecorder  # noqa: PLC0415 (gevent)

    state: dict[str, StepRecorder] = {}

    @events.init.add_listener
    def on_init(environment: Any, **_kwargs: Any) -> None:
        if isinstance(environment.runner, WorkerRunner):
            events.report_to_master.add_listener(lambda client_id, data: tally.report(data))
            return
        if isinstance(environment.runner, MasterRunner):
            events.worker_report.add_listener(tally.merge)
        state["recorder"] = StepRecorder(environment)

    @events.test_start.add_listener
    def on_test_start(environment: Any, **_kwargs: Any) -> None:
        if "recorder" in state:
            state["recorder"].start()

    @events.quitting.add_listener
    def on_quitting(environment: Any, **_kwargs: Any) -> None:
        if "recorder" not in state:
            return
        result = conclude(environment, tally, state["recorder"])
        path = os.environ.get(RESULT_ENV)
        if path:
            Path(path).write_text(json.dumps(result, indent=1, default=str))
