"""Issue 17's targets, each a ratio to (or a difference from) a reference measured in the
same run on the same core, judged on the median of the runs, with every run's value and
their spread (this machine's speed drifts 25%+ between minutes: only same-run figures
compare)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.result import (
    BATCH_JSON,
    COLD_DIR,
    COLD_GS,
    COLD_NOOP,
    FLOAT,
    METRICS_OFF,
    NOOP,
    ONE_DIGIT,
    OURS,
    SERVERS,
    V2_BINARY,
    Run,
)

BATCH = 256


@dataclass(frozen=True)
class Target:
    """A promise: ``value(run)`` at least (or at most) ``threshold``, in ``unit``."""

    label: str
    threshold: float
    at_least: bool
    unit: str
    value: Callable[[Run], float | None]
    # the figures behind the value, for the report (e.g. "3,251 vs 5,620 req/s")
    basis: Callable[[Run], str] = lambda run: ""

    def holds(self, measured: float) -> bool:
        """Whether ``measured`` keeps the promise."""
        return measured >= self.threshold if self.at_least else measured <= self.threshold

    @property
    def promise(self) -> str:
        """The threshold as the report prints it, e.g. ``≥ 0.65x``."""
        return f"{'≥' if self.at_least else '≤'} {fmt(self.threshold, self.unit)}"


@dataclass(frozen=True)
class Spread:
    """The lowest, median and highest of a few values."""

    low: float
    median: float
    high: float


@dataclass(frozen=True)
class Verdict:
    """A target judged over the runs: every run's value (None: not measured), the spread."""

    target: Target
    values: list[float | None]

    @property
    def measured(self) -> list[float]:
        return [v for v in self.values if v is not None]

    @property
    def spread(self) -> Spread | None:
        return spread(self.measured) if self.measured else None

    @property
    def met(self) -> bool:
        """Met when the median of the measured runs keeps the promise."""
        return self.spread is not None and self.target.holds(self.spread.median)

    @property
    def runs_met(self) -> int:
        return sum(self.target.holds(v) for v in self.measured)


def fmt(value: float, unit: str) -> str:
    """A value in its unit: ratios with two decimals, ms with two, s with three, MB one."""
    digits = {"x": 2, "ms": 2, "s": 3, "MB": 1}.get(unit, 2)
    sep = "" if unit == "x" else " "
    return f"{value:.{digits}f}{sep}{unit}"


def spread(values: Sequence[float]) -> Spread:
    """Min, median and max of ``values`` (at least one)."""
    if not values:
        raise ValueError("no values")
    return Spread(min(values), statistics.median(values), max(values))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


Measure = Callable[[Run], float | None]
RPS, IMAGES = "requests_per_s", "images_per_s"


def row_value(server: str, workload: str, attr: str) -> Measure:
    """A run's ``attr`` of the row of ``server`` under ``workload`` (None: not measured)."""

    def get(run: Run) -> float | None:
        found = run.find(server, workload)
        return getattr(found, attr) if found else None

    return get


def litert_value(model: str = FLOAT, batch: int = BATCH) -> Measure:
    """A run's images/s of LiteRT alone on ``model`` at ``batch`` per call."""
    return lambda run: run.litert.get(model, {}).get(batch)


def median_of(runs: Sequence[Run], value: Measure) -> float | None:
    """The median over ``runs`` of ``value(run)``, None when no run measured it."""
    found = [v for v in (value(run) for run in runs) if v is not None]
    return statistics.median(found) if found else None


def ratio_of(numerator: Measure, denominator: Measure) -> Measure:
    """A run's ``numerator / denominator`` (None when either is missing)."""
    return lambda run: ratio(numerator(run), denominator(run))


def cold_minus_noop(run: Run, label: str) -> float | None:
    """Median cold start of ``label`` minus the no-model handler's (the framework's share)."""
    ours, noop = run.cold_start_s.get(label), run.cold_start_s.get(COLD_NOOP)
    if not ours or not noop:
        return None
    return statistics.median(ours) - statistics.median(noop)


