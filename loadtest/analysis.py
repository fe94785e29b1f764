"""Reading a finished run: Locust's CSV files, the capacity found by the load steps, and
the cross-check of Locust's latencies with the service's own histogram."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loadtest import metrics, traffic
from loadtest.steps import percentile

QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
MIN_STEP_SECONDS = 5.0  # shorter steps (spawning, the tail) are not judged


def number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "N/A") else None
    except ValueError:
        return None


def read_history(prefix: Path) -> list[dict[str, float | None]]:
    """``<prefix>_stats_history.csv``, the all-requests rows: one a second, percentiles over
    Locust's last 10 s window."""
    path = Path(f"{prefix}_stats_history.csv")
    if not path.is_file():
        return []
    with path.open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"]
    return [
        {
            "t": float(row["Timestamp"]),
            "users": number(row["User Count"]),
            "rps": number(row["Requests/s"]),
            "fps": number(row["Failures/s"]),
            "requests": number(row["Total Request Count"]),
            "failures": number(row["Total Failure Count"]),
            **{key: number(row[f"{round(q * 100)}%"]) for key, q in QUANTILES.items()},
        }
        for row in rows
    ]


def judged_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in steps if s["seconds"] >= MIN_STEP_SECONDS and s["requests"] > 0]


def capacity(
    steps: list[dict[str, Any]], budget_ms: float, max_failure_ratio: float | None
) -> dict[str, Any]:
    """The most users at which p95 stayed within ``budget_ms`` (and failures within their
    gate), the req/s there, and whether the run went past that point."""
    judged = judged_steps(steps)
    limit = max_failure_ratio if max_failure_ratio is not None else 1.0
    good = [
        s
        for s in judged
        if s["p95"] is not None and s["p95"] <= budget_ms and s["failures"] / s["requests"] <= limit
    ]
    best = max(good, key=lambda s: s["users"], default=None)
    peak = max(judged, key=lambda s: s["rps"], default=None)
    return {
        "budget_ms": budget_ms,
        "users": best["users"] if best else None,
        "rps": best["rps"] if best else None,
        "p95": best["p95"] if best else None,
        "reached_limit": bool(judged) and (best is None or best["users"] < judged[-1]["users"]),
        "peak_rps": peak["rps"] if peak else None,
        "peak_users": peak["users"] if peak else None,
        "steps": len(judged),
    }


def merged(entries: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Several Locust entries as one: summed response-time counts, weighted mean."""
    times: dict[int, int] = {}
    for entry in entries:
        for ms, n in entry["times"].items():
            times[int(ms)] = times.get(int(ms), 0) + n
    requests = sum(entry["requests"] for entry in entries)
    mean = sum(e["mean"] * e["requests"] for e in entries) / requests if requests else None
    return {"times": times, "requests": requests, "mean": mean}


def locust_view(entries: list[Mapping[str, Any]]) -> dict[str, float | None]:
    """Requests, mean and quantiles (ms) of Locust's entries taken together."""
    both = merged(entries)
    view: dict[str, float | None] = {"requests": both["requests"], "mean": both["mean"]}
    for key, q in QUANTILES.items():
        view[key] = percentile(both["times"], q)
    return view


def server_view(hist: metrics.Histogram | None) -> dict[str, float | None]:
    """The same figures (ms) from the service's histogram."""
    if hist is None or hist.count <= 0:
        return {"requests": 0, "mean": None, **dict.fromkeys(QUANTILES)}
    view: dict[str, float | None] = {"requests": round(hist.count), "mean": hist.mean * 1000}
    for key, q in QUANTILES.items():
        view[key] = hist.quantile(q) * 1000
    return view


def crosscheck(
    kinds: Mapping[str, Mapping[str, Any]], server: Mapping[str, metrics.Histogram] | None
) -> list[dict[str, Any]]:
    """Per service route (and all together): Locust's view beside the service's."""
    by_route: dict[str, list[Mapping[str, Any]]] = {}
    for name, entry in kinds.items():
        if name in traffic.BY_NAME:
            by_route.setdefault(traffic.BY_NAME[name].route, []).append(entry)
    server = server or {}
    rows = [
        {
            "route": route,
            "locust": locust_view(entries),
            "server": server_view(server.get(route)),
        }
        for route, entries in sorted(by_route.items())
    ]
    everything = [entry for entries in by_route.values() for entry in entries]
    hists = [server[route] for route in by_route if route in server]
    rows.append(
        {
            "route": "all",
            "locust": locust_view(everything),
            "server": server_view(metrics.combined(hists)),
        }
    )
    return rows
