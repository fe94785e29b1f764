"""The references measured once, for scale (no target depends on them): this function with
two workers, functions-framework's no-model handler in Flask mode, the original design
(Flask + Keras ``predict``), ``mlflow models serve`` of the same model, and a Locust run."""

from __future__ import annotations

from pathlib import Path

from bench.measure import Plan
from bench.result import FLOAT, OURS, Findings
from bench.scenarios import locust_run
from bench.servers import (
    Ready,
    mlflow_env,
    mlflow_serve_command,
    noop_flask_command,
    original_flask_command,
    original_flask_env,
    pinned_server,
)
from bench.wrk import measure
from function.contract.storage import open_store, read_manifest
from scripts.local_stack import child_env, free_port, function_command


def measure_references(
    plan: Plan, findings: Findings, state: Path, mnist_path: str, tmp: Path
) -> None:
    """Every reference, one digit per request, 16 connections; then Locust."""
    print("== references (measured once)", flush=True)
    ready = Ready("/predict", "POST", plan.bodies.single_bytes)
    configs = [
        ("digitrun, WORKERS=2", function_command, plan.env(WORKERS="2")),
        ("no-model, Flask mode, THREADS=1", noop_flask_command, child_env(THREADS="1")),
        ("no-model, Flask mode, default", noop_flask_command, child_env()),
    ]
    for name, command, env in configs:
        port = free_port()
        with pinned_server(command(port), env, port, ready) as server:
            findings.references.append(measure(name, server, plan.workloads.single, plan.seconds))
    measure_heavy_references(plan, findings, state)
    port = free_port()
    with pinned_server(function_command(port), plan.env(), port, ready) as server:
        seconds = int(plan.seconds * 2)
        findings.locust = locust_run(server.url, mnist_path, seconds, tmp)
        print(f"  locust 16 users against {OURS}: {findings.locust}", flush=True)


def measure_heavy_references(plan: Plan, findings: Findings, state: Path) -> None:
    """The original design and ``mlflow models serve`` (Keras, TensorFlow in the process)."""
    version = plan.models[FLOAT].version
    seconds = plan.seconds
    port = free_port()
    ready = Ready("/predict", "POST", plan.bodies.single_bytes, timeout=120)
    argv, env = original_flask_command(port), original_flask_env(version)
    with pinned_server(argv, env, port, ready) as server:
        name = "original: Flask + Keras predict"
        findings.references.append(measure(name, server, plan.workloads.single, seconds))
    manifest = read_manifest(open_store(str(version)))
    if not manifest.mlflow or "run_id" not in manifest.mlflow:
        raise RuntimeError(f"version {manifest.version} names no MLflow run")
    port = free_port()
    argv = mlflow_serve_command(port, manifest.mlflow["run_id"])
    with pinned_server(argv, mlflow_env(state), port, Ready("/ping", timeout=180)) as s:
        name = "mlflow models serve (Keras)"
        findings.references.append(measure(name, s, plan.workloads.mlflow, seconds))
