"""The run's summary as Markdown (beside its JSON twin and plots), and the capacity report
(LOADTEST.md): the same tables plus the comparison with other runs and the notes on running
Locust on several machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loadtest.explain import BUSY_OTHERS, crosscheck_text, machine_note


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def gates_section(summary: dict[str, Any]) -> str:
    rows = [
        [g["gate"], "off" if g["limit"] is None else f"{g['limit']:g}", g["text"],
         "pass" if g["passed"] else "**FAIL**"]
        for g in summary["gates"]
    ]  # fmt: skip
    return "## Gates\n\n" + table(["gate", "limit", "measured", "verdict"], rows)


def kinds_section(summary: dict[str, Any]) -> str:
    rows = [
        [k["name"], k["requests"], k["failures"], k["rps"], k["p50"], k["p95"], k["p99"],
         f"{k['correct']}/{k['checked']}", fmt(k["accuracy"], 4)]
        for k in summary["kinds"]
    ]  # fmt: skip
    header = ["request kind", "requests", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms",
              "right digits", "accuracy"]  # fmt: skip
    return "## Request kinds: latency and accuracy under load\n\n" + table(header, rows)


def capacity_sentence(summary: dict[str, Any]) -> str:
    cap = summary["capacity"]
    budget = f"{cap['budget_ms']:g} ms"
    if not cap["steps"]:
        return f"No load step lasted long enough to judge against the p95 budget of {budget}."
    peak = f"peak {fmt(cap['peak_rps'])} req/s at {cap['peak_users']} users"
    if cap["users"] is None:
        return f"p95 was over the budget of {budget} from the first step ({peak})."
    head = (
        f"**{cap['users']} users** is the most at which p95 stayed within {budget} "
        f"(p95 {fmt(cap['p95'], 0)} ms), at **{fmt(cap['rps'])} req/s** ({peak})"
    )
    if not cap["reached_limit"]:
        return head + "; the run never went over the budget: capacity is at least that."
    return head + "."


def capacity_section(summary: dict[str, Any]) -> str:
    rows = [
        [s["users"], s["seconds"], s["requests"], s["failures"], s["rps"], s["p50"], s["p95"],
         s["p99"], share(s.get("others_cpu"))]
        for s in summary["steps"]
    ]  # fmt: skip
    header = ["users", "seconds", "requests", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms",
              "CPU used by others"]  # fmt: skip
    steps = table(header, rows) if rows else "(no steps)"
    intro = "Each load step's own requests:"
    shares = [s["others_cpu"] for s in summary["steps"] if s.get("others_cpu") is not None]
    if shares and max(shares) > BUSY_OTHERS:
        intro = (
            f"Other processes used {min(shares):.0%}-{max(shares):.0%} of the CPUs during the "
            "steps (last column), and a step with more of the machine to itself answers "
            "faster: read the figure as this machine's under that sharing, not the service's "
            "ceiling. " + intro
        )
    return f"## Capacity\n\n{capacity_sentence(summary)}\n\n{intro}\n\n{steps}"


def crosscheck_section(summary: dict[str, Any]) -> str:
    rows = summary["crosscheck"]
    if not rows or not rows[-1]["server"]["requests"]:
        return (
            "## Locust against the service's own histogram\n\n"
            f"`{summary['metrics_url']}` could not be read before and after the run: no "
            "cross-check (with `METRICS_PORT` set, pass `--metrics-url`)."
        )
    body = [
        [r["route"], r["locust"]["requests"], r["server"]["requests"],
         r["locust"]["mean"], r["server"]["mean"], r["locust"]["p50"], r["server"]["p50"],
         r["locust"]["p95"], r["server"]["p95"], r["locust"]["p99"], r["server"]["p99"]]
        for r in rows
    ]  # fmt: skip
    header = ["route", "Locust requests", "server requests", "Locust mean ms", "handler mean ms",
              "Locust p50", "handler p50", "Locust p95", "handler p95", "Locust p99",
              "handler p99"]  # fmt: skip
    return (
        "## Locust against the service's own histogram\n\n"
        "`digitrun_request_duration_seconds` read from `/metrics` before and after the run; "
        "the difference is this run's requests, timed inside the service (the handler).\n\n"
        + table(header, body)
        + "\n\n"
        + crosscheck_text(summary)
    )


def plots_section(plots: dict[str, str], prefix: str = "") -> str:
    titles = {
        "timeline": "req/s, p50/p95/p99 and users over time",
        "latency_vs_users": "latency and req/s against users",
        "errors": "errors over time",
        "crosscheck": "Locust against the service's histogram",
    }
    parts = [f"![{titles[key]}]({prefix}{name})" for key, name in plots.items()]
    return "## Plots\n\n" + "\n\n".join(parts) if parts else ""


def header_section(summary: dict[str, Any]) -> str:
    shape = summary["shape"]
    verdict = summary["verdict"]
    lines = [f"**Verdict: {verdict}** (exit code {summary['exit_code']})."]
    if shape["name"] == "ramp" and verdict == "FAIL":
        lines[0] += (
            " A ramp goes past capacity on purpose, so its whole-run latency gates are "
            "expected to break; the capacity below is what it measures."
        )
    lines += [
        "",
        f"- When: {summary['when']}; command: `{summary['command']}`",
        f"- Target: {summary['host']}"
        + (f" (local stack, model `{summary['model']}`)" if summary.get("model") else ""),
        f"- Load: shape `{shape['name']}` ({shape['description']}); Locust: {summary['mode']}"
        f" ({fmt(summary['requests'])} requests in {fmt(summary['seconds'])} s, "
        f"{fmt(summary['rps'])} req/s)",
        f"- Digits: {summary['digits']}",
        f"- Machine: {machine_note(summary['machine'])}",
    ]
    return "\n".join(lines)


def summary_markdown(summary: dict[str, Any], plots_prefix: str = "") -> str:
    title = f"# Load test: `{summary['shape']['name']}` against {summary['host']}"
    sections = [
        title,
        header_section(summary),
        gates_section(summary),
        kinds_section(summary),
        capacity_section(summary),
        crosscheck_section(summary),
        plots_section(summary["plots"], plots_prefix),
    ]
    return "\n\n".join(filter(None, sections)) + "\n"


def write_summary(summary: dict[str, Any], folder: Path) -> Path:
    path = folder / "summary.md"
    path.write_text(summary_markdown(summary))
    return path


def comparison_section(runs: list[dict[str, Any]]) -> str:
    rows = [
        [r["mode"], r["shape"]["name"], r["capacity"]["users"], r["capacity"]["rps"],
         r["capacity"]["peak_rps"], r["capacity"]["peak_users"],
         f"{r['machine']['run_cpu_share']:.0%}", f"{r['machine']['others_cpu_share']:.0%}"]
        for r in runs
    ]  # fmt: skip
    header = ["Locust", "shape", "capacity users", "req/s there", "peak req/s", "at users",
              "CPU used by the run", "CPU used by others"]  # fmt: skip
    return table(header, rows)
