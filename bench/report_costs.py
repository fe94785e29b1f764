"""Where a request's time goes: the ratio targets turned into microseconds per request, the
service's own share beside the references' (medians of the runs, each model against its
own references) — the measured reason a ratio target is met or missed — and the floor under
the service's own work (:mod:`bench.floors`), which tells a target out of reach here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.floors import PARSE, RECEIVE
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
    floor_us: float | None = None  # what no server of this body spends less on (bench.floors)

    @property
    def service_us(self) -> float:
        """The service's own work: the request minus the references' share."""
        return self.request_us - self.framework_us - self.litert_us

    @property
    def allowed_us(self) -> float:
        """The service's own work the target allows: reference / promise minus references."""
        reference = self.framework_us if self.workload == ONE_DIGIT else self.litert_us
        return reference / self.promise - self.framework_us - self.litert_us


def floor_value(workload: str, counted: tuple[str, ...]) -> Callable[[Run], float | None]:
    """A run's floor under ``workload``'s own work: the sum of its ``counted`` floors that
    were measured (a body is parsed only when it is JSON)."""

    def get(run: Run) -> float | None:
        floors = run.floors_us.get(workload)
        return sum(floors.get(what, 0.0) for what in counted) if floors else None

    return get


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
        # the no-model handler receives the body too: only the parse is the service's
        floor = median_of(runs, floor_value(ONE_DIGIT, (PARSE,)))
        promise = ONE_DIGIT_VS_NOOP.threshold
        found.append(Cost(ONE_DIGIT, model, one, noop, single, promise, floor))
    batch = litert_us(BATCH)
    for workload, target in ((V2_BINARY, V2_VS_LITERT), (BATCH_JSON, JSON_VS_LITERT)):
        request = us_per_request(server, workload)
        if request and batch:
            floor = median_of(runs, floor_value(workload, (RECEIVE, PARSE)))
            found.append(Cost(workload, model, request, 0.0, batch, target.threshold, floor))
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
        "body, parsing, checks, metrics, the answer), and what the target would allow it. "
        "The floor is the least a server of the same body spends beyond the references "
        "with simdjson as its JSON parser, each part measured alone on the server's core "
        "(`bench/floors.py`): the kernel receiving the body over loopback into one buffer "
        "(not for one digit: the no-model handler receives its body too) and, for JSON, "
        "simdjson's parse of it. A floor over the allowance puts the target out of reach on "
        "this machine, whatever the rest of the service's code does.",
        "",
        "| workload | model | request µs | no-model handler µs | LiteRT alone µs "
        "| service's own µs | floor µs | the target allows µs | within reach |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in rows:
        floor = "—" if c.floor_us is None else f"{c.floor_us:,.1f}"
        reach = "—" if c.floor_us is None else ("yes" if c.floor_us <= c.allowed_us else "**no**")
        lines.append(
            f"| {c.workload} | {c.model} | {c.request_us:,.1f} | {c.framework_us:,.1f} "
            f"| {c.litert_us:,.1f} | {c.service_us:,.1f} | {floor} | {c.allowed_us:,.1f} "
            f"| {reach} |"
        )
    return [*lines, ""]
