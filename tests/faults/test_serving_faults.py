"""Serving under storage faults, against the real emulator as a child process: storage down
at start (bounded retries with backoff, then one CRITICAL line and a non-zero exit within
the bound), storage that comes back during the retries, frozen storage (the timeout
respected), a corrupt or missing artifact refused at once (no retries)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from function.contract.manifest import MANIFEST_NAME
from function.contract.storage import open_store
from scripts.local_stack import free_port
from tests.conftest import BUCKET
from tests.function.test_startup import assert_refuses_to_start

pytestmark = pytest.mark.slow

TIMEOUT = 1.0  # STORAGE_TIMEOUT_SECONDS in these tests
RETRIES = 2  # STORAGE_RETRIES: 3 attempts, 1 s then 2 s of backoff
START_OVERHEAD = 6.0  # imports and settings before the first storage call, generously
BOUND = (RETRIES + 1) * 2 * TIMEOUT + (1 + 2) + START_OVERHEAD


def storage_env(host: str, **extra: str) -> dict[str, str]:
    return {
        "STORAGE_EMULATOR_HOST": host,
        "STORAGE_TIMEOUT_SECONDS": str(TIMEOUT),
        "STORAGE_RETRIES": str(RETRIES),
        **extra,
    }


def upload(directory: Path, uri: str, host: str, monkeypatch, skip: str = "") -> str:
    """The version in ``directory`` uploaded to ``uri`` (the manifest last), but ``skip``."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
    store = open_store(uri)
    names = sorted(p.name for p in directory.iterdir() if p.name != MANIFEST_NAME)
    for name in [*names, MANIFEST_NAME]:
        if name != skip:
            store.upload(directory / name, name)
    return uri


def retry_lines(server) -> list[dict]:
    return [e for e in server.json_lines() if "storage unavailable (attempt" in e["message"]]


def test_storage_down_at_start_is_retried_then_refused(start_server, published_version):
    closed = free_port()  # nothing listens there
    started = time.monotonic()
    server = start_server(
        wait=False,
        **storage_env(
            f"http://127.0.0.1:{closed}",
            MODEL_URI=f"gs://{BUCKET}/models/{published_version.name}",
        ),
    )
    error = assert_refuses_to_start(server, f"cannot reach http://127.0.0.1:{closed}")
    elapsed = time.monotonic() - started
    assert error["severity"] == "CRITICAL"
    assert f"({RETRIES + 1} attempts)" in error["message"]
    retries = retry_lines(server)
    assert [(e["severity"], e["attempt"], e["retry_in_seconds"]) for e in retries] == [
        ("WARNING", 1, 1.0),
        ("WARNING", 2, 2.0),
    ], server.log()
    assert 1 + 2 <= elapsed < BOUND, elapsed  # it waited the backoff, and no longer


def test_storage_back_during_the_retries(gcs, start_server, published_version, monkeypatch):
    uri = upload(
        published_version, f"gs://{BUCKET}/m/{published_version.name}", gcs.url, monkeypatch
    )
    gcs.stop()
    server = start_server(wait=False, **storage_env(gcs.url, MODEL_URI=uri))
    deadline = time.monotonic() + 20
    while not retry_lines(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert retry_lines(server), server.log()
    gcs.start()  # the same port and data, during the backoff
    server.wait_ready(BOUND)
    assert server.process.poll() is None
    assert not [e for e in server.json_lines() if e["severity"] in ("ERROR", "CRITICAL")]


def test_frozen_storage_respects_the_timeout(gcs, start_server, published_version, monkeypatch):
    uri = upload(
        published_version, f"gs://{BUCKET}/m/{published_version.name}", gcs.url, monkeypatch
    )
    gcs.pause()  # accepts connections (the kernel does), never answers
    started = time.monotonic()
    env = storage_env(gcs.url, MODEL_URI=uri, STORAGE_RETRIES="1")
    server = start_server(wait=False, **env)
    error = assert_refuses_to_start(server, "cannot reach")
    elapsed = time.monotonic() - started
    gcs.resume()
    assert "(2 attempts)" in error["message"]
    assert len(retry_lines(server)) == 1
    # two attempts of one call each bounded by the timeout, one second of backoff
    assert 1 + 2 * TIMEOUT <= elapsed < 2 * 2 * TIMEOUT + 1 + START_OVERHEAD, elapsed


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [("corrupt", "model.tflite: sha256"), ("missing", "model.tflite: listed in the manifest")],
)
def test_a_damaged_artifact_in_the_bucket_is_refused_at_once(
    damage, fragment, gcs, start_server, published_version, tmp_path, monkeypatch
):
    copy = Path(shutil.copytree(published_version, tmp_path / "copy"))
    skip = ""
    if damage == "corrupt":
        data = bytearray((copy / "model.tflite").read_bytes())
        data[len(data) // 2] ^= 0xFF  # same size, different content
        (copy / "model.tflite").write_bytes(bytes(data))
    else:
        skip = "model.tflite"
    uri = upload(copy, f"gs://{BUCKET}/{damage}/{copy.name}", gcs.url, monkeypatch, skip)
    started = time.monotonic()
    server = start_server(wait=False, **storage_env(gcs.url, MODEL_URI=uri))
    assert_refuses_to_start(server, fragment)
    assert not retry_lines(server)  # not a storage outage: nothing to wait for
    assert time.monotonic() - started < START_OVERHEAD + 2 * TIMEOUT
