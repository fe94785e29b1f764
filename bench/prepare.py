"""What the measurements need first: the model (trained once and cached, then uploaded to
the GCS emulator), the request bodies made of real test digits, and a wrk workload for each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.result import BATCH_JSON, ONE_DIGIT, V2_BINARY, ModelInfo
from bench.wrk import Workload, lua_script
from client.v2 import binary_request
from function.contract.manifest import MANIFEST_NAME, Manifest
from function.contract.quantization import NONE
from function.contract.spec import SPEC
from model.publish import newest_version
from scripts.local_stack import ROOT, child_env

BATCH = 256
JSON_HEADERS = {"Content-Type": "application/json"}
ARCH = "mlp"  # the classic MLP


def cached_version(models: Path, quantize: str) -> Path | None:
    """The newest complete version under ``models`` serving ``quantize`` (none, int8)."""
    if not models.is_dir():
        return None
    uri = newest_version(str(models), ARCH, quantize)
    return None if uri is None else Path(uri)


def ensure_model(state: Path, mnist_path: str, quantize: str = NONE) -> Path:
    """The benchmark's model: the classic MLP (10 epochs, seed 0), float or serving its int8
    quantization (``--quantize int8``), trained once and cached. RuntimeError with the
    training job's last words when it fails (an int8 model its gates refuse, say)."""
    models = state / "models"
    cached = cached_version(models, quantize)
    if cached is not None:
        return cached
    print(f"== training the benchmark's model (quantize {quantize})", flush=True)
    env = child_env(MLFLOW_TRACKING_URI=f"sqlite:///{state / 'mlflow.db'}")
    train = ["train", "--arch", ARCH, "--data", mnist_path, "--publish", str(models)]
    done = subprocess.run(
        [sys.executable, "-m", "model", *train, "--quantize", quantize],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise RuntimeError(f"training (quantize {quantize}) failed: {' '.join(last)}")
    return Path(done.stdout.strip().splitlines()[-1])


def model_info(version: Path) -> tuple[Manifest, ModelInfo]:
    """A local version's manifest, and what the report says of its served file."""
    manifest = Manifest.parse((version / MANIFEST_NAME).read_bytes())
    info = ModelInfo(
        manifest.version,
        manifest.served_file,
        round(manifest.served.size / 1024, 1),
        manifest.served_accuracy,
    )
    return manifest, info


def upload(version: Path, manifest: Manifest, emulator_url: str, bucket: str) -> str:
    """Copy a local version into the emulated bucket (manifest last); its gs:// URI."""
    os.environ["STORAGE_EMULATOR_HOST"] = emulator_url
    from model.publish import publish_version  # noqa: PLC0415 (needs the emulator env)

    return publish_version(version, manifest, f"gs://{bucket}/models")


@dataclass(frozen=True)
class Bodies:
    """The request bodies, each in a file wrk reads; the one-digit body also as bytes."""

    single: Path
    batch: Path
    v2: Path
    v2_headers: dict[str, str]
    mlflow: Path
    single_bytes: bytes


def prepare_bodies(tmp: Path, mnist_path: str) -> Bodies:
    """Request bodies with real test digits: one JSON digit, 256 as JSON and as V2 binary,
    and one digit in ``mlflow models serve``'s ``inputs`` form."""
    with np.load(mnist_path) as data:
        images = SPEC.input.scale(data["x_test"][:BATCH])
    single = {"image": images[0].round(4).tolist()}
    v2, v2_headers = binary_request(
        images, outputs=[{"name": SPEC.output.name, "parameters": {"binary_data": True}}]
    )
    contents = {
        "single": json.dumps(single).encode(),
        "batch": json.dumps({"images": images.round(4).tolist()}).encode(),
        "v2": v2,
        "mlflow": json.dumps({"inputs": [single["image"]]}).encode(),
    }
    paths = {name: tmp / f"{name}.body" for name in contents}
    for name, content in contents.items():
        paths[name].write_bytes(content)
    return Bodies(**paths, v2_headers=v2_headers, single_bytes=contents["single"])


@dataclass(frozen=True)
class Workloads:
    """The wrk workloads of the run."""

    single: Workload
    batch: Workload
    v2: Workload
    mlflow: Workload


def make_workloads(tmp: Path, bodies: Bodies) -> Workloads:
    """A wrk script per body in ``tmp``, and the workload each one drives."""

    def script(name: str, body: Path, headers: dict[str, str]) -> Path:
        return lua_script(tmp / f"{name}.lua", "POST", body, headers)

    return Workloads(
        single=Workload(ONE_DIGIT, "/predict", script("single", bodies.single, JSON_HEADERS), 1),
        batch=Workload(BATCH_JSON, "/predict", script("batch", bodies.batch, JSON_HEADERS), BATCH),
        v2=Workload(
            V2_BINARY,
            "/v2/models/mnist/infer",
            script("v2", bodies.v2, bodies.v2_headers),
            BATCH,
        ),
        mlflow=Workload(
            "/invocations 1 digit",
            "/invocations",
            script("mlflow", bodies.mlflow, JSON_HEADERS),
            1,
        ),
    )
