"""The soak test (issue 20; ``make soak``, not in CI): the local stack held at ~70% of its
measured capacity with the real traffic mix for N minutes (default 10), the worker's
resident memory and the latency followed minute by minute.

    MNIST_PATH=../shared/data/mnist.npz .venv/bin/python -m scripts.soak [--minutes 10]

1. The local stack of ``python -m loadtest`` (GCS emulator, the newest published model or a
   new one, the function with one worker).
2. Capacity: ``python -m loadtest`` with ``--users`` users and no think time for
   ``--capacity-seconds``: the req/s of the saturated service (Locust on the same cores).
3. The soak: ``python -m loadtest --shape soak`` with each user waiting ``--think-time``
   between requests (less when more than 256 users, i.e. connections, would be needed), as
   many users as make ``--load`` x capacity; the worker's RSS sampled every few seconds.
4. Per minute: req/s and failures (exact, from Locust's counters), p99 (the median of the
   six 10-s windows of Locust's history in that minute: one busy second on a shared machine
   does not make a minute), the RSS at the minute's end.

It passes when no request failed, the RSS at the end is within 10% of the RSS at the end
of the warm-up (the first minute, the users' ramp included), and the last minute's p99 is
within 1.5x of the first minute after the warm-up. Writes ``soak.json``, ``soak.png`` and
``soak.md`` (the section for BENCHMARKS.md) into ``--docs``; Locust's files in ``--out``.
Exit code 0 when it passes, 1 when not.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench.servers import tree_rss_mb
from loadtest import say
from loadtest.analysis import read_history
from loadtest.stack import local_stack
from scripts.local_stack import ROOT, child_env
from scripts.plotting import pyplot

RSS_GROWTH = 0.10
P99_RATIO = 1.5
LATENCY_GUESS_S = 0.004  # a request's time at 70% load, added to the think time
MAX_USERS = 256  # connections: well under the server's MAX_CONNECTIONS (512 per worker)


def worker_rss_mb(pid: int) -> float:
    """The RSS of the server's workers (their sum): the children of its master ``pid``."""
    sizes = tree_rss_mb(pid)
    if not sizes:
        raise RuntimeError(f"the server (pid {pid}) is gone")
    return sum(sizes[1:])


class RssSampler:
    """(epoch seconds, worker RSS MB) every ``every`` seconds, in a thread."""

    def __init__(self, pid: int, every: float = 5.0) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(psutil.Error, RuntimeError):
                self.samples.append((time.time(), worker_rss_mb(self.pid)))

    def __enter__(self) -> RssSampler:
        self.samples.append((time.time(), worker_rss_mb(self.pid)))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def loadtest(url: str, out: Path, flags: list[str], seconds: float) -> dict[str, Any]:
    """``python -m loadtest --host url ...``; its summary.json."""
    command = [sys.executable, "-m", "loadtest", "--host", url, "--out", str(out), "--quiet"]
    command += ["--max-p99-ms", "off", *flags]
    say(f"== {' '.join(command[1:])}")
    out.mkdir(parents=True, exist_ok=True)
    with (out / "runner.log").open("w") as log:
        subprocess.run(
            command, cwd=ROOT, env=child_env(), stdout=log, stderr=subprocess.STDOUT,
            timeout=seconds + 300, check=False,
        )  # fmt: skip
    summary = out / "summary.json"
    if not summary.is_file():
        raise RuntimeError(f"the load test wrote no summary: see {out / 'runner.log'}")
    return json.loads(summary.read_text())


