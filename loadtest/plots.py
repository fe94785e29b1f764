"""The report's PNG plots (matplotlib, no display): the run over time; latency and req/s
against users (one point per load step); errors over time; Locust against the service's
own histogram."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.plotting import pyplot

COLORS = {"p50": "tab:green", "p95": "tab:orange", "p99": "tab:red"}
FILES = {
    "timeline": "timeline.png",
    "latency_vs_users": "latency_vs_users.png",
    "errors": "errors.png",
    "crosscheck": "crosscheck.png",
}


def _seconds(history: list[dict[str, Any]]) -> list[float]:
    start = history[0]["t"] if history else 0.0
    return [row["t"] - start for row in history]


def _series(history: list[dict[str, Any]], key: str) -> list[float]:
    """A column; latencies are blank (NaN) while Locust has none to report."""
    latency = key in COLORS
    return [
        float("nan")
        if row[key] is None or (latency and not (row["requests"] and row[key]))
        else row[key]
        for row in history
    ]


def timeline(
    history: list[dict[str, Any]], budget_ms: float, path: Path, cpu: list | None = None
) -> None:
    """req/s, p50/p95/p99 (Locust's 10 s window) and users (and other processes' share of
    the CPUs), against time."""
    x = _seconds(history)
    fig, (rate, latency, users) = pyplot().subplots(3, 1, sharex=True, figsize=(10, 8))
    rate.plot(x, _series(history, "rps"), label="req/s", color="tab:blue")
    rate.plot(x, _series(history, "fps"), label="failures/s", color="tab:red")
    rate.set_ylabel("requests / s")
    rate.legend(loc="upper left")
    for key, color in COLORS.items():
        latency.plot(x, _series(history, key), label=key, color=color)
    latency.axhline(budget_ms, color="grey", linestyle="--", label=f"p95 budget {budget_ms:g} ms")
    latency.set_ylabel("response time, ms")
    latency.set_yscale("log")
    latency.legend(loc="upper left")
    users.plot(x, _series(history, "users"), color="tab:purple", drawstyle="steps-post")
    users.set_ylabel("users")
    if cpu and history:
        others = users.twinx()
        start = history[0]["t"]
        others.plot([t - start for t, _ in cpu], [100 * s for _, s in cpu], color="grey",
                    linewidth=0.8, label="CPU used by other processes, %")  # fmt: skip
        others.set_ylabel("others' CPU, %")
        others.set_ylim(0, 100)
        others.legend(loc="upper left")
    users.set_xlabel("seconds since the start")
    fig.suptitle("The run over time (Locust's view)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    pyplot().close(fig)


def latency_vs_users(
    steps: list[dict[str, Any]], capacity: dict[str, Any], budget_ms: float, path: Path
) -> None:
    """Each load step's own p50/p95/p99 and req/s against its users."""
    users = [s["users"] for s in steps]
    fig, latency = pyplot().subplots(figsize=(10, 5))
    for key, color in COLORS.items():
        values = [s[key] if s[key] is not None else float("nan") for s in steps]
        latency.plot(users, values, marker="o", label=key, color=color)
    latency.axhline(budget_ms, color="grey", linestyle="--", label=f"p95 budget {budget_ms:g} ms")
    if capacity.get("users"):
        latency.axvline(capacity["users"], color="tab:blue", linestyle=":", label="capacity")
    latency.set_xlabel("users")
    latency.set_ylabel("response time, ms")
    latency.set_yscale("log")
    rate = latency.twinx()
    rate.plot(users, [s["rps"] for s in steps], marker="s", color="tab:blue", label="req/s")
    rate.set_ylabel("requests / s")
    rate.set_ylim(bottom=0)
    handles = latency.get_legend_handles_labels()
    extra = rate.get_legend_handles_labels()
    latency.legend(handles[0] + extra[0], handles[1] + extra[1], loc="upper left")
    fig.suptitle("Latency and throughput against users (one point per load step)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    pyplot().close(fig)


def errors(history: list[dict[str, Any]], path: Path) -> None:
    """Failures per second and the cumulative failure ratio against time."""
    x = _seconds(history)
    fig, per_second = pyplot().subplots(figsize=(10, 4))
    per_second.plot(x, _series(history, "fps"), color="tab:red", label="failures/s")
    per_second.set_ylabel("failures / s")
    per_second.set_xlabel("seconds since the start")
    ratio = per_second.twinx()
    shares = [
        (row["failures"] or 0) / row["requests"] if row["requests"] else 0.0 for row in history
    ]
    ratio.plot(x, shares, color="black", linestyle="--", label="failed / all so far")
    ratio.set_ylabel("failure ratio")
    ratio.set_ylim(bottom=0)
    total = history[-1]["failures"] if history else 0
    per_second.set_title(f"Errors over time ({total or 0:.0f} failed requests)")
    lines = per_second.get_legend_handles_labels()
    more = ratio.get_legend_handles_labels()
    per_second.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    pyplot().close(fig)


def crosscheck(rows: list[dict[str, Any]], path: Path) -> None:
    """p50 and p95 per route: Locust (client) beside the service's handler histogram."""
    fig, axis = pyplot().subplots(figsize=(10, 4.5))
    series = [
        ("locust", "p50", "Locust p50", "tab:blue"),
        ("server", "p50", "handler p50", "tab:cyan"),
        ("locust", "p95", "Locust p95", "tab:orange"),
        ("server", "p95", "handler p95", "gold"),
    ]
    width = 0.2
    for offset, (side, key, label, color) in enumerate(series):
        values = [row[side][key] or 0.0 for row in rows]
        positions = [i + (offset - 1.5) * width for i in range(len(rows))]
        axis.bar(positions, values, width, label=label, color=color)
    axis.set_xticks(range(len(rows)), [row["route"] for row in rows])
    axis.set_yscale("log")
    axis.set_ylabel("ms (log scale)")
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axis.set_title("Locust's response time against the service's own handler time")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    pyplot().close(fig)


def draw_all(summary: dict[str, Any], history: list[dict[str, Any]], folder: Path) -> dict:
    """Every plot that has data, into ``folder``; their file names by plot."""
    folder.mkdir(parents=True, exist_ok=True)
    budget = summary["capacity"]["budget_ms"]
    drawn = {}
    if history:
        timeline(history, budget, folder / FILES["timeline"], summary.get("cpu_timeline"))
        errors(history, folder / FILES["errors"])
        drawn.update(timeline=FILES["timeline"], errors=FILES["errors"])
    if summary["steps"]:
        latency_vs_users(
            summary["steps"], summary["capacity"], budget, folder / FILES["latency_vs_users"]
        )
        drawn["latency_vs_users"] = FILES["latency_vs_users"]
    if summary["crosscheck"] and summary["crosscheck"][-1]["server"]["requests"]:
        crosscheck(summary["crosscheck"], folder / FILES["crosscheck"])
        drawn["crosscheck"] = FILES["crosscheck"]
    return drawn
