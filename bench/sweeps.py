"""How cost grows with load: images/s against batch size (JSON and V2 binary, with LiteRT
alone on the same core as the roof), and one digit's req/s and p99 against concurrent
connections. Short wrk runs, one server (the default configuration, its body limit raised
so the largest JSON batch fits)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.prepare import JSON_HEADERS
from bench.result import OURS, Result, Sweeps
from bench.scenarios import inference_alone
from bench.servers import Ready, pinned_server
from bench.wrk import Workload, lua_script, measure, result_of, run_wrk
from client.v2 import binary_request
from function.contract.spec import SPEC
from scripts.local_stack import ServerProcess, free_port, function_command

BATCH_SIZES = (1, 8, 32, 128, 256, 1024)
CONNECTION_COUNTS = (1, 4, 16, 64, 256)
JSON_SERIES, BINARY_SERIES, ROOF_SERIES = "JSON /predict", "V2 binary", "bare LiteRT"
# 1,024 digits as JSON (4 decimals) are ~4.5 MB, over the default MAX_BODY_BYTES (4 MiB)
SWEEP_MAX_BODY_BYTES = 16 * 2**20
SWEEP_WARM_UP_S = 1
# The connection counts are run up, then down: a count's req/s is the mean of its two runs,
# its percentiles their median, so a slow stretch of the machine does not land on one point
# alone (one 3-s run at 4 connections once came out 26% slow and moved the knee).
CONNECTION_ROUNDS = 2


def sweep_seconds(seconds: float) -> float:
    """Each sweep point's wrk run: a third of the main runs', at least 2 s."""
    return max(2.0, round(seconds / 3))


def batch_workloads(tmp: Path, mnist_path: str) -> dict[str, dict[int, Workload]]:
    """A JSON and a V2 binary workload per batch size, of real test digits."""
    with np.load(mnist_path) as data:
        images = SPEC.input.scale(data["x_test"][: max(BATCH_SIZES)])
    outputs = [{"name": SPEC.output.name, "parameters": {"binary_data": True}}]
    found: dict[str, dict[int, Workload]] = {JSON_SERIES: {}, BINARY_SERIES: {}}
    for size in BATCH_SIZES:
        batch = images[:size]
        body = tmp / f"sweep-json-{size}.body"
        body.write_bytes(json.dumps({"images": batch.round(4).tolist()}).encode())
        script = lua_script(tmp / f"sweep-json-{size}.lua", "POST", body, JSON_HEADERS)
        found[JSON_SERIES][size] = Workload(f"JSON batch {size}", "/predict", script, size)
        raw, headers = binary_request(batch, outputs=outputs)
        body = tmp / f"sweep-v2-{size}.body"
        body.write_bytes(raw)
        script = lua_script(tmp / f"sweep-v2-{size}.lua", "POST", body, headers)
        found[BINARY_SERIES][size] = Workload(
            f"V2 binary {size}", "/v2/models/mnist/infer", script, size
        )
    return found


def measure_sweeps(
    env: dict[str, str],
    tflite: Path,
    single: Workload,
    batches: dict[str, dict[int, Workload]],
    seconds: float,
) -> Sweeps:
    """Both sweeps against one server of ``env``, LiteRT alone on ``tflite`` as the roof."""
    point = sweep_seconds(seconds)
    print(f"== load sweeps ({point:.0f} s per point)", flush=True)
    sweeps = Sweeps(seconds=point, max_body_bytes=SWEEP_MAX_BODY_BYTES)
    sweeps.batch[ROOF_SERIES] = inference_alone(tflite, BATCH_SIZES, seconds=1.0)
    port = free_port()
    env = {**env, "MAX_BODY_BYTES": str(SWEEP_MAX_BODY_BYTES)}
    with pinned_server(function_command(port), env, port, Ready("/v2/health/ready")) as server:
        for series, by_size in batches.items():
            sweeps.batch[series] = {}
            for size, workload in by_size.items():
                row = measure(OURS, server, workload, point, warm_up=SWEEP_WARM_UP_S)
                sweeps.batch[series][size] = row.images_per_s
                note(sweeps, row)
        for row in connection_sweep(server, single, point):
            sweeps.connections.append(row)
            note(sweeps, row)
    return sweeps


def connection_sweep(server: ServerProcess, single: Workload, point: float) -> list[Result]:
    """One digit at every connection count, ``CONNECTION_ROUNDS`` times, up and down in
    turn: a row per count (its runs' mean req/s, median percentiles)."""
    url = f"{server.url}{single.path}"
    runs: dict[int, list[dict[str, float]]] = {count: [] for count in CONNECTION_COUNTS}
    for index in range(CONNECTION_ROUNDS):
        order = CONNECTION_COUNTS if index % 2 == 0 else tuple(reversed(CONNECTION_COUNTS))
        for count in order:
            run_wrk(url, single.script, SWEEP_WARM_UP_S, count)
            runs[count].append(run_wrk(url, single.script, point, count))
    return [result_of(OURS, server, single, runs[count], count) for count in CONNECTION_COUNTS]


def note(sweeps: Sweeps, row: Result) -> None:
    """Remember a point that saw errors (its figures are not clean), and the peak RSS."""
    rss = max(row.rss_mb, default=0.0)
    if rss > sweeps.peak_rss_mb:
        sweeps.peak_rss_mb, sweeps.peak_rss_at = rss, f"{row.workload}, c{row.connections}"
    if row.errors:
        sweeps.errors.append(f"{row.workload}, {row.connections} connections: {row.errors}")
