"""Start-up: a version that cannot be verified never serves (non-zero exit, one clear log
line, never ready); a good one loads from a directory or from the real GCS emulator."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import requests

from function.contract.checksums import describe_files
from function.contract.manifest import MANIFEST_NAME
from scripts.local_stack import free_port
from tests.conftest import BUCKET

pytestmark = pytest.mark.slow


def assert_refuses_to_start(server, fragment: str) -> dict:
    """The server exits non-zero without ever being ready; its one error line says why."""
    deadline = time.monotonic() + 30
    while server.process.poll() is None and time.monotonic() < deadline:
        try:
            status = requests.get(f"{server.url}/v2/health/ready", timeout=0.5).status_code
            assert status != 200, "a server with an unverified model reported ready"
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    code = server.wait_exit(timeout=5)
    log = server.log()
    assert code != 0, log
    errors = [e for e in server.json_lines() if e["severity"] in ("ERROR", "CRITICAL")]
    assert len(errors) == 1, log
    assert errors[0]["message"].startswith("refusing to start"), log
    assert fragment in errors[0]["message"], log
    assert "Traceback" not in log, log
    return errors[0]


@pytest.fixture
def version_copy(tmp_path: Path, published_version: Path) -> Path:
    """A writable copy of the published version."""
    return Path(shutil.copytree(published_version, tmp_path / published_version.name))


def test_missing_manifest(start_server, version_copy):
    (version_copy / MANIFEST_NAME).unlink()
    server = start_server(wait=False, MODEL_URI=str(version_copy))
    assert_refuses_to_start(server, "no manifest.json")


def test_checksum_mismatch(start_server, version_copy):
    path = version_copy / "model.tflite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content
    path.write_bytes(bytes(data))
    server = start_server(wait=False, MODEL_URI=str(version_copy))
    assert_refuses_to_start(server, "model.tflite: sha256")


def test_a_verified_file_that_is_not_a_model(start_server, version_copy):
    (version_copy / "model.tflite").write_bytes(b"not a flatbuffer" * 64)
    manifest = json.loads((version_copy / MANIFEST_NAME).read_text())
    manifest["files"] = describe_files(version_copy, manifest["files"])
    (version_copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    server = start_server(wait=False, MODEL_URI=str(version_copy))
    assert_refuses_to_start(server, "not a loadable LiteRT model")


def test_unreachable_bucket(start_server, published_version):
    closed = free_port()  # nothing listens there
    server = start_server(
        wait=False,
        MODEL_URI=f"gs://{BUCKET}/models/{published_version.name}",
        STORAGE_EMULATOR_HOST=f"http://127.0.0.1:{closed}",
        STORAGE_TIMEOUT_SECONDS="2",
    )
    started = time.monotonic()
    assert_refuses_to_start(server, f"cannot reach http://127.0.0.1:{closed}")
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"MODEL_URI": ""}, "MODEL_URI is not set"),
        ({"MAX_BATCH": "lots"}, "MAX_BATCH='lots' is not an integer"),
        ({"MAX_BODY_BYTES": "0"}, "MAX_BODY_BYTES='0' must be at least 1"),
        ({"LOG_REQUESTS": "maybe"}, "LOG_REQUESTS='maybe' is not a boolean"),
        ({"MODEL_URI": "s3://bucket/x"}, "only gs:// URIs"),
    ],
)
def test_bad_configuration(start_server, env, fragment):
    server = start_server(wait=False, **env)
    assert_refuses_to_start(server, fragment)


def upload_version(directory: Path, prefix: str) -> str:
    """Upload a version's files to the emulator's bucket, the manifest last."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="digitrun-test", credentials=AnonymousCredentials())
    bucket = client.bucket(BUCKET)
    names = sorted(p.name for p in directory.iterdir() if p.name != MANIFEST_NAME)
    for name in [*names, MANIFEST_NAME]:
        bucket.blob(f"{prefix}/{name}").upload_from_filename(str(directory / name))
    return f"gs://{BUCKET}/{prefix}"


def test_loads_from_the_gcs_emulator(emulator, start_server, published_version, mnist, manifest):
    uri = upload_version(published_version, f"models/{published_version.name}")
    started = time.monotonic()
    server = start_server(MODEL_URI=uri, STORAGE_EMULATOR_HOST=emulator)
    response = requests.post(
        f"{server.url}/predict", json={"image": mnist.x_test[0].tolist()}, timeout=5
    )
    cold_start = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == manifest["version"]
    assert cold_start < 10  # the benchmark measures it properly; here it is only bounded
    loaded = [e for e in server.json_lines() if e["message"].endswith(" loaded")]
    assert len(loaded) == 1
    assert loaded[0]["model_uri"] == uri
    assert loaded[0]["sha256"] == manifest["files"]["model.tflite"]["sha256"]


def test_incomplete_version_in_the_bucket(emulator, start_server, published_version):
    """Files uploaded, manifest not (yet): not a version."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="digitrun-test", credentials=AnonymousCredentials())
    prefix = f"partial/{published_version.name}"
    client.bucket(BUCKET).blob(f"{prefix}/model.tflite").upload_from_filename(
        str(published_version / "model.tflite")
    )
    server = start_server(
        wait=False, MODEL_URI=f"gs://{BUCKET}/{prefix}", STORAGE_EMULATOR_HOST=emulator
    )
    assert_refuses_to_start(server, "no manifest.json")