def max_rss(run: Run) -> float | None:
    """The largest RSS of any digitrun process (master or worker) under any load."""
    sizes = [mb for r in run.results if r.server.startswith("digitrun") for mb in r.rss_mb]
    return max(sizes) if sizes else None


def pair(a: float | None, b: float | None, unit: str) -> str:
    """``a vs b unit``, or what is missing."""
    if a is None or b is None:
        return "not measured"
    return f"{a:,.0f} vs {b:,.0f} {unit}"


def ratio_target(
    label: str, promise: float, numerator: Measure, denominator: Measure, unit: str
) -> Target:
    """At least ``promise`` times the reference; the figures in ``unit``."""
    return Target(
        label,
        promise,
        True,
        "x",
        ratio_of(numerator, denominator),
        lambda run: pair(numerator(run), denominator(run), unit),
    )


def p99_basis(run: Run) -> str:
    found = run.find(OURS, ONE_DIGIT)
    return f"p50 {found.p50_ms:.2f} ms, p95 {found.p95_ms:.2f} ms" if found else "not measured"


def cold_basis(run: Run, label: str) -> str:
    ours, noop = run.cold_start_s.get(label), run.cold_start_s.get(COLD_NOOP)
    if not ours or not noop:
        return "not measured"
    return f"{statistics.median(ours):.3f} − {statistics.median(noop):.3f} s"


# The three ratio targets' two sides for a model (its server, its own references): the
# targets judge the float model, the side-by-side table shows both.
def one_digit_vs_noop(model: str = FLOAT) -> tuple[Measure, Measure]:
    return row_value(SERVERS[model], ONE_DIGIT, RPS), row_value(NOOP, ONE_DIGIT, RPS)


def v2_vs_litert(model: str = FLOAT) -> tuple[Measure, Measure]:
    return row_value(SERVERS[model], V2_BINARY, IMAGES), litert_value(model)


def json_vs_litert(model: str = FLOAT) -> tuple[Measure, Measure]:
    return row_value(SERVERS[model], BATCH_JSON, IMAGES), litert_value(model)


# The three ratio targets by name (the time table turns them into µs per request).
ONE_DIGIT_VS_NOOP = ratio_target(
    "`/predict` one digit vs the no-model ASGI handler", 0.65, *one_digit_vs_noop(), "req/s"
)
V2_VS_LITERT = ratio_target(
    "V2 binary 256 vs bare LiteRT on the served file", 0.85, *v2_vs_litert(), "images/s"
)
JSON_VS_LITERT = ratio_target("batch JSON 256 vs bare LiteRT", 0.40, *json_vs_litert(), "images/s")
P99_ONE_DIGIT = Target(
    "p99, one digit, 16 connections",
    10.0,
    False,
    "ms",
    row_value(OURS, ONE_DIGIT, "p99_ms"),
    p99_basis,
)

TARGETS = (
    ONE_DIGIT_VS_NOOP,
    V2_VS_LITERT,
    JSON_VS_LITERT,
    P99_ONE_DIGIT,
    Target(
        "cold start, mounted directory, minus the no-model handler's",
        0.20,
        False,
        "s",
        lambda run: cold_minus_noop(run, COLD_DIR),
        lambda run: cold_basis(run, COLD_DIR),
    ),
    Target(
        "cold start, `gs://` emulator, minus the no-model handler's",
        0.35,
        False,
        "s",
        lambda run: cold_minus_noop(run, COLD_GS),
        lambda run: cold_basis(run, COLD_GS),
    ),
    ratio_target(
        "metrics on vs off",
        0.95,
        row_value(OURS, ONE_DIGIT, RPS),
        row_value(METRICS_OFF, ONE_DIGIT, RPS),
        "req/s",
    ),
    Target(
        "RSS per process",
        120.0,
        False,
        "MB",
        max_rss,
        lambda run: "max over every digitrun process and load",
    ),
)


def verdicts(runs: Sequence[Run], targets: Sequence[Target] = TARGETS) -> list[Verdict]:
    """Every target judged over ``runs``."""
    return [Verdict(t, [t.value(run) for run in runs]) for t in targets]
