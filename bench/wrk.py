"""The wrk runs: one Lua script per request body, wrk pinned to CPU 1 (16 connections unless
a sweep asks otherwise), its summary line parsed into requests/s and latency percentiles."""

from __future__ import annotations

import re
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.result import Result
from bench.servers import LOAD_CPU, tree_rss_mb
from scripts.local_stack import ServerProcess

CONNECTIONS = 16
WARM_UP_S = 2
SLICES = 3  # interleaved slices of the one-digit runs
LUA_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d errors=%d duration_us=%d p50=%d p95=%d p99=%d\\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""
SUMMARY = re.compile(
    r"BENCH requests=(\d+) errors=(\d+) duration_us=(\d+) p50=(\d+) p95=(\d+) p99=(\d+)"
)


@dataclass(frozen=True)
class Workload:
    """One kind of request: its name in the report, the path it posts to, the wrk script
    sending it and the images each request carries."""

    name: str
    path: str
    script: Path
    images: int


def lua_script(path: Path, method: str, body: Path | None, headers: dict[str, str]) -> Path:
    """A wrk script posting ``body`` (read as bytes) and printing the percentiles."""
    lines = [f'wrk.method = "{method}"']
    for key, value in headers.items():
        lines.append(f'wrk.headers["{key}"] = "{value}"')
    if body is not None:
        lines.append(f'local f = io.open("{body}", "rb"); wrk.body = f:read("*a"); f:close()')
    path.write_text("\n".join(lines) + LUA_REPORT)
    return path


def parse_summary(out: str) -> dict[str, float]:
    """requests/s, errors and p50/p95/p99 (ms) from the script's ``BENCH`` line."""
    match = SUMMARY.search(out)
    if not match:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    requests, errors, duration, p50, p95, p99 = map(int, match.groups())
    return {
        "rps": requests / (duration / 1e6),
        "errors": errors,
        "p50": p50 / 1000,
        "p95": p95 / 1000,
        "p99": p99 / 1000,
    }


def run_wrk(
    url: str, script: Path, seconds: float, connections: int = CONNECTIONS
) -> dict[str, float]:
    """wrk on CPU 1: requests/s and latency percentiles (ms)."""
    argv = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s"]
    out = subprocess.run(
        [*argv, "--timeout", "5s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    return parse_summary(out)


def measure(
    name: str,
    server: ServerProcess,
    workload: Workload,
    seconds: float,
    connections: int = CONNECTIONS,
    warm_up: float = WARM_UP_S,
) -> Result:
    """A short warm-up, then the measured wrk run; RSS read at the end of the load."""
    url = f"{server.url}{workload.path}"
    run_wrk(url, workload.script, warm_up, connections)
    stats = run_wrk(url, workload.script, seconds, connections)
    return result_of(name, server, workload, [stats], connections)


def measure_interleaved(
    servers: list[tuple[str, ServerProcess]],
    workload: Workload,
    seconds: float,
    slices: int = SLICES,
) -> list[Result]:
    """Every server warmed up, then ``slices`` rounds of a short run against each in turn,
    ``seconds`` in all per server: a drift of the machine's speed meanwhile hits them alike
    (the ratios between them are what the targets judge)."""
    for _, server in servers:
        run_wrk(f"{server.url}{workload.path}", workload.script, WARM_UP_S)
    piece = max(1, round(seconds / slices))
    stats: dict[str, list[dict[str, float]]] = {name: [] for name, _ in servers}
    for _ in range(slices):
        for name, server in servers:
            stats[name].append(run_wrk(f"{server.url}{workload.path}", workload.script, piece))
    return [result_of(name, server, workload, stats[name]) for name, server in servers]


def result_of(
    name: str,
    server: ServerProcess,
    workload: Workload,
    slices: list[dict[str, float]],
    connections: int = CONNECTIONS,
) -> Result:
    """One row from one or more equally long wrk runs: req/s their mean, each percentile
    their median, errors their sum; the server's RSS now."""
    rps = statistics.mean(s["rps"] for s in slices)
    result = Result(
        name,
        workload.name,
        round(rps, 1),
        round(rps * workload.images, 1),
        *(statistics.median(s[key] for s in slices) for key in ("p50", "p95", "p99")),
        int(sum(s["errors"] for s in slices)),
        tree_rss_mb(server.process.pid),
        connections,
    )
    print(
        f"  {name:<30} {workload.name:<20} c{connections:<4} {result.requests_per_s:>9.1f} req/s "
        f"{result.images_per_s:>10.0f} img/s  p50 {result.p50_ms:.2f} p99 {result.p99_ms:.2f}"
        f" ms  errors {result.errors}  rss {result.rss_mb}",
        flush=True,
    )
    return result
