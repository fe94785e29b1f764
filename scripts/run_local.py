"""The main job, locally: GCS emulator up, a model trained (or a published one reused),
published to the emulated bucket, verified and re-measured, the function serving it, and a
few real test digits sent through each protocol; then it prints the draw-a-digit page's URL
and keeps serving until Ctrl-C.

    python -m scripts.run_local [--arch mlp|cnn] [--retrain] [--port 8080] [--no-serve]

Every flag has an environment fallback (see README). Stops everything it started on exit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from model.arguments import quantization_from_env
from model.publish import newest_version
from scripts.demo_requests import hints, show, test_digits
from scripts.local_stack import ROOT, child_env, function_server, gcs_emulator

BUCKET = "digitrun-local"
PREFIX = "models"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.run_local", description=__doc__)
    parser.add_argument(
        "--arch",
        choices=("mlp", "cnn"),
        default=os.environ.get("DIGITRUN_ARCH", "mlp"),
        help="architecture to train or reuse [env DIGITRUN_ARCH]",
    )
    parser.add_argument(
        "--retrain",
        action="store_true",
        default=os.environ.get("DIGITRUN_RETRAIN", "") == "true",
        help="train a new version even if one is published [env DIGITRUN_RETRAIN=true]",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=Path(os.environ.get("DIGITRUN_STATE_DIR", ROOT / ".run")),
        help="emulator data directory [env DIGITRUN_STATE_DIR; default ./.run]",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8080")),
        help="port of the function [env PORT; default 8080]",
    )
    parser.add_argument(
        "--no-serve", action="store_true", help="stop after publishing and evaluating"
    )
    return parser.parse_args(argv)


def model_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``python -m model ARGS``; stdout is shown and kept."""
    process = subprocess.Popen(
        [sys.executable, "-m", "model", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line)
    process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, "".join(lines))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = f"gs://{BUCKET}/{PREFIX}"
    with gcs_emulator(args.state / "gcs", BUCKET) as emulator_url:
        os.environ["STORAGE_EMULATOR_HOST"] = emulator_url
        env = child_env()
        print(f"== GCS emulator at {emulator_url}, bucket gs://{BUCKET}")
        # What `train` would serve: DIGITRUN_QUANTIZE reaches it through the environment.
        quantize = quantization_from_env()
        uri = None if args.retrain else newest_version(base, args.arch, quantize)
        if uri:
            print(f"== reusing the published {args.arch} ({quantize}) version {uri}")
        else:
            print(f"== training {args.arch} (quantize {quantize}) and publishing to {base}")
            trained = model_cli("train", "--arch", args.arch, "--publish", base, env=env)
            if trained.returncode != 0:
                return trained.returncode
            uri = trained.stdout.strip().splitlines()[-1]
        print("== verifying and re-measuring the published version")
        evaluated = model_cli("evaluate", uri, env=env)
        if evaluated.returncode != 0:
            return evaluated.returncode
        print(f"== MODEL_URI={uri}")
        if args.no_serve:
            return 0
        with function_server(child_env(MODEL_URI=uri), args.port) as url:
            print(f"== the function serves {uri} at {url}")
            show(url, test_digits(os.environ.get("MNIST_PATH"), 3))
            print("\n".join(hints(url)))
            print("== Ctrl-C stops everything")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print("\n== stopping")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
