"""The benchmark's targets: ratios to references of the same run, judged on the median of
the runs with their spread (bench/targets.py)."""

from __future__ import annotations

import pytest

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
    V2_BINARY,
    Result,
    Run,
)
from bench.targets import TARGETS, Target, cold_minus_noop, fmt, max_rss, spread, verdicts


def row(server: str, workload: str, rps: float, images: int = 1, **extra) -> Result:
    fields = {"p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "errors": 0, "rss_mb": [50.0, 60.0]}
    fields.update(extra)
    return Result(server, workload, rps, rps * images, **fields)


def make_run(
    ours: float = 3000,
    noop: float = 4000,
    off: float = 3100,
    v2: float = 200,
    batch: float = 40,
    roof: float = 60000,
    p99: float = 8.0,
) -> Run:
    return Run(
        results=[
            row(OURS, V2_BINARY, v2, 256, rss_mb=[100.0, 118.0]),
            row(OURS, BATCH_JSON, batch, 256),
            row(OURS, ONE_DIGIT, ours, p99_ms=p99),
            row(NOOP, ONE_DIGIT, noop, rss_mb=[300.0]),  # not digitrun: not judged
            row(METRICS_OFF, ONE_DIGIT, off),
        ],
        litert={FLOAT: {1: 20000.0, 256: roof}},
        cold_start_s={
            COLD_GS: [0.9, 0.8, 1.5],
            COLD_DIR: [0.6, 0.7, 0.65],
            COLD_NOOP: [0.5, 0.45, 0.55],
        },
    )


def by_label(found, words: str):
    return next(v for v in found if words in v.target.label)


def test_every_issue_target_is_judged_once():
    labels = [t.label for t in TARGETS]
    assert len(labels) == len(set(labels)) == 8


def test_ratios_come_from_the_same_run():
    found = verdicts([make_run()])
    assert by_label(found, "no-model ASGI").values == [pytest.approx(0.75)]
    assert by_label(found, "V2 binary 256").values == [pytest.approx(200 * 256 / 60000)]
    assert by_label(found, "batch JSON 256").values == [pytest.approx(40 * 256 / 60000)]
    assert by_label(found, "metrics on vs off").values == [pytest.approx(3000 / 3100)]
    assert by_label(found, "p99").values == [8.0]


def test_cold_starts_are_differences_of_medians():
    run = make_run()
    assert cold_minus_noop(run, COLD_DIR) == pytest.approx(0.65 - 0.5)
    assert cold_minus_noop(run, COLD_GS) == pytest.approx(0.9 - 0.5)
    assert cold_minus_noop(Run(), COLD_GS) is None


def test_rss_is_the_largest_digitrun_process():
    assert max_rss(make_run()) == 118.0
    assert max_rss(Run()) is None


def test_met_on_the_median_with_every_run_and_the_spread():
    runs = [make_run(ours=2500), make_run(ours=2700), make_run(ours=3200)]  # vs 4000
    verdict = by_label(verdicts(runs), "no-model ASGI")
    assert verdict.values == [pytest.approx(0.625), pytest.approx(0.675), pytest.approx(0.8)]
    assert verdict.spread.low == pytest.approx(0.625)
    assert verdict.spread.median == pytest.approx(0.675)
    assert verdict.spread.high == pytest.approx(0.8)
    assert verdict.met
    assert verdict.runs_met == 2


def test_a_median_past_an_upper_bound_is_not_met():
    runs = [make_run(p99=9.0), make_run(p99=11.0), make_run(p99=12.0)]
    verdict = by_label(verdicts(runs), "p99")
    assert not verdict.met
    assert verdict.runs_met == 1


def test_a_missing_reference_is_not_measured_and_not_met():
    run = make_run()
    run.results = [r for r in run.results if r.server != NOOP]
    verdict = by_label(verdicts([run]), "no-model ASGI")
    assert verdict.values == [None]
    assert verdict.spread is None
    assert not verdict.met


def test_a_zero_reference_is_not_a_ratio():
    verdict = by_label(verdicts([make_run(noop=0)]), "no-model ASGI")
    assert verdict.values == [None]


def test_spread_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="no "):
        spread([])


def test_promises_print_their_direction_and_unit():
    at_least = Target("a", 0.65, True, "x", lambda run: None)
    at_most = Target("b", 0.2, False, "s", lambda run: None)
    assert at_least.promise == "≥ 0.65x"
    assert at_most.promise == "≤ 0.200 s"
    assert fmt(118.04, "MB") == "118.0 MB"
    assert at_least.holds(0.65) and not at_least.holds(0.649)
    assert at_most.holds(0.2) and not at_most.holds(0.2001)
