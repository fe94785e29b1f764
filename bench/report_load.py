"""The report's sections on how cost grows with load (the sweeps, their PNG plots, the knee
and the Cloud Run ``concurrency`` it implies) and on the references measured once."""

from __future__ import annotations

import os
from pathlib import Path

from bench.knee import (
    Point,
    concurrency_prose,
    connection_knee,
    knee_prose,
    plateau_prose,
    promise_ceiling,
)
from bench.plots import BATCH_PNG, CONNECTIONS_PNG, batch_plot, connections_plot
from bench.result import Findings, Result, Sweeps
from bench.servers import LOAD_CPU
from bench.sweeps import BINARY_SERIES, CONNECTION_ROUNDS, JSON_SERIES, ROOF_SERIES
from bench.targets import P99_ONE_DIGIT


def load_section(findings: Findings, out_dir: Path, plots: Path | None) -> list[str]:
    """The two sweeps: plots (drawn into ``plots`` when given), tables and prose."""
    sweeps = findings.sweeps
    if sweeps is None:
        return []
    points = [Point(r.connections, r.requests_per_s, r.p99_ms) for r in sweeps.connections]
    knee = connection_knee(points)
    limit = P99_ONE_DIGIT.threshold
    ceiling = promise_ceiling(points, limit)
    lines = [
        "## How cost grows with load",
        "",
        f"Measured once, after the runs, against one server in the default configuration "
        f"except `MAX_BODY_BYTES={sweeps.max_body_bytes}` (1,024 digits as JSON exceed the "
        f"default 4 MiB): {sweeps.seconds:.0f} s of wrk per point after a 1 s warm-up, "
        f"16 connections for the batch sizes; the connection counts {CONNECTION_ROUNDS} "
        f"times, up and down in turn (req/s the mean of a count's runs, percentiles their "
        f"median); LiteRT alone (a tight loop on the served file, same core, no HTTP) is "
        f"the roof.",
        "",
    ]
    if plots is not None:
        batch_png = batch_plot(sweeps.batch, ROOF_SERIES, plots / BATCH_PNG)
        lines += [f"![Images/s against batch size]({link(batch_png, out_dir)})", ""]
    lines += [*batch_table(sweeps), "", plateau_prose(sweeps.batch, ROOF_SERIES), ""]
    if plots is not None:
        png = connections_plot(points, knee, plots / CONNECTIONS_PNG)
        lines += [f"![req/s and p99 against connections]({link(png, out_dir)})", ""]
    lines += [
        *connections_table(sweeps.connections),
        "",
        f"{knee_prose(knee)} {concurrency_prose(knee, ceiling, limit)}",
        "",
    ]
    lines += [
        f"RSS during the sweeps peaked at {sweeps.peak_rss_mb} MB ({sweeps.peak_rss_at}): "
        f"the request's own buffers, beside the 120 MB per process the targets judge at "
        f"the default limits.",
        "",
    ]
    if sweeps.errors:
        lines += [f"Sweep points with errors: {'; '.join(sweeps.errors)}.", ""]
    return lines


def link(png: Path, out_dir: Path) -> str:
    """``png``'s path relative to the report's folder (as markdown links it)."""
    return Path(os.path.relpath(png.resolve(), out_dir.resolve())).as_posix()


def batch_table(sweeps: Sweeps) -> list[str]:
    """Images/s per batch size: JSON, binary, the roof, and each as a share of the roof."""
    json_, binary, roof = (
        sweeps.batch.get(JSON_SERIES, {}),
        sweeps.batch.get(BINARY_SERIES, {}),
        sweeps.batch.get(ROOF_SERIES, {}),
    )
    rows = [
        "| digits per request | JSON `/predict` images/s | V2 binary images/s | bare LiteRT "
        "images/s | JSON / LiteRT | binary / LiteRT |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sorted(roof or json_ or binary):
        cells = [x.get(size) for x in (json_, binary, roof)]
        shown = ["—" if c is None else f"{c:,.0f}" for c in cells]
        shares = ["—" if c is None or not cells[2] else f"{c / cells[2]:.2f}x" for c in cells[:2]]
        rows.append(f"| {size:,} | {' | '.join(shown)} | {' | '.join(shares)} |")
    return rows


def connections_table(rows: list[Result]) -> list[str]:
    """One digit per request at each connection count."""
    lines = [
        "| connections | req/s | p50 ms | p95 ms | p99 ms | errors |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda x: x.connections):
        lines.append(
            f"| {r.connections} | {r.requests_per_s:,.0f} | {r.p50_ms:.2f} | {r.p95_ms:.2f} "
            f"| {r.p99_ms:.2f} | {r.errors} |"
        )
    return lines


def references_section(findings: Findings) -> list[str]:
    """The references measured once (when not skipped), Locust, the serving venv's size."""
    lines = ["## References (measured once)", ""]
    if findings.references:
        lines += [
            "| server (one core) | workload | req/s | p50 ms | p99 ms | errors | RSS MB |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        for r in findings.references:
            lines.append(
                f"| {r.server} | {r.workload} | {r.requests_per_s:,.0f} | {r.p50_ms:.2f} | "
                f"{r.p99_ms:.2f} | {r.errors} | {', '.join(map(str, r.rss_mb))} |"
            )
        lines.append("")
    else:
        lines += ["Skipped (`--skip-references`).", ""]
    if findings.locust:
        lines += [locust_paragraph(findings.locust, findings.seconds), ""]
    lines.append(
        f"Serving venv (`make serving-venv`, requirements/serving.txt): "
        f"{findings.serving_venv_mb} MB installed."
    )
    return lines


def locust_paragraph(locust: dict[str, float], seconds: float) -> str:
    """Locust's aggregated statistics."""
    return (
        f"Locust, 16 users of `/predict` (FastHttpUser, on CPU {LOAD_CPU}, "
        f"{seconds * 2:.0f} s): {locust['rps']:,.0f} req/s, p50 {locust['p50']:.0f} ms, "
        f"p95 {locust['p95']:.0f} ms, p99 {locust['p99']:.0f} ms, {locust['failures']} "
        f"failures of {locust['requests']:,} (Locust itself is the limit on this machine)."
    )
