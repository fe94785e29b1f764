"""The wrk runs: one Lua script per request body, wrk pinned to CPU 1 with 16 connections,
its summary line parsed into requests/s and latency percentiles."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.result import Result
from bench.servers import LOAD_CPU, tree_rss_mb
from scripts.local_stack import ServerProcess

CONNECTIONS = 16
WARM_UP_S = 2
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


def run_wrk(url: str, script: Path, seconds: float) -> dict[str, float]:
    """wrk on CPU 1: requests/s and latency percentiles (ms)."""
    argv = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:.0f}s"]
    out = subprocess.run(
        [*argv, "--timeout", "5s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    return parse_summary(out)


def measure(name: str, server: ServerProcess, workload: Workload, seconds: float) -> Result:
    """A short warm-up, then the measured wrk run; RSS read at the end of the load."""
    url = f"{server.url}{workload.path}"
    run_wrk(url, workload.script, WARM_UP_S)
    stats = run_wrk(url, workload.script, seconds)
    result = Result(
        name,
        workload.name,
        round(stats["rps"], 1),
        round(stats["rps"] * workload.images, 1),
        stats["p50"],
        stats["p95"],
        stats["p99"],
        int(stats["errors"]),
        tree_rss_mb(server.process.pid),
    )
    print(
        f"  {name:<34} {workload.name:<22} {result.requests_per_s:>9.1f} req/s "
        f"{result.images_per_s:>10.0f} img/s  p50 {result.p50_ms:.2f} p99 {result.p99_ms:.2f}"
        f" ms  errors {result.errors}  rss {result.rss_mb}",
        flush=True,
    )
    return result
