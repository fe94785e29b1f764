"""The markdown report (BENCHMARKS.md): every measurement, then each target against its
threshold."""

from __future__ import annotations

import platform
import statistics
import time
from pathlib import Path

import psutil

from bench.result import Findings, Result
from bench.servers import LOAD_CPU, SERVER_CPU
from bench.wrk import CONNECTIONS, WARM_UP_S

OURS = "digitrun (ASGI, LiteRT)"
# `make soak` (scripts/soak.py) writes its section here; the report carries the latest one.
SOAK_SECTION = Path(__file__).resolve().parent.parent / "docs" / "soak" / "soak.md"
Target = tuple[str, bool, str]  # what is promised, whether it holds, what was measured


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


def write_report(path: Path, findings: Findings) -> None:
    """The markdown report: every measurement, then each target against its threshold."""
    lines = [
        "# Serving benchmark",
        "",
        intro(findings),
        "",
        *results_table(findings.results),
        "",
        rounds_paragraph(findings.rounds),
        "",
        locust_paragraph(findings.locust, findings.seconds),
        "",
        cold_start_paragraph(findings),
        "",
        inference_paragraph(findings.inference_s),
        "",
        f"Serving venv (`make serving-venv`, requirements/serving.txt): "
        f"{findings.serving_venv_mb} MB installed.",
        "",
        *targets_table(targets(findings)),
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
    return (
        f"Machine: {machine()}. Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        f" by `make bench` (`python -m bench.run`): wrk, {CONNECTIONS} connections, "
        f"{findings.seconds:.0f} s per run after a {WARM_UP_S} s warm-up, server pinned to CPU "
        f"{SERVER_CPU} and wrk to CPU {LOAD_CPU} (`taskset`). Model: the classic MLP, version "
        f"`{findings.version}`; real MNIST test digits."
    )


def results_table(results: list[Result]) -> list[str]:
    """One row per wrk run."""
    rows = [
        "| server (one core) | workload | req/s | images/s | p50 ms | p95 ms | p99 ms | errors"
        " | RSS MB per process |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        rows.append(
            f"| {r.server} | {r.workload} | {r.requests_per_s:,.0f} | "
            f"{r.images_per_s:,.0f} | {r.p50_ms:.2f} | {r.p95_ms:.2f} | "
            f"{r.p99_ms:.2f} | {r.errors} | {', '.join(map(str, r.rss_mb))} |"
        )
    return rows


def rounds_paragraph(rounds: dict[str, list[float]]) -> str:
    """Every round's req/s of the one-digit runs."""
    return (
        "One-digit rows are the median of interleaved rounds (this VM's throughput drifts "
        "by up to ~25% between identical runs); every round, req/s: "
        + "; ".join(
            f"{name} {', '.join(f'{v:,.0f}' for v in values)}" for name, values in rounds.items()
        )
        + "."
    )


def locust_paragraph(locust: dict[str, float], seconds: float) -> str:
    """Locust's aggregated statistics."""
    return (
        f"Locust, 16 users of `/predict` (FastHttpUser, on CPU {LOAD_CPU}, "
        f"{seconds * 2:.0f} s): {locust['rps']:,.0f} req/s, p50 {locust['p50']:.0f} ms, "
        f"p95 {locust['p95']:.0f} ms, p99 {locust['p99']:.0f} ms, {locust['failures']} "
        f"failures of {locust['requests']:,} (Locust itself is the limit on this machine)."
    )


def cold_start_paragraph(findings: Findings) -> str:
    """The cold starts from the emulator, and for scale from a directory and of no model."""
    cold = findings.cold_start_s
    return (
        f"Cold start (process start → first 200 from `/predict`, model fetched from the GCS "
        f"emulator and verified): {', '.join(f'{t:.3f}' for t in cold)} s, median "
        f"{statistics.median(cold):.3f} s. For scale, on the same machine: the same with the "
        f"model in a local directory, median "
        f"{statistics.median(findings.cold_start_local_s):.3f} s; functions-framework's "
        f"no-model ASGI handler alone, median "
        f"{statistics.median(findings.framework_cold_start_s):.3f} s."
    )


def inference_paragraph(inference: dict[int, float]) -> str:
    """LiteRT's own time per call: the ceiling for any server on this core."""
    return (
        f"LiteRT alone on CPU {SERVER_CPU} (no HTTP): {inference[1] * 1e6:.0f} µs for one "
        f"digit, {inference[256] * 1e3:.2f} ms for 256 — a ceiling of "
        f"{256 / inference[256]:,.0f} images/s for any server on this core."
    )


def targets(findings: Findings) -> list[Target]:
    """Every target the run can judge, in the report's order."""
    by = {(r.server, r.workload): r for r in findings.results}
    ours = by[(OURS, "/predict 1 digit")]
    return [
        *footprint_targets(findings, ours),
        *throughput_targets(by),
        *reference_targets(findings.results, by, ours),
    ]


def footprint_targets(findings: Findings, ours: Result) -> list[Target]:
    """Latency, cold start, memory and dependency size."""
    cold = statistics.median(findings.cold_start_s)
    rss = max(mb for r in findings.results if r.server == ours.server for mb in r.rss_mb)
    venv = findings.serving_venv_mb
    return [
        ("p99 at 16 connections <= 10 ms", ours.p99_ms <= 10, f"{ours.p99_ms:.2f} ms"),
        ("cold start <= 0.6 s", cold <= 0.6, f"{cold:.3f} s"),
        ("RSS <= 120 MB per process (max over all loads)", rss <= 120, f"{rss} MB"),
        ("serving dependencies <= 250 MB", venv <= 250, f"{venv} MB"),
    ]


def throughput_targets(by: dict[tuple[str, str], Result]) -> list[Target]:
    """Images per second of the 256-digit requests."""
    batch = by[(OURS, "/predict batch 256")]
    v2 = by[(OURS, "V2 binary 256")]
    return [
        (
            "batch JSON >= 25,000 images/s",
            batch.images_per_s >= 25000,
            f"{batch.images_per_s:,.0f}",
        ),
        ("V2 binary >= 100,000 images/s", v2.images_per_s >= 100000, f"{v2.images_per_s:,.0f}"),
    ]


def reference_targets(
    results: list[Result], by: dict[tuple[str, str], Result], ours: Result
) -> list[Target]:
    """One-digit throughput against the no-model handlers and without metrics, when measured."""
    found: list[Target] = []
    flask = [r for r in results if r.server.startswith("no-model, Flask")]
    asgi = by.get(("no-model, ASGI mode", "/predict 1 digit"))
    if flask and asgi:
        best_flask = max(r.requests_per_s for r in flask)
        found += [
            (
                "/predict >= 1.0x no-model Flask mode (best)",
                ours.requests_per_s >= best_flask,
                f"{ours.requests_per_s / best_flask:.2f}x",
            ),
            (
                "/predict >= 40% of no-model ASGI",
                ours.requests_per_s >= 0.4 * asgi.requests_per_s,
                f"{ours.requests_per_s / asgi.requests_per_s:.0%}",
            ),
        ]
    metrics_off = by.get(("digitrun, METRICS=false", "/predict 1 digit"))
    if metrics_off:
        found.append(
            (
                "/predict with metrics >= 90% of metrics off",
                ours.requests_per_s >= 0.9 * metrics_off.requests_per_s,
                f"{ours.requests_per_s / metrics_off.requests_per_s:.0%}",
            )
        )
    return found


def targets_table(found: list[Target]) -> list[str]:
    """The targets as a table, each marked met or not."""
    return [
        "| target | measured | met |",
        "|---|---|---|",
        *(f"| {name} | {value} | {'yes' if ok else '**no**'} |" for name, ok, value in found),
    ]
