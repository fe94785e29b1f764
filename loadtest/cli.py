"""``python -m loadtest``: one load test with a verdict and a report.

    python -m loadtest                                  # smoke test of the local stack
    python -m loadtest --shape ramp --capacity-report LOADTEST.md
    python -m loadtest --host https://digitrun-xyz.a.run.app --shape spike --id-token always
    python -m loadtest --shape ramp --workers 2         # a Locust master + 2 workers

Without ``--host`` it starts the local stack (GCS emulator, the published model or a new
one, the function). Every flag has an environment variable; the gates' defaults live in
``loadtest/gates.py``, the shapes' in ``loadtest/shapes.py``. Exit codes: 0 every gate
held, 1 a gate broke or the run failed, 2 the command cannot run as given.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from loadtest import gates, shapes
from loadtest.runner import Options, rerender, run
from scripts.local_stack import ROOT

ENV = os.environ


def env_flag(parser: argparse.ArgumentParser, flag: str, env: str, help: str, **kw) -> None:
    """A flag whose default is the variable ``env`` (else ``kw['default']``)."""
    default = ENV.get(env, kw.pop("default", None))
    parser.add_argument(flag, default=default, help=f"{help} [env {env}]", **kw)


def target_flags(parser: argparse.ArgumentParser) -> None:
    env_flag(parser, "--host", "LOADTEST_HOST", "URL to test; unset: start the local stack")
    env_flag(parser, "--metrics-url", "LOADTEST_METRICS_URL", "the service's /metrics")
    env_flag(parser, "--id-token", "LOADTEST_ID_TOKEN", "send a Google ID token",
             choices=("auto", "always", "never"), default="auto")  # fmt: skip
    env_flag(parser, "--token", "LOADTEST_TOKEN", "an ID token obtained elsewhere")
    env_flag(parser, "--audience", "LOADTEST_AUDIENCE", "ID token audience (default: host)")
    env_flag(parser, "--state", "DIGITRUN_STATE_DIR", "local stack's state", default=".run")
    env_flag(parser, "--arch", "DIGITRUN_ARCH", "model to serve locally",
             choices=("mlp", "cnn"), default="mlp")  # fmt: skip
    env_flag(parser, "--server-workers", "LOADTEST_SERVER_WORKERS", "local server's WORKERS",
             type=int, default=1)  # fmt: skip


def load_flags(parser: argparse.ArgumentParser) -> None:
    env_flag(parser, "--shape", "LOADTEST_SHAPE", "load profile", choices=shapes.NAMES,
             default="smoke")  # fmt: skip
    for key, env in shapes.ENV.items():
        kind = float if key in ("duration", "step_seconds") else int
        env_flag(parser, "--" + key.replace("_", "-"), env, f"shape's {key}", type=kind)
    env_flag(parser, "--workers", "LOADTEST_WORKERS", "Locust workers beside a master",
             type=int, default=0)  # fmt: skip
    env_flag(parser, "--processes", "LOADTEST_PROCESSES", "Locust's --processes",
             type=int, default=0)  # fmt: skip
    env_flag(parser, "--data", "LOADTEST_DATA", "MNIST .npz (else MNIST_PATH, else the sample)")
    env_flag(parser, "--mix", "LOADTEST_MIX", "request weights, e.g. predict=40,batch=5")
    env_flag(parser, "--think-time", "LOADTEST_THINK_TIME", "seconds between requests, or a:b")


def report_flags(parser: argparse.ArgumentParser) -> None:
    for gate in gates.GATES:
        shown = "off" if gate.default is None else f"{gate.default:g}"
        env_flag(parser, gate.flag, gate.env, f"gate: {gate.help} ('off' disables) [{shown}]")
    env_flag(parser, "--budget-ms", gates.BUDGET_ENV, "capacity: p95 budget, ms [p95 gate|50]",
             type=float)  # fmt: skip
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    env_flag(parser, "--out", "LOADTEST_OUT", "run folder",
             default=str(ROOT / ".run" / "loadtest" / stamp))  # fmt: skip
    env_flag(parser, "--capacity-report", "LOADTEST_CAPACITY_REPORT", "write LOADTEST.md here")
    env_flag(parser, "--from-run", "LOADTEST_FROM_RUN", "no load: re-render this run folder")
    parser.add_argument(
        "--compare",
        nargs="*",
        default=[],
        type=Path,
        help="earlier runs' summary.json to compare in the capacity report",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        default=ENV.get("LOADTEST_QUIET", "") == "true",
        help="keep Locust's output in the log only [env LOADTEST_QUIET=true]",
    )


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m loadtest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target_flags(parse)
    load_flags(parse)
    report_flags(parse)
    return parse


def locust_env(args: argparse.Namespace) -> dict[str, str]:
    values = {
        "LOADTEST_DATA": args.data or ENV.get("MNIST_PATH"),
        "LOADTEST_MIX": args.mix,
        "LOADTEST_THINK_TIME": args.think_time,
        "LOADTEST_ID_TOKEN": args.id_token,
        "LOADTEST_TOKEN": args.token,
        "LOADTEST_AUDIENCE": args.audience,
    }
    return {key: str(value) for key, value in values.items() if value}


def options(args: argparse.Namespace, argv: list[str]) -> Options:
    """The run's options; ValueError for a value that cannot be used."""
    overrides = {env: str(getattr(args, key)) for key, env in shapes.ENV.items()
                 if getattr(args, key) is not None}  # fmt: skip
    shape = shapes.ShapeConfig.from_env(args.shape, overrides)
    limits = {gate.key: gates.parse_limit(getattr(args, gate.key)) if getattr(args, gate.key)
              is not None else gate.default for gate in gates.GATES}  # fmt: skip
    if args.workers and args.processes:
        raise ValueError("--workers and --processes exclude each other: pick one")
    from loadtest.traffic import weights  # noqa: PLC0415 (checks --mix early)

    weights(args.mix)
    return Options(
        shape=shape,
        limits=limits,
        budget_ms=args.budget_ms or limits["max_p95_ms"] or gates.DEFAULT_BUDGET_MS,
        out=Path(args.from_run or args.out).resolve(),
        host=args.host,
        metrics_url=args.metrics_url,
        workers=args.workers,
        processes=args.processes,
        locust_env=locust_env(args),
        capacity_report=Path(args.capacity_report).resolve() if args.capacity_report else None,
        compare=[path.resolve() for path in args.compare],
        state=Path(args.state).resolve(),
        arch=args.arch,
        server_workers=args.server_workers,
        data=args.data or ENV.get("MNIST_PATH"),
        quiet=args.quiet,
        command=" ".join(["python -m loadtest", shlex.join(argv)]).strip(),
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    try:
        chosen = options(args, argv)
    except ValueError as exc:
        sys.stderr.write(f"python -m loadtest: {exc}\n")
        return 2
    from client.errors import UsageError  # noqa: PLC0415

    # SIGTERM unwinds like an exception: the server, emulator and Locust are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return rerender(chosen) if args.from_run else run(chosen)
    except UsageError as exc:
        sys.stderr.write(f"python -m loadtest: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("python -m loadtest: interrupted\n")
        return 1
