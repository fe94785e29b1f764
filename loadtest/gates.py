"""The SLO gates: every threshold, its environment variable and its default, written once.

The locustfile evaluates them when Locust quits (on the master in distributed mode) and sets
the exit code: 1 when any gate breaks. The runner's flags set the same variables, so plain
``locust -f loadtest/locustfile.py`` (the deploy pipelines' smoke gate) and
``python -m loadtest`` judge a run alike. A threshold set to ``off`` is not checked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

OFF = "off"


@dataclass(frozen=True)
class Gate:
    """One threshold: ``key`` (flag ``--key-with-dashes``), its variable and its default."""

    key: str
    env: str
    default: float | None
    upper: bool  # True: the measured value must stay <= the limit; False: >=
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


GATES = (
    Gate("max_failure_ratio", "LOCUST_MAX_FAILURE_RATIO", 0.001, True, "failed / all requests"),
    # off by default: the deploy pipelines' smoke gate (an Internet hop away) sets p99 only
    Gate("max_p95_ms", "LOCUST_MAX_P95_MS", None, True, "p95 of all requests, ms"),
    Gate("max_p99_ms", "LOCUST_MAX_P99_MS", 100.0, True, "p99 of all requests, ms"),
    Gate("min_rps", "LOCUST_MIN_RPS", None, False, "requests per second over the run"),
    Gate("min_accuracy", "LOCUST_MIN_ACCURACY", 0.90, False, "accuracy of each request kind"),
)
BY_KEY = {gate.key: gate for gate in GATES}
# A request kind with fewer checked digits than this is reported but not judged.
MIN_ACCURACY_SAMPLES = int(os.environ.get("LOCUST_ACCURACY_MIN_SAMPLES", "20"))
# The capacity report's latency budget: the most users whose p95 stays within it. Unless
# set (--budget-ms, LOADTEST_BUDGET_MS), the p95 gate's limit, else the 50 ms of the
# DigitrunHighLatencyP95 alert (monitoring/alerts.yml).
DEFAULT_BUDGET_MS = 50.0
BUDGET_ENV = "LOADTEST_BUDGET_MS"


def parse_limit(text: str | None) -> float | None:
    """A threshold from a flag or variable: a number, or ``off`` (None)."""
    if text is None or text.strip().lower() in (OFF, "none", ""):
        return None
    return float(text)


def limits_from_env(env: Mapping[str, str] | None = None) -> dict[str, float | None]:
    """Every gate's threshold from the environment, else its default."""
    env = os.environ if env is None else env
    return {
        gate.key: parse_limit(env[gate.env]) if gate.env in env else gate.default for gate in GATES
    }


def limits_to_env(limits: Mapping[str, float | None]) -> dict[str, str]:
    """The variables that carry ``limits`` to Locust's processes."""
    return {BY_KEY[key].env: OFF if value is None else repr(value) for key, value in limits.items()}


@dataclass(frozen=True)
class Measured:
    """What the gates judge: the run's totals and each kind's (correct, checked) digits."""

    requests: int
    failures: int
    p95_ms: float
    p99_ms: float
    rps: float
    accuracy: Mapping[str, tuple[int, int]]

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Verdict:
    gate: str
    limit: float | None
    value: float | None
    passed: bool
    text: str


def evaluate(measured: Measured, limits: Mapping[str, float | None]) -> list[Verdict]:
    """One verdict per gate (per request kind for accuracy); no requests at all fails."""
    if measured.requests == 0:
        return [Verdict("requests", 1, 0, False, "no requests were made")]
    values = {
        "max_failure_ratio": measured.failure_ratio,
        "max_p95_ms": measured.p95_ms,
        "max_p99_ms": measured.p99_ms,
        "min_rps": measured.rps,
    }
    verdicts = [_judge(BY_KEY[key], limits.get(key), value) for key, value in values.items()]
    floor = limits.get("min_accuracy")
    if floor is not None and not measured.accuracy:
        verdicts.append(Verdict("min_accuracy", floor, None, False, "no answer was checked"))
    for kind, (correct, checked) in sorted(measured.accuracy.items()):
        value = correct / checked if checked else None
        if checked < MIN_ACCURACY_SAMPLES:
            text = f"accuracy {kind}: {correct}/{checked} digits, too few to judge"
            verdicts.append(Verdict(f"min_accuracy {kind}", floor, value, True, text))
        else:
            verdicts.append(_judge(BY_KEY["min_accuracy"], floor, value, kind))
    return verdicts


def _judge(gate: Gate, limit: float | None, value: float, kind: str = "") -> Verdict:
    name = f"{gate.key} {kind}".strip()
    shown = f"{gate.key.split('_', 1)[1]}{' ' + kind if kind else ''} {value:.4g}"
    if limit is None:
        return Verdict(name, None, value, True, f"{shown} (gate off)")
    passed = value <= limit if gate.upper else value >= limit
    sign = ("<=" if passed else ">") if gate.upper else (">=" if passed else "<")
    return Verdict(name, limit, value, passed, f"{shown} {sign} {limit:g}")


def passed(verdicts: list[Verdict]) -> bool:
    return all(verdict.passed for verdict in verdicts)
