"""Where a request's time goes: the ratio targets turned into microseconds per request, the
service's own share beside the references' (medians of the runs, each model against its
own references) — the measured reason a ratio target is met or missed."""

from __future__ import annotations

from dataclasses import dataclass

from bench.result import (
    BATCH_JSON,
    NOOP,
    ONE_DIGIT,
    SERVERS,
    V2_BINARY,
    Findings,
    Run,
)
from bench.targets import (
    BATCH,
    JSON_VS_LITERT,
    ONE_DIGIT_VS_NOOP,
    RPS,
    V2_VS_LITERT,
    litert_value,
    median_of,
    row_value,
)


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


def costs(findings: Findings) -> list[Cost]:
    """Every ratio target's workload on every model measured."""
    found: list[Cost] = []
    for model, server in SERVERS.items():
        if model in findings.models:
            found += _model_costs(findings.runs, model, server)
    return found


def _model_costs(runs: list[Run], model: str, server: str) -> list[Cost]:
    def us_per_request(name: str, workload: str) -> float | None:
        rate = median_of(runs, row_value(name, workload, RPS))
        return 1e6 / rate if rate else None

    def litert_us(batch: int) -> float | None:
        """LiteRT alone: µs per call of ``batch`` images."""
        per_s = median_of(runs, litert_value(model, batch))
        return batch * 1e6 / per_s if per_s else None

    found = []
    one, noop, single = (
        us_per_request(server, ONE_DIGIT),
        us_per_request(NOOP, ONE_DIGIT),
        litert_us(1),
    )
    if one and noop and single:
        found.append(Cost(ONE_DIGIT, model, one, noop, single, ONE_DIGIT_VS_NOOP.threshold))
    batch = litert_us(BATCH)
    for workload, target in ((V2_BINARY, V2_VS_LITERT), (BATCH_JSON, JSON_VS_LITERT)):
        request = us_per_request(server, workload)
        if request and batch:
            found.append(Cost(workload, model, request, 0.0, batch, target.threshold))
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
