"""The serving benchmark: ``make bench`` (``python -m bench.run``).

In one run, on this machine, the same load generator (wrk, 16 connections) against each
server in turn, the server pinned to CPU 0 and wrk to CPU 1 (one core is the unit Cloud Run
bills): this function's /predict (one JSON digit), batch JSON (256 digits) and V2 binary
(256 digits); as references, a no-model handler in functions-framework's Flask mode (THREADS=1
and the default) and ASGI mode, the original design (Flask + Keras ``predict``) and
``mlflow models serve`` of the same model. Also a Locust run (16 users), cold starts
(process start → first 200 from /predict, model fetched from the emulator, median of 3),
RSS per process, and the serving venv's installed size. Writes a markdown report.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.prepare import (
    Bodies,
    Workloads,
    ensure_model,
    make_workloads,
    prepare_bodies,
    upload,
)
from bench.report import OURS, write_report
from bench.result import Findings, Result
from bench.scenarios import first_answers, inference_alone, locust_run
from bench.servers import (
    Ready,
    mlflow_env,
    mlflow_serve_command,
    noop_asgi_command,
    noop_flask_command,
    original_flask_command,
    original_flask_env,
    pinned_server,
    serving_env,
    serving_venv_size,
)
from bench.wrk import measure
from function.contract.manifest import Manifest
from function.contract.storage import open_store, read_manifest
from scripts.local_stack import ROOT, child_env, free_port, function_command, gcs_emulator

BUCKET = "digitrun-bench"
Config = tuple[str, Callable[[int], list[str]], dict[str, str]]  # name, command, env


@dataclass(frozen=True)
class Setup:
    """Everything the measurements share: options, model, emulator, bodies, workloads."""

    args: argparse.Namespace
    mnist_path: str
    tmp: Path
    version: Path
    manifest: Manifest
    emulator_url: str
    model_uri: str
    bodies: Bodies
    workloads: Workloads

    def env(self, **extra: str) -> dict[str, str]:
        """The function's environment with its model in the emulated bucket."""
        return serving_env(self.model_uri, self.emulator_url, **extra)


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, str]:
    """The options, and MNIST_PATH; exits when a prerequisite is missing."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--seconds",
        type=float,
        default=float(os.environ.get("BENCH_SECONDS", "10")),
        help="length of each wrk run [env BENCH_SECONDS; 10]",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(os.environ.get("BENCH_OUT", ROOT / "BENCHMARKS.md")),
        help="report [env BENCH_OUT; BENCHMARKS.md]",
    )
    parser.add_argument("--state", type=Path, default=ROOT / ".run" / "bench")
    parser.add_argument("--skip-references", action="store_true", help="measure this function only")
    parser.add_argument(
        "--rounds",
        type=int,
        default=int(os.environ.get("BENCH_ROUNDS", "3")),
        help="interleaved rounds of the one-digit runs [env BENCH_ROUNDS; 3]",
    )
    args = parser.parse_args(argv)
    mnist_path = os.environ.get("MNIST_PATH")
    if not mnist_path:
        parser.error("set MNIST_PATH (real test digits are sent)")
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            parser.error(f"{tool} is not installed (make system-deps)")
    return args, mnist_path


def measure_function(setup: Setup, findings: Findings) -> None:
    """The default configuration: 256 digits as JSON and as V2 binary, then Locust."""
    print("== this function (default configuration)", flush=True)
    port = free_port()
    seconds = setup.args.seconds
    with pinned_server(function_command(port), setup.env(), port, Ready("/v2/health/ready")) as s:
        findings.results.append(measure(OURS, s, setup.workloads.batch, seconds))
        findings.results.append(measure(OURS, s, setup.workloads.v2, seconds))
        findings.locust = locust_run(s.url, setup.mnist_path, int(seconds * 2), setup.tmp)
        print(f"  locust 16 users: {findings.locust}", flush=True)


def one_digit_configs(setup: Setup) -> list[Config]:
    """The servers of the one-digit rounds: this function three ways, the no-model handlers."""
    configs: list[Config] = [
        (OURS, function_command, setup.env()),
        ("digitrun, METRICS=false", function_command, setup.env(METRICS="false")),
        ("digitrun, WORKERS=2", function_command, setup.env(WORKERS="2")),
    ]
    if not setup.args.skip_references:
        configs += [
            ("no-model, Flask mode, THREADS=1", noop_flask_command, child_env(THREADS="1")),
            ("no-model, Flask mode, default", noop_flask_command, child_env()),
            ("no-model, ASGI mode", noop_asgi_command, child_env()),
        ]
    return configs


def median_round(measured: list[Result]) -> Result:
    """The round with the median req/s (the upper one of an even count)."""
    return sorted(measured, key=lambda r: r.requests_per_s)[len(measured) // 2]


def measure_rounds(setup: Setup, findings: Findings) -> None:
    """One digit per request, every server once per round; the median round is kept."""
    print(
        f"== one digit per request, {setup.args.rounds} interleaved rounds (medians kept)",
        flush=True,
    )
    configs = one_digit_configs(setup)
    ready = Ready("/predict", "POST", setup.bodies.single_bytes)
    rounds: dict[str, list[Result]] = {name: [] for name, _, _ in configs}
    for _ in range(setup.args.rounds):
        for name, command, env in configs:
            port = free_port()
            with pinned_server(command(port), env, port, ready) as server:
                result = measure(name, server, setup.workloads.single, setup.args.seconds)
                rounds[name].append(result)
    for measured in rounds.values():
        findings.results.append(median_round(measured))
    findings.rounds = {
        name: [r.requests_per_s for r in measured] for name, measured in rounds.items()
    }


def measure_cold_starts(setup: Setup, findings: Findings) -> None:
    """Cold starts (model from the emulator, from a directory, no model) and LiteRT alone."""
    body = setup.bodies.single_bytes
    local = serving_env(str(setup.version), setup.emulator_url)
    findings.cold_start_s = first_answers(function_command, setup.env(), body)
    findings.cold_start_local_s = first_answers(function_command, local, body)
    findings.framework_cold_start_s = first_answers(noop_asgi_command, child_env(), b"{}")
    findings.inference_s = inference_alone(setup.version / "model.tflite")
    print(
        f"  cold starts: emulator {findings.cold_start_s}, local directory "
        f"{findings.cold_start_local_s}, no-model handler "
        f"{findings.framework_cold_start_s}; LiteRT alone {findings.inference_s}",
        flush=True,
    )


def measure_references(setup: Setup, findings: Findings) -> None:
    """The original design and ``mlflow models serve``, one digit per request."""
    print("== references", flush=True)
    seconds = setup.args.seconds
    port = free_port()
    ready = Ready("/predict", "POST", setup.bodies.single_bytes, timeout=120)
    argv, env = original_flask_command(port), original_flask_env(setup.version)
    with pinned_server(argv, env, port, ready) as server:
        name = "original: Flask + Keras predict"
        findings.results.append(measure(name, server, setup.workloads.single, seconds))
    if not setup.manifest.mlflow or "run_id" not in setup.manifest.mlflow:
        raise RuntimeError(f"version {setup.manifest.version} names no MLflow run")
    port = free_port()
    argv = mlflow_serve_command(port, setup.manifest.mlflow["run_id"])
    with pinned_server(argv, mlflow_env(setup.args.state), port, Ready("/ping", timeout=180)) as s:
        name = "mlflow models serve (Keras)"
        findings.results.append(measure(name, s, setup.workloads.mlflow, seconds))


def measure_all(setup: Setup, findings: Findings) -> None:
    """Every server-side measurement, in the order the report lists them."""
    measure_function(setup, findings)
    measure_rounds(setup, findings)
    measure_cold_starts(setup, findings)
    if not setup.args.skip_references:
        measure_references(setup, findings)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the report."""
    args, mnist_path = parse_args(argv)
    args.state.mkdir(parents=True, exist_ok=True)
    version = ensure_model(args.state, mnist_path)
    manifest = read_manifest(open_store(str(version)))
    findings = Findings(version=manifest.version, seconds=args.seconds)
    with (
        tempfile.TemporaryDirectory() as tmpdir,
        gcs_emulator(Path(tmpdir) / "gcs", BUCKET) as emulator_url,
    ):
        tmp = Path(tmpdir)
        bodies = prepare_bodies(tmp, mnist_path)
        setup = Setup(
            args=args,
            mnist_path=mnist_path,
            tmp=tmp,
            version=version,
            manifest=manifest,
            emulator_url=emulator_url,
            model_uri=upload(version, manifest, emulator_url, BUCKET),
            bodies=bodies,
            workloads=make_workloads(tmp, bodies),
        )
        measure_all(setup, findings)
    findings.serving_venv_mb = serving_venv_size()
    write_report(args.out, findings)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
