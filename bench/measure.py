"""One run of the measurements the targets judge, each next to its reference on the same
core: the function's 256-digit requests between two runs of LiteRT alone on the served
file (float and int8); one digit against the function (float, without metrics, int8) and
the no-model ASGI handler in interleaved slices; the floors of the bodies (receive, parse);
and the interleaved cold starts."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from bench.floors import PARSE, RECEIVE
from bench.prepare import Bodies, Workloads
from bench.result import (
    BATCH_JSON,
    COLD_DIR,
    COLD_GS,
    COLD_NOOP,
    FLOAT,
    INT8,
    METRICS_OFF,
    NOOP,
    ONE_DIGIT,
    OURS,
    QUANTIZED,
    SERVERS,
    V2_BINARY,
    Run,
)
from bench.scenarios import Command, first_answers, floors_alone, inference_alone
from bench.servers import Ready, noop_asgi_command, pinned_server, serving_env
from bench.wrk import measure, measure_interleaved
from scripts.local_stack import ServerProcess, child_env, free_port, function_command

LITERT_BATCHES = (1, 256)
LITERT_SECONDS = 2.0
FLOOR_SECONDS = 1.0


@dataclass(frozen=True)
class Served:
    """One model as the bench serves it: its local version folder, its gs:// URI in the
    emulator and its served file (``runtime.file``)."""

    version: Path
    uri: str
    file: str

    @property
    def tflite(self) -> Path:
        return self.version / self.file


@dataclass(frozen=True)
class Plan:
    """What every run needs: the models by label, the emulator, the bodies and workloads."""

    models: dict[str, Served]
    emulator_url: str
    bodies: Bodies
    workloads: Workloads
    seconds: float

    def env(self, model: str = FLOAT, **extra: str) -> dict[str, str]:
        """The function's environment, ``model`` fetched from the emulated bucket."""
        return serving_env(self.models[model].uri, self.emulator_url, **extra)


def servers_of(plan: Plan) -> list[tuple[str, Command, dict[str, str]]]:
    """The servers of a run: the function (float, without metrics, int8), no model."""
    servers = [
        (OURS, function_command, plan.env()),
        (NOOP, noop_asgi_command, child_env()),
        (METRICS_OFF, function_command, plan.env(METRICS="false")),
    ]
    if QUANTIZED in plan.models:
        servers.append((INT8, function_command, plan.env(QUANTIZED)))
    return servers


def measure_run(plan: Plan, index: int) -> Run:
    """Run ``index`` (from 1): every measurement the targets and the side-by-side table use.
    Every server of the run is up (each pinned to the server core, idle but for its turn):
    the 256-digit requests first, then one digit against each in interleaved slices, so
    the ratios between them see the same machine."""
    print(f"== run {index}", flush=True)
    run = Run()
    ready = Ready("/predict", "POST", plan.bodies.single_bytes)
    with contextlib.ExitStack() as stack:
        up: dict[str, ServerProcess] = {}
        for name, command, env in servers_of(plan):
            port = free_port()
            up[name] = stack.enter_context(pinned_server(command(port), env, port, ready))
        measure_batches(plan, run, FLOAT, up[OURS])
        if INT8 in up:
            measure_batches(plan, run, QUANTIZED, up[INT8])
        single = plan.workloads.single
        run.results += measure_interleaved(list(up.items()), single, plan.seconds)
    measure_floors(plan.bodies, run)
    measure_cold_starts(plan, run)
    return run


def measure_floors(bodies: Bodies, run: Run) -> None:
    """Each workload's body received alone, and the JSON ones parsed alone (server core)."""
    json, binary = (RECEIVE, PARSE), (RECEIVE,)
    run.floors_us = floors_alone(
        {
            ONE_DIGIT: (bodies.single, json),
            V2_BINARY: (bodies.v2, binary),
            BATCH_JSON: (bodies.batch, json),
        },
        FLOOR_SECONDS,
    )
    print(f"  floors, µs per body: {run.floors_us}", flush=True)


def measure_batches(plan: Plan, run: Run, model: str, server: ServerProcess) -> None:
    """The function serving ``model``: V2 binary 256 and batch JSON 256 between two runs
    of LiteRT alone on its served file (their mean is the reference, so a drift of the
    machine's speed meanwhile hits both sides of the ratio alike)."""
    tflite = plan.models[model].tflite
    before = inference_alone(tflite, LITERT_BATCHES, LITERT_SECONDS)
    name = SERVERS[model]
    run.results.append(measure(name, server, plan.workloads.v2, plan.seconds))
    run.results.append(measure(name, server, plan.workloads.batch, plan.seconds))
    after = inference_alone(tflite, LITERT_BATCHES, LITERT_SECONDS)
    run.litert[model] = {n: (before[n] + after[n]) / 2 for n in LITERT_BATCHES}
    print(
        f"  LiteRT alone, {model}, before: {fmt_rates(before)}; after: {fmt_rates(after)}",
        flush=True,
    )


def measure_cold_starts(plan: Plan, run: Run) -> None:
    """Process start → first 200: the float model from the emulator, from its directory
    (a mounted bucket), and the no-model handler, interleaved."""
    body = plan.bodies.single_bytes
    local = serving_env(str(plan.models[FLOAT].version), plan.emulator_url)
    run.cold_start_s = first_answers(
        {
            COLD_GS: (function_command, plan.env(), body),
            COLD_DIR: (function_command, local, body),
            COLD_NOOP: (noop_asgi_command, child_env(), b"{}"),
        }
    )
    print(f"  cold starts: {run.cold_start_s}", flush=True)


def fmt_rates(rates: dict[int, float]) -> str:
    """``batch 1: 17,000 images/s, ...``."""
    return ", ".join(f"batch {n}: {r:,.0f} images/s" for n, r in rates.items())
