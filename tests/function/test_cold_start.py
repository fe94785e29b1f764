"""Cold start: what the start-up imports. A start from a directory (a mounted bucket, as on
Cloud Run) loads no storage client; no start builds what no first request needs (the
OpenAPI document waits for its first request). Each start runs in its own interpreter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from function.contract.spec import SPEC
from function.contract.storage import open_store, read_manifest
from model.publish import publish_version
from scripts.local_stack import ROOT, child_env
from tests.conftest import BUCKET

pytestmark = pytest.mark.slow

# Imported only for a gs:// MODEL_URI.
STORAGE_CLIENT = ("google.cloud.storage", "google.auth", "requests", "function.contract.gcs")
# Imported on first use only, by every start.
ON_FIRST_USE = ("function.protocols.openapi", "function.protocols.openapi_schemas", "PIL")
WATCHED = (*STORAGE_CLIENT, *ON_FIRST_USE)
PROBE = f"""
import json, sys
import function.main  # the start-up: settings, the verified model, routes, workers' options
print(json.dumps(sorted(name for name in {WATCHED!r} if name in sys.modules)))
"""


def started_with(**env: str) -> set[str]:
    """The watched modules a real start-up in a fresh interpreter has imported."""
    python = os.environ.get("SERVING_PYTHON") or sys.executable  # the serving set when given
    result = subprocess.run(
        [python, "-c", PROBE],
        cwd=ROOT,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_a_directory_start_loads_no_storage_client(published_version: Path):
    assert started_with(MODEL_URI=str(published_version)) == set()
    assert started_with(MODEL_URI=published_version.as_uri()) == set()


def test_a_gs_start_loads_the_storage_client_and_nothing_else(emulator, published_version):
    manifest = read_manifest(open_store(str(published_version)))
    uri = publish_version(published_version, manifest, f"gs://{BUCKET}/cold-start")
    assert started_with(MODEL_URI=uri, STORAGE_EMULATOR_HOST=emulator) == set(STORAGE_CLIENT)


def test_a_start_ignores_a_damaged_file_it_does_not_serve(
    start_server, published_version, tmp_path
):
    """Only the served file is verified at start-up: a damaged model.keras (which
    `model evaluate` refuses) does not stop the function."""
    copy = Path(shutil.copytree(published_version, tmp_path / "v"))
    (copy / "model.keras").write_bytes(b"damaged")
    server = start_server(MODEL_URI=str(copy))
    assert requests.get(f"{server.url}/v2/health/ready", timeout=5).status_code == 200
    blank = {"image": [0.0] * SPEC.input.features}
    answer = requests.post(f"{server.url}/predict", json=blank, timeout=5)
    assert answer.status_code == 200
