"""The markdown report (BENCHMARKS.md): the targets over the runs (met / not met, each
run's value and the spread), int8 and float side by side, every measurement, how cost grows
with load (``bench.report_load``), the references and the last soak run."""

from __future__ import annotations

import platform
import statistics
import time
from pathlib import Path

import psutil

from bench.report_costs import costs_section
from bench.report_load import load_section, references_section
from bench.result import (
    BATCH_JSON,
    FLOAT,
    INT8,
    ONE_DIGIT,
    OURS,
    QUANTIZED,
    V2_BINARY,
    Findings,
    Run,
)
from bench.servers import LOAD_CPU, SERVER_CPU
from bench.targets import (
    IMAGES,
    RPS,
    Measure,
    fmt,
    json_vs_litert,
    litert_value,
    median_of,
    one_digit_vs_noop,
    ratio_of,
    row_value,
    v2_vs_litert,
    verdicts,
)
from bench.wrk import CONNECTIONS, SLICES, WARM_UP_S

# `make soak` (scripts/soak.py) writes its section here; the report carries the latest one.
SOAK_SECTION = Path(__file__).resolve().parent.parent / "docs" / "soak" / "soak.md"


def machine() -> str:
    """CPU model, cores, memory, kernel and Python of this machine, in one line."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{cpu}, {psutil.cpu_count()} cores, {memory:.0f} GiB RAM, Linux "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def write_report(path: Path, findings: Findings, plots: Path | None) -> None:
    """The whole report at ``path`` (plots, when drawn, linked relative to it)."""
    lines = [
        "# Serving benchmark",
        "",
        intro(findings),
        "",
        "## Targets",
        "",
        *targets_table(findings.runs),
        "",
        "## int8 and float side by side",
        "",
        *side_by_side(findings),
        "",
        *costs_section(findings),
        "## Every measurement",
        "",
        *results_table(findings.runs),
        "",
        cold_start_paragraph(findings.runs),
        "",
        *load_section(findings, path.parent, plots),
        *references_section(findings),
        *soak_section(SOAK_SECTION),
    ]
    path.write_text("\n".join(lines) + "\n")


def soak_section(section: Path) -> list[str]:
    """The last soak run's section (``make soak``), when there is one."""
    if not section.is_file():
        return []
    return ["", section.read_text().rstrip()]


def intro(findings: Findings) -> str:
    """Where, when and how the run measured."""
    models = "; ".join(
        f"{label} `{m.version}` serving `{m.file}`" for label, m in findings.models.items()
    )
    return (
        f"Machine: {machine()}. Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        f" by `make bench` (`python -m bench.run`), {len(findings.runs)} run(s) of every "
        f"measurement the targets judge: wrk, {CONNECTIONS} connections, "
        f"{findings.seconds:.0f} s per server and workload after a {WARM_UP_S} s warm-up (one "
        f"digit: every server of the run in turn, {SLICES} interleaved slices; req/s their "
        f"mean, percentiles their median), server pinned to CPU "
        f"{SERVER_CPU} and wrk to CPU {LOAD_CPU} (`taskset`; one core is the unit Cloud Run "
        f"bills). Every target is a ratio to (or a difference from) a reference measured in "
        f"the same run on the same core: this machine's speed drifts 25%+ between minutes. "
        f"Models (the classic MLP, real MNIST test digits): {models}."
    )


def targets_table(runs: list[Run]) -> list[str]:
    """The targets, each run's value, the median and spread, met or not, run 1's figures."""
    head = " | ".join(f"run {i + 1}" for i in range(len(runs)))
    rows = [
        f"| target | promise | {head} | median | spread (min–max) | met | figures (run 1) |",
        "|---|---|" + "---:|" * len(runs) + "---:|---|---|---|",
    ]
    for v in verdicts(runs):
        unit = v.target.unit
        cells = " | ".join("—" if x is None else fmt(x, unit) for x in v.values)
        s = v.spread
        median = "—" if s is None else fmt(s.median, unit)
        width = "—" if s is None else f"{fmt(s.low, unit)} – {fmt(s.high, unit)}"
        met = f"{'met' if v.met else '**not met**'} ({v.runs_met}/{len(v.values)} runs)"
        rows.append(
            f"| {v.target.label} | {v.target.promise} | {cells} | {median} | {width} | {met} "
            f"| {v.target.basis(runs[0])} |"
        )
    rows += [
        "",
        "Met = the median of the runs keeps the promise; the count says how many runs kept "
        "it. A target missed here is reported as measured, not loosened. The targets judge "
        "the float model (`model.tflite`, the issue's baseline); the same three ratios for "
        "the int8 model, each against its own references, are in the side-by-side table.",
    ]
    return rows