def minutes(history: list[dict[str, Any]], rss: list[tuple[float, float]]) -> list[dict]:
    """Per whole minute of the run: req/s, failures, p99 (ms) and the RSS at its end (MB)."""
    rows = [row for row in history if row["requests"] is not None]
    start = rows[0]["t"]
    result = []
    for minute in range(int((rows[-1]["t"] - start) // 60)):
        low, high = start + 60 * minute, start + 60 * (minute + 1)
        inside = [row for row in rows if low <= row["t"] < high]
        first, last = inside[0], inside[-1]
        windows = [row["p99"] for row in inside[9::10] if row["p99"] is not None]
        sampled = [mb for at, mb in rss if at < high]
        result.append({
            "minute": minute + 1,
            "rps": round((last["requests"] - first["requests"]) / (last["t"] - first["t"]), 1),
            "failures": int(last["failures"] - (first["failures"] or 0)),
            "p99_ms": statistics.median(windows) if windows else None,
            "rss_mb": round(sampled[-1], 1) if sampled else None,
        })  # fmt: skip
    return result


def verdict(rows: list[dict], failures: int, warmup: int) -> dict[str, Any]:
    """The three conditions, with their figures."""
    warm, first, last = rows[warmup - 1], rows[warmup], rows[-1]
    growth = last["rss_mb"] / warm["rss_mb"] - 1
    ratio = last["p99_ms"] / first["p99_ms"] if first["p99_ms"] else math.inf
    checks = {
        "zero_errors": {"failures": failures, "passed": failures == 0},
        "rss_growth": {
            "after_warmup_mb": warm["rss_mb"], "end_mb": last["rss_mb"],
            "growth": round(growth, 4), "limit": RSS_GROWTH, "passed": growth < RSS_GROWTH,
        },
        "p99_stable": {
            "first_after_warmup_ms": first["p99_ms"], "last_ms": last["p99_ms"],
            "ratio": round(ratio, 3), "limit": P99_RATIO, "passed": ratio <= P99_RATIO,
        },
    }  # fmt: skip
    return {"passed": all(check["passed"] for check in checks.values()), "checks": checks}


def plot(result: dict[str, Any], path: Path) -> None:
    """Per minute: req/s (and the capacity), p99; the worker's RSS as sampled."""
    plt = pyplot()
    rows = result["per_minute"]
    x = [row["minute"] for row in rows]
    figure, (rate, p99, rss) = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    rate.plot(x, [row["rps"] for row in rows], marker="o", color="tab:blue", label="req/s")
    rate.axhline(result["capacity_rps"], color="grey", linestyle="--", label="capacity")
    rate.axhline(result["target_rps"], color="tab:blue", linestyle=":", label="target")
    rate.set_ylabel("req/s (per minute)")
    rate.legend(loc="lower right")
    p99.plot(x, [row["p99_ms"] for row in rows], marker="o", color="tab:red")
    p99.set_ylabel("p99 ms (per minute)")
    start = result["started"]
    samples = [((at - start) / 60, mb) for at, mb in result["rss_samples"]]
    rss.plot([t for t, _ in samples], [mb for _, mb in samples], color="tab:green")
    rss.set_ylabel("worker RSS MB")
    rss.set_ylim(0, max(mb for _, mb in samples) * 1.25)
    for axis in (rate, p99, rss):
        axis.axvline(result["warmup_minutes"], color="grey", linestyle=":")
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
    rss.set_xlabel("minutes since the start (dotted: end of the warm-up)")
    figure.suptitle(
        f"Soak: {result['load']:.0%} of capacity, {result['minutes']} min — "
        f"{'PASS' if result['verdict']['passed'] else 'FAIL'}"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def markdown(result: dict[str, Any], png: str) -> str:
    checks = result["verdict"]["checks"]
    rss, p99 = checks["rss_growth"], checks["p99_stable"]
    others = (result.get("machine") or {}).get("others_cpu_share") or 0.0
    passed = "PASS" if result["verdict"]["passed"] else "FAIL"
    lines = [
        "## Soak", "",
        f"`{result['command']}` ({result['when']}): the local stack (one worker) at "
        f"{result['load']:.0%} of the capacity measured first in the same run "
        f"({result['capacity_rps']:,.0f} req/s with Locust on the same 2 cores), the "
        f"traffic mix for {result['minutes']} minutes: {result['requests']:,} requests at "
        f"{result['rps']:,.0f} req/s (target {result['target_rps']:,.0f}; other processes "
        f"used {others:.0%} of the CPUs meanwhile). **{passed}**: "
        f"{checks['zero_errors']['failures']} failed requests; worker RSS "
        f"{rss['after_warmup_mb']} MB after the warm-up minute, {rss['end_mb']} MB at the end "
        f"({rss['growth']:+.1%}, limit +{rss['limit']:.0%}); p99 {p99['first_after_warmup_ms']} "
        f"ms in the first minute after warm-up, {p99['last_ms']} ms in the last "
        f"({p99['ratio']}x, limit {p99['limit']}x).", "",
        f"![Soak: req/s, p99 and worker RSS per minute]({png})", "",
        "| minute | req/s | failures | p99 ms | worker RSS MB |", "|---|---|---|---|---|",
    ]  # fmt: skip
    for row in result["per_minute"]:
        lines.append(
            f"| {row['minute']} | {row['rps']:,.1f} | {row['failures']} | {row['p99_ms']} "
            f"| {row['rss_mb']} |"
        )
    return "\n".join(lines) + "\n"


def soak(options: argparse.Namespace) -> dict[str, Any]:
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    with local_stack(options.state, "mlp", None, 1, out) as stack:
        url = stack.url
        assert stack.server_pid is not None  # local_stack started the server
        capacity = loadtest(url, out / "capacity", [
            "--shape", "smoke", "--users", str(options.users),
            "--duration", str(options.capacity_seconds), "--think-time", "0",
        ], options.capacity_seconds)  # fmt: skip
        target = options.load * capacity["rps"]
        think = min(options.think_time, MAX_USERS / target - LATENCY_GUESS_S)
        users = max(1, round(target * (think + LATENCY_GUESS_S)))
        say(f"== capacity {capacity['rps']:,.0f} req/s: {users} users for {target:,.0f} req/s")
        seconds = options.minutes * 60 + 5  # the last minute is whole
        with RssSampler(stack.server_pid) as sampler:
            run = loadtest(url, out / "soak", [
                "--shape", "soak", "--users", str(users), "--duration", str(seconds),
                "--think-time", f"{think:.4f}",
            ], seconds)  # fmt: skip
    history = read_history(out / "soak" / "locust")
    rows = minutes(history, sampler.samples)
    return {
        "started": history[0]["t"],
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join(["python -m scripts.soak", *sys.argv[1:]]),
        "model": stack.model, "minutes": options.minutes, "load": options.load,
        "warmup_minutes": options.warmup_minutes, "capacity_rps": capacity["rps"],
        "users": users, "think_time_s": round(think, 4), "target_rps": round(target, 1),
        "requests": run["requests"], "rps": run["rps"], "loadtest_verdict": run["verdict"],
        "machine": run.get("machine"), "per_minute": rows,
        "rss_samples": [[round(at, 1), round(mb, 1)] for at, mb in sampler.samples],
        "verdict": verdict(rows, run["failures"], options.warmup_minutes),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=10, help="soak length [10]")
    parser.add_argument("--load", type=float, default=0.7, help="share of capacity [0.7]")
    parser.add_argument("--warmup-minutes", type=int, default=1, help="not judged [1]")
    parser.add_argument("--capacity-seconds", type=float, default=30.0, help="[30]")
    parser.add_argument("--users", type=int, default=64, help="capacity run's users [64]")
    parser.add_argument("--think-time", type=float, default=0.1, help="soak users' wait [0.1]")
    parser.add_argument("--state", type=Path, default=ROOT / ".run", help="local stack state")
    parser.add_argument("--out", type=Path, default=ROOT / ".run" / "soak", help="Locust files")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "soak", help="results")
    options = parser.parse_args(argv)
    if options.minutes < options.warmup_minutes + 2:
        parser.error("--minutes must leave at least two minutes after the warm-up")
    result = soak(options)
    options.docs.mkdir(parents=True, exist_ok=True)
    (options.docs / "soak.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(result, options.docs / "soak.png")
    png = options.docs.resolve() / "soak.png"
    shown = png.relative_to(ROOT) if png.is_relative_to(ROOT) else png
    (options.docs / "soak.md").write_text(markdown(result, str(shown)))
    say(f"== {'PASS' if result['verdict']['passed'] else 'FAIL'}: {options.docs / 'soak.md'}")
    for name, check in result["verdict"]["checks"].items():
        say(f"   {'pass' if check['passed'] else 'FAIL'}  {name}: {check}")
    return 0 if result["verdict"]["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
