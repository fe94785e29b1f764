"""One load test, start to finish: the target (a URL, or the local stack), the service's
histogram read before, Locust headless with its CSV and HTML, the histogram read after, then
the summary (JSON + Markdown) with plots, and LOADTEST.md when asked. The exit code is
Locust's: 0 when every gate held, 1 when one broke (or the run failed), 2 for usage."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest import analysis, capacity_report, distributed, machine, metrics, plots, report, say
from loadtest.digits import data_path
from loadtest.gates import limits_to_env
from loadtest.results import RESULT_ENV
from loadtest.sample import SAMPLE_PATH
from loadtest.shapes import ShapeConfig
from loadtest.stack import Target, target
from scripts.local_stack import child_env


@dataclass
class Options:
    """Everything a run takes (the CLI fills it from flags and environment)."""

    shape: ShapeConfig
    limits: dict[str, float | None]
    budget_ms: float
    out: Path
    host: str | None = None
    metrics_url: str | None = None
    workers: int = 0
    processes: int = 0
    locust_env: dict[str, str] = field(default_factory=dict)  # data, mix, think time, auth
    capacity_report: Path | None = None
    compare: list[Path] = field(default_factory=list)
    state: Path = Path(".run")
    arch: str = "mlp"
    server_workers: int = 1
    data: str | None = None
    quiet: bool = False
    command: str = "python -m loadtest"


def mode(options: Options) -> str:
    if options.workers:
        return f"master + {options.workers} workers"
    if options.processes:
        return f"--processes {options.processes}"
    return "1 process"


def environment(options: Options) -> dict[str, str]:
    """What every Locust process reads: the shape, the gates, data/mix/auth, the result."""
    shape = options.shape
    return child_env(
        LOADTEST_SHAPE=shape.name,
        LOADTEST_USERS=str(shape.users),
        LOADTEST_DURATION=repr(shape.duration),
        LOADTEST_STEP_USERS=str(shape.step_users),
        LOADTEST_STEP_SECONDS=repr(shape.step_seconds),
        LOADTEST_STEPS=str(shape.steps),
        LOADTEST_SPIKE_FACTOR=str(shape.spike_factor),
        **{RESULT_ENV: str(options.out / "result.json")},
        **limits_to_env(options.limits),
        **options.locust_env,
    )


def auth_headers(url: str, env: dict[str, str]) -> dict[str, str]:
    """The ID-token header for ``url`` (raises ``client.errors.UsageError`` when required
    and unavailable)."""
    from loadtest.auth import TokenSource  # noqa: PLC0415 (google-auth)

    return TokenSource(url, env).headers()


def kinds(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each request kind's Locust figures and accuracy under load."""
    rows = []
    for name, entry in sorted(result["kinds"].items()):
        correct, checked = result["accuracy"].get(name, (0, 0))
        accuracy = correct / checked if checked else None
        figures = {key: value for key, value in entry.items() if key != "times"}
        rows.append({"name": name, **figures, "correct": correct, "checked": checked,
                     "accuracy": accuracy})  # fmt: skip
    return rows


def summarize(
    options: Options, where: Target, result: dict[str, Any], code: int, extra: dict[str, Any]
) -> dict[str, Any]:
    total = {key: value for key, value in result["total"].items() if key != "times"}
    source = data_path(options.locust_env)
    return {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": options.command,
        "host": where.url,
        "model": where.model,
        "metrics_url": where.metrics_url,
        "server_workers": options.server_workers if where.model else None,
        "shape": {"name": options.shape.name, "description": options.shape.describe()},
        "mode": mode(options),
        "workers": result["workers"],
        "digits": "the sample in loadtest/data (MNIST, CC BY-SA 3.0)"
        if source == SAMPLE_PATH
        else str(source),
        "verdict": result["verdict"] if code in (0, 1) else "FAIL",
        "exit_code": code,
        "limits": options.limits,
        "gates": result["gates"],
        "requests": total["requests"],
        "failures": total["failures"],
        "rps": total["rps"],
        "seconds": total["requests"] / total["rps"] if total["rps"] else None,
        "totals": total,
        "kinds": kinds(result),
        "steps": result["steps"],
        "capacity": analysis.capacity(
            result["steps"], options.budget_ms, options.limits.get("max_failure_ratio")
        ),
        "errors": result["errors"],
        **extra,
    }


def measure(options: Options, env: dict[str, str]) -> tuple[Target, int, dict[str, Any]]:
    """Run Locust against the target with the histogram and the CPU read around it."""
    with target(
        options.host, options.metrics_url, options.state, options.arch, options.data,
        options.server_workers, options.out,
    ) as where:  # fmt: skip
        headers = auth_headers(where.url, env)
        before = metrics.scrape(where.metrics_url, headers)
        start = machine.Snapshot.take()
        sampler = machine.CpuSampler()
        run = distributed.LocustRun(
            where.url, options.out, options.shape.seconds, options.workers, options.processes,
            options.quiet,
        )  # fmt: skip
        with sampler:
            code = distributed.run_locust(run, env)
        end = machine.Snapshot.take()
        after = metrics.scrape(where.metrics_url, headers)
    seen = {
        "server": metrics.difference(before, after),
        "server_cpu_seconds": metrics.cpu_used(before, after),
        "machine": machine.shared(start, end),
        "cpu_timeline": sampler.samples,
    }
    return where, code, seen


def run(options: Options) -> int:
    options.out.mkdir(parents=True, exist_ok=True)
    env = environment(options)
    where, code, seen = measure(options, env)
    result_path = options.out / "result.json"
    if not result_path.is_file():
        say(f"== Locust ended (exit {code}) without a result: see {options.out}/locust.log")
        return code or 1
    result = json.loads(result_path.read_text())
    for step in result["steps"]:
        timeline = seen["cpu_timeline"]
        step["others_cpu"] = machine.others_during(timeline, step["start"], step["seconds"])
    extra = {key: seen[key] for key in ("machine", "server_cpu_seconds", "cpu_timeline")}
    summary = summarize(options, where, result, code, extra)
    summary["crosscheck"] = analysis.crosscheck(result["kinds"], seen["server"])
    publish(options, summary)
    return code


def publish(options: Options, summary: dict[str, Any]) -> None:
    """Plots, summary.json/.md in the run folder, LOADTEST.md when asked; the verdict."""
    history = analysis.read_history(options.out / "locust")
    summary["plots"] = plots.draw_all(summary, history, options.out)
    (options.out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    markdown = report.write_summary(summary, options.out)
    say(f"== {summary['verdict']}: {report.capacity_sentence(summary)}")
    for verdict in summary["gates"]:
        say(f"   {'pass' if verdict['passed'] else 'FAIL'}  {verdict['text']}")
    say(f"== summary: {markdown} (Locust's report: {options.out / 'locust.html'})")
    if options.capacity_report:
        written = capacity_report.write(
            options.capacity_report, summary, options.out, options.compare
        )
        say(f"== capacity report: {written}")


def rerender(options: Options) -> int:
    """The reports of the finished run in ``options.out`` written again (no load)."""
    summary = json.loads((options.out / "summary.json").read_text())
    publish(options, summary)
    return 0