COMPARED: tuple[tuple[str, Measure, Measure], ...] = (
    (
        "bare LiteRT, 1 digit per call (images/s)",
        litert_value(FLOAT, 1),
        litert_value(QUANTIZED, 1),
    ),
    (
        "bare LiteRT, 256 per call (images/s)",
        litert_value(FLOAT, 256),
        litert_value(QUANTIZED, 256),
    ),
    (
        "V2 binary 256 (images/s)",
        row_value(OURS, V2_BINARY, IMAGES),
        row_value(INT8, V2_BINARY, IMAGES),
    ),
    (
        "batch JSON 256 (images/s)",
        row_value(OURS, BATCH_JSON, IMAGES),
        row_value(INT8, BATCH_JSON, IMAGES),
    ),
    (
        "`/predict` 1 digit (req/s)",
        row_value(OURS, ONE_DIGIT, RPS),
        row_value(INT8, ONE_DIGIT, RPS),
    ),
    (
        "`/predict` 1 digit p99 (ms)",
        row_value(OURS, ONE_DIGIT, "p99_ms"),
        row_value(INT8, ONE_DIGIT, "p99_ms"),
    ),
    # the three ratio targets, each model against its own reference (x)
    *(
        (label, ratio_of(*sides(FLOAT)), ratio_of(*sides(QUANTIZED)))
        for label, sides in (
            ("`/predict` 1 digit vs the no-model handler (x)", one_digit_vs_noop),
            ("V2 binary 256 vs bare LiteRT on its served file (x)", v2_vs_litert),
            ("batch JSON 256 vs bare LiteRT on its served file (x)", json_vs_litert),
        )
    ),
)


def side_by_side(findings: Findings) -> list[str]:
    """Bare LiteRT, V2 binary 256 and /predict one digit for the float and the int8 model,
    medians of the runs."""
    if QUANTIZED not in findings.models:
        note = findings.model_notes.get(QUANTIZED, "not measured")
        return [f"No int8 model in this run: {note}."]
    runs = findings.runs
    flt, q8 = findings.models[FLOAT], findings.models[QUANTIZED]
    rows = [
        f"| median of {len(runs)} run(s) | float (`{flt.file}`) | int8 (`{q8.file}`) "
        "| int8 / float |",
        "|---|---:|---:|---:|",
        f"| served file (KB) | {flt.size_kb:,.1f} | {q8.size_kb:,.1f} "
        f"| {q8.size_kb / flt.size_kb:.2f}x |",
        f"| test accuracy (manifest) | {flt.test_accuracy:.4f} | {q8.test_accuracy:.4f} "
        f"| {q8.test_accuracy - flt.test_accuracy:+.4f} |",
    ]
    for label, of_float, of_int8 in COMPARED:
        a, b = median_of(runs, of_float), median_of(runs, of_int8)
        unit = "x" if label.endswith("(x)") else ""
        digits = 2 if "ms" in label or unit else 0
        cells = ["—" if x is None else f"{x:,.{digits}f}{unit}" for x in (a, b)]
        versus = "—" if a is None or b is None or not a or unit else f"{b / a:.2f}x"
        rows.append(f"| {label} | {cells[0]} | {cells[1]} | {versus} |")
    return rows


def results_table(runs: list[Run]) -> list[str]:
    """One row per server and workload: the median run's figures, and req/s of every run."""
    rows = [
        "| server (one core) | workload | req/s (median) | req/s, every run | images/s | p50 ms "
        "| p95 ms | p99 ms | errors | RSS MB per process |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    keys = list(dict.fromkeys((r.server, r.workload) for run in runs for r in run.results))
    for server, workload in keys:
        measured = [r for run in runs if (r := run.find(server, workload)) is not None]
        r = sorted(measured, key=lambda x: x.requests_per_s)[len(measured) // 2]
        every = ", ".join(f"{x.requests_per_s:,.0f}" for x in measured)
        rows.append(
            f"| {server} | {workload} | {r.requests_per_s:,.0f} | {every} | "
            f"{r.images_per_s:,.0f} | {r.p50_ms:.2f} | {r.p95_ms:.2f} | {r.p99_ms:.2f} | "
            f"{sum(x.errors for x in measured)} | {', '.join(map(str, r.rss_mb))} |"
        )
    return rows


def cold_start_paragraph(runs: list[Run]) -> str:
    """Every cold start of every run, with medians."""
    parts = []
    for i, run in enumerate(runs):
        each = "; ".join(
            f"{label} {', '.join(f'{t:.3f}' for t in times)} (median "
            f"{statistics.median(times):.3f})"
            for label, times in run.cold_start_s.items()
            if times
        )
        parts.append(f"run {i + 1}: {each}")
    return (
        f"Cold starts, seconds from process start (on CPU {SERVER_CPU}) to the first 200 from "
        "`/predict`, interleaved (one of each in turn): the model fetched from the GCS "
        "emulator and verified, read from a directory (how Cloud Run mounts the bucket), and "
        "functions-framework's no-model ASGI handler (the framework's own share) — "
        + "; ".join(parts)
        + "."
    )
