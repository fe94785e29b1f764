"""What a benchmark measured: a row per wrk run, one :class:`Run` per repetition of the
measurements the targets judge, the load sweeps, and everything else the report cites."""

from __future__ import annotations

from dataclasses import dataclass, field

# The servers and workloads the targets and the side-by-side table look up.
OURS = "digitrun (ASGI, LiteRT)"
METRICS_OFF = "digitrun, METRICS=false"
INT8 = "digitrun, int8"
NOOP = "no-model, ASGI mode"
ONE_DIGIT = "/predict 1 digit"
BATCH_JSON = "/predict batch 256"
V2_BINARY = "V2 binary 256"
# The models side by side, and the cold starts, by label.
FLOAT, QUANTIZED = "float", "int8"
SERVERS = {FLOAT: OURS, QUANTIZED: INT8}  # each model's server under test
COLD_GS, COLD_DIR, COLD_NOOP = "gs:// emulator", "mounted directory", "no-model handler"


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
    connections: int = 16


@dataclass
class Run:
    """One repetition of the measurements the targets judge, on the same cores."""

    results: list[Result] = field(default_factory=list)
    # images/s of LiteRT alone (no HTTP) on the server's core: model label → batch → images/s
    litert: dict[str, dict[int, float]] = field(default_factory=dict)
    # seconds from process start to the first 200 from /predict: label → one per start
    cold_start_s: dict[str, list[float]] = field(default_factory=dict)
    # µs per body, without HTTP: workload → {"receive": kernel receive, "parse": simdjson}
    floors_us: dict[str, dict[str, float]] = field(default_factory=dict)

    def find(self, server: str, workload: str) -> Result | None:
        """The row of ``server`` under ``workload``, when it was measured."""
        return next(
            (r for r in self.results if r.server == server and r.workload == workload), None
        )


@dataclass
class Sweeps:
    """How cost grows with load: images/s by batch size, and one digit by connections."""

    # series ("JSON /predict", "V2 binary", "bare LiteRT") → batch size → images/s
    batch: dict[str, dict[int, float]] = field(default_factory=dict)
    # one digit per request, one row per connection count
    connections: list[Result] = field(default_factory=list)
    seconds: float = 0.0
    max_body_bytes: int = 0
    # points that saw errors (workload, connections: count)
    errors: list[str] = field(default_factory=list)
    # the largest RSS of any process of the server, and the point that saw it
    peak_rss_mb: float = 0.0
    peak_rss_at: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """One model of the side-by-side table: its version, served file and accuracy."""

    version: str
    file: str
    size_kb: float
    test_accuracy: float


@dataclass
class Findings:
    """The whole benchmark: the runs, the sweeps, the references measured once."""

    seconds: float
    models: dict[str, ModelInfo] = field(default_factory=dict)
    # why a model is missing from the side-by-side table (e.g. int8 refused by its gates)
    model_notes: dict[str, str] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    sweeps: Sweeps | None = None
    # reference servers measured once (original design, mlflow serve, Flask mode, ...)
    references: list[Result] = field(default_factory=list)
    # Locust's aggregated statistics (rps, p50, p95, p99, failures, requests)
    locust: dict[str, float] = field(default_factory=dict)
    serving_venv_mb: float = 0.0
