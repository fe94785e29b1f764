"""What one benchmark run measured: a row per wrk run, plus everything else the report cites."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Result:
    """One wrk run against one server."""

    server: str
    workload: str
    requests_per_s: float
    images_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    rss_mb: list[float] = field(default_factory=list)


@dataclass
class Findings:
    """The whole run: the wrk rows in report order and the measurements besides them."""

    version: str
    seconds: float
    results: list[Result] = field(default_factory=list)
    # one-digit req/s of every interleaved round, by server
    rounds: dict[str, list[float]] = field(default_factory=dict)
    # Locust's aggregated statistics (rps, p50, p95, p99, failures, requests)
    locust: dict[str, float] = field(default_factory=dict)
    # seconds from process start to the first 200 from /predict, one per start
    cold_start_s: list[float] = field(default_factory=list)
    cold_start_local_s: list[float] = field(default_factory=list)
    framework_cold_start_s: list[float] = field(default_factory=list)
    # seconds per LiteRT call, by batch size
    inference_s: dict[int, float] = field(default_factory=dict)
    serving_venv_mb: float = 0.0
