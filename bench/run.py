"""The serving benchmark: ``make bench`` (``python -m bench.run``).

Server pinned to CPU 0 (one core: the unit Cloud Run bills), load generator (wrk) on CPU 1.
``--runs`` times (3 by default), each target next to its reference in the same run: this
function's /predict (one JSON digit) against the no-model ASGI handler and against itself
without metrics, batch JSON and V2 binary (256 digits) against LiteRT alone on the served
file, p99 and RSS, cold starts (mounted directory and gs:// emulator, each minus the no-model
handler's); the same for the int8 model, side by side. Once: how cost grows with load
(images/s against batch size, req/s and p99 against connections, PNG plots, the knee) and
the references (Flask mode, the original Flask + Keras design, ``mlflow models serve``,
Locust, WORKERS=2). Writes a markdown report, its plots under ``docs/bench/`` beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from bench.baselines import measure_references
from bench.measure import Plan, Served, measure_run
from bench.prepare import ensure_model, make_workloads, model_info, prepare_bodies, upload
from bench.report import write_report
from bench.result import FLOAT, QUANTIZED, Findings
from bench.servers import serving_venv_size
from bench.sweeps import batch_workloads, measure_sweeps
from function.contract.quantization import INT8, NONE
from scripts.local_stack import ROOT, gcs_emulator

BUCKET = "digitrun-bench"


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, str]:
    """The options, and MNIST_PATH; exits when a prerequisite is missing."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--seconds",
        type=float,
        default=float(os.environ.get("BENCH_SECONDS", "10")),
        help="length of each wrk run; sweep points run a third of it [env BENCH_SECONDS; 10]",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=int(os.environ.get("BENCH_RUNS", "3")),
        help="runs of every measurement a target judges, for the spread [env BENCH_RUNS; 3]",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(os.environ.get("BENCH_OUT", ROOT / "BENCHMARKS.md")),
        help="report; plots go to docs/bench/ beside it [env BENCH_OUT; BENCHMARKS.md]",
    )
    parser.add_argument("--state", type=Path, default=ROOT / ".run" / "bench")
    parser.add_argument(
        "--skip-references",
        action="store_true",
        help="skip the references measured once (the no-model ASGI handler is always run)",
    )
    parser.add_argument("--skip-sweeps", action="store_true", help="skip the load sweeps")
    parser.add_argument("--skip-int8", action="store_true", help="measure the float model only")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.seconds < 1:
        parser.error("--runs and --seconds must be at least 1")
    mnist_path = os.environ.get("MNIST_PATH")
    if not mnist_path:
        parser.error("set MNIST_PATH (real test digits are sent)")
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            parser.error(f"{tool} is not installed (make system-deps)")
    return args, mnist_path


def local_models(args: argparse.Namespace, mnist_path: str, findings: Findings) -> dict[str, Path]:
    """The float version and, unless skipped or refused, the int8 one (trained once each)."""
    versions = {FLOAT: ensure_model(args.state, mnist_path, NONE)}
    if args.skip_int8:
        findings.model_notes[QUANTIZED] = "skipped (`--skip-int8`)"
    else:
        try:
            versions[QUANTIZED] = ensure_model(args.state, mnist_path, INT8)
        except RuntimeError as exc:
            findings.model_notes[QUANTIZED] = str(exc)
            print(f"  int8: {exc}", flush=True)
    return versions


def publish(versions: dict[str, Path], emulator_url: str, findings: Findings) -> dict[str, Served]:
    """Every version into the emulated bucket; how the bench serves each."""
    served = {}
    for label, version in versions.items():
        manifest, info = model_info(version)
        findings.models[label] = info
        uri = upload(version, manifest, emulator_url, BUCKET)
        served[label] = Served(version, uri, manifest.served_file)
    return served


def measure_all(args: argparse.Namespace, mnist_path: str, findings: Findings) -> None:
    """The runs, then the sweeps and the references, against models in the emulator."""
    versions = local_models(args, mnist_path, findings)
    with (
        tempfile.TemporaryDirectory() as tmpdir,
        gcs_emulator(Path(tmpdir) / "gcs", BUCKET) as emulator_url,
    ):
        tmp = Path(tmpdir)
        bodies = prepare_bodies(tmp, mnist_path)
        plan = Plan(
            models=publish(versions, emulator_url, findings),
            emulator_url=emulator_url,
            bodies=bodies,
            workloads=make_workloads(tmp, bodies),
            seconds=args.seconds,
        )
        for index in range(1, args.runs + 1):
            findings.runs.append(measure_run(plan, index))
        if not args.skip_sweeps:
            findings.sweeps = measure_sweeps(
                plan.env(),
                plan.models[FLOAT].tflite,
                plan.workloads.single,
                batch_workloads(tmp, mnist_path),
                args.seconds,
            )
        if not args.skip_references:
            measure_references(plan, findings, args.state, mnist_path, tmp)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the report (and its plots)."""
    args, mnist_path = parse_args(argv)
    args.state.mkdir(parents=True, exist_ok=True)
    findings = Findings(seconds=args.seconds)
    measure_all(args, mnist_path, findings)
    findings.serving_venv_mb = serving_venv_size()
    plots = None if findings.sweeps is None else args.out.parent / "docs" / "bench"
    write_report(args.out, findings, plots)
    print(f"wrote {args.out}" + (f" and the plots in {plots}" if plots else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
