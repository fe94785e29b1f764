"""Where a request's time goes: the ratio targets turned into microseconds per request, the
service's own share beside the references' (medians of the runs, each model against its
own references) — the measured reason a ratio target is met or missed."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.result import (
    BATCH_JSON,
    FLOAT,
    INT8,
    NOOP,
    ONE_DIGIT,
    OURS,
    QUANTIZED,
    V2_BINARY,
    Findings,
    Run,
)

BATCH = 256
SERVERS = {FLOAT: OURS, QUANTIZED: INT8}


@dataclass(frozen=True)
class Cost:
    """One workload on one model, in µs per request: the service's whole time, what the
    references take of it (the framework's no-model handler, LiteRT alone), the rest."""

    workload: str
    model: str
    request_us: float
    framework_us: float  # the no-model handler (0 where the target has no such reference)
    litert_us: float
    promise: float  # the target's ratio

    @property
    def service_us(self) -> float:
        """The service's own work: the request minus the references' share."""
        return self.request_us - self.framework_us - self.litert_us

    @property
    def allowed_us(self) -> float:
        """The service's own work the target allows: reference / promise minus references."""
        reference = self.framework_us if self.workload == ONE_DIGIT else self.litert_us
        return reference / self.promise - self.framework_us - self.litert_us


def _median(values: list[float | None]) -> float | None:
    found = [v for v in values if v]
    return statistics.median(found) if found else None


def costs(findings: Findings) -> list[Cost]:
    """Every ratio target's workload on every model measured."""
    found: list[Cost] = []
    for model, server in SERVERS.items():
        if model in findings.models:
            found += _model_costs(findings.runs, model, server)
    return found


def _model_costs(runs: list[Run], model: str, server: str) -> list[Cost]:
    def rate(name: str, workload: str) -> float | None:
        rows = [run.find(name, workload) for run in runs]
        return _median([row.requests_per_s if row else None for row in rows])

    def litert_us(batch: int) -> float | None:
        """LiteRT alone: µs per call of ``batch`` images."""
        per_s = _median([run.litert.get(model, {}).get(batch) for run in runs])
        return batch * 1e6 / per_s if per_s else None

    found = []
    one, noop, single = rate(server, ONE_DIGIT), rate(NOOP, ONE_DIGIT), litert_us(1)
    if one and noop and single:
        found.append(Cost(ONE_DIGIT, model, 1e6 / one, 1e6 / noop, single, 0.65))
    batch = litert_us(BATCH)
    for workload, promise in ((V2_BINARY, 0.85), (BATCH_JSON, 0.40)):
        request = rate(server, workload)
        if request and batch:
            found.append(Cost(workload, model, 1e6 / request, 0.0, batch, promise))
    return found


def costs_section(findings: Findings) -> list[str]:
    """The table, and what it says."""
    rows = costs(findings)
    if not rows:
        return []
    lines = [
        "## Where a request's time goes",
        "",
        "The ratio targets in µs per request (medians of the runs): the whole request, the "
        "references' share of it (functions-framework's no-model handler for one digit, "
        "LiteRT alone on the same file), what is left for the service's own work (HTTP "
        "body, parsing, checks, metrics, the answer), and what the target would allow it.",
        "",
        "| workload | model | request µs | no-model handler µs | LiteRT alone µs "
        "| service's own µs | the target allows µs |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for c in rows:
        lines.append(
            f"| {c.workload} | {c.model} | {c.request_us:,.1f} | {c.framework_us:,.1f} "
            f"| {c.litert_us:,.1f} | {c.service_us:,.1f} | {c.allowed_us:,.1f} |"
        )
    return [*lines, ""]
