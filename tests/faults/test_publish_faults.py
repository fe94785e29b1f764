"""Publishing under faults, against the real emulator: the publisher killed, the storage
stopped or paused at seeded random moments of the upload. Whatever happened, no reader
ever gets a version that is not complete; publishing again completes it; ``model list``
flags the leftovers and ``model clean`` removes them, never a complete version."""

from __future__ import annotations

import dataclasses
import random
import shutil
import time
from pathlib import Path

import pytest

from function.contract.checksums import describe_files
from function.contract.errors import ManifestError, VersionExistsError
from function.contract.manifest import MANIFEST_NAME, Manifest, make_version_id
from function.contract.storage import fetch_version, open_store
from function.runtime.served import load_model
from model.publish import list_versions, publish_version
from tests.conftest import BUCKET, run_cli
from tests.faults.conftest import start_publisher, wait_ready

pytestmark = pytest.mark.slow

SEED = 20
TRIALS = 10
FAULTS = ("kill the publisher", "stop the storage", "pause the storage")
STORAGE_TIMEOUT = 1.0
HEAVY_BYTES = 16 * 1024 * 1024
PUBLISHER_BOUND = 10.0  # a publisher facing dead or frozen storage gives up within this


@pytest.fixture
def source(published_version: Path, tmp_path: Path) -> tuple[Path, Manifest]:
    """A copy of the trained test version (files and manifest), ready to publish."""
    directory = Path(shutil.copytree(published_version, tmp_path / "source"))
    return directory, Manifest.parse((directory / MANIFEST_NAME).read_bytes())


@pytest.fixture
def heavy(source: tuple[Path, Manifest]) -> tuple[Path, Manifest]:
    """The same version with a large second file (seeded random bytes): its upload takes
    long enough for a fault to land in the middle of it (and goes up as a resumable
    upload, several requests)."""
    directory, manifest = source
    (directory / "model.keras").write_bytes(random.Random(SEED).randbytes(HEAVY_BYTES))
    files = describe_files(directory, manifest.files)
    heavy = Manifest.from_dict(
        {**manifest.as_dict(), "files": files, "version": make_version_id(files)}
    )
    (directory / MANIFEST_NAME).write_bytes(heavy.dump())
    return directory, heavy


def reader_sees(uri: str, manifest: Manifest, source: Path, dest: Path) -> str:
    """What a reader (the function's own fetch) gets at ``uri``: ``complete`` when every
    file is there and verified (and equals the source), else ``incomplete`` (no manifest)."""
    shutil.rmtree(dest, ignore_errors=True)
    try:
        fetched = fetch_version(uri, dest)
    except ManifestError as exc:
        problem = str(exc)
    else:
        problem = None
    if problem is not None:
        assert "no manifest.json" in problem, problem
        return "incomplete"
    assert fetched == manifest
    for name in manifest.files:
        assert (dest / name).read_bytes() == (source / name).read_bytes(), name
    return "complete"


def settle(base: str, bound: float = 5.0) -> None:
    """Wait until the objects under ``base`` stop changing (at most ``bound`` seconds)."""
    store, before = open_store(base), None
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        now = store.files()
        if now == before:
            return
        before = now
        time.sleep(0.3)


def publish_once(directory: Path, base: str, env: dict[str, str]) -> float:
    """Seconds one undisturbed publish in a child process takes (after its imports)."""
    publisher = start_publisher(directory, base, **env)
    wait_ready(publisher)
    out, err = publisher.communicate(timeout=PUBLISHER_BOUND)
    assert publisher.returncode == 0, err
    return float(out.split()[-1])


def inject(fault: str, publisher, gcs) -> None:
    if fault == "kill the publisher":
        publisher.kill()
    elif fault == "stop the storage":
        gcs.stop()
    else:
        gcs.pause()


def test_faults_never_expose_an_incomplete_version(gcs, heavy, tmp_path, monkeypatch):
    directory, manifest = heavy
    env = {"STORAGE_EMULATOR_HOST": gcs.url, "STORAGE_TIMEOUT_SECONDS": str(STORAGE_TIMEOUT)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    duration = min(publish_once(directory, f"gs://{BUCKET}/warm-up/{i}", env) for i in (1, 2))
    rng = random.Random(SEED)
    outcomes = []
    for trial in range(TRIALS):
        fault = FAULTS[trial % len(FAULTS)]
        base = f"gs://{BUCKET}/trials/{trial}"
        uri = f"{base}/{manifest.version}"
        publisher = start_publisher(directory, base, **env)
        wait_ready(publisher)
        time.sleep(rng.uniform(0, duration))
        inject(fault, publisher, gcs)
        started = time.monotonic()
        code = publisher.wait(timeout=PUBLISHER_BOUND)
        waited = time.monotonic() - started
        if fault == "stop the storage":
            gcs.start()  # the same port and data
        else:
            gcs.resume()
            settle(base)  # a resumed emulator still works off the requests it had queued
        seen = reader_sees(uri, manifest, directory, tmp_path / "fetched")
        listed = [info.complete for info in list_versions(base)]
        outcomes.append((fault, code, seen, listed, round(waited, 2)))
        if code == 0:
            assert seen == "complete", outcomes[-1]
        # `model list` agrees with the reader: the folder (if any) is flagged incomplete
        assert listed in ([[True]] if seen == "complete" else [[], [False]]), outcomes[-1]
        try:  # publishing again completes an interrupted version
            assert publish_version(directory, manifest, base) == uri
        except VersionExistsError:
            assert seen == "complete", outcomes[-1]
        assert reader_sees(uri, manifest, directory, tmp_path / "fetched") == "complete"
        assert [info.complete for info in list_versions(base)] == [True]
    print("publish duration", duration, "trials", outcomes)
    # The faults did land mid-publish: some trials left an incomplete folder behind.
    assert any(listed == [False] for _, _, _, listed, _ in outcomes), outcomes


@pytest.mark.parametrize("where", ["gcs", "dir"])
def test_list_flags_and_clean_removes_only_incomplete_folders(where, request, source, tmp_path):
    directory, manifest = source
    env: dict[str, str] = {}
    if where == "gcs":
        gcs = request.getfixturevalue("gcs")
        env = {"STORAGE_EMULATOR_HOST": gcs.url}
        request.getfixturevalue("monkeypatch").setenv("STORAGE_EMULATOR_HOST", gcs.url)
        base = f"gs://{BUCKET}/clean"
    else:
        base = str(tmp_path / "models")
    complete = publish_version(directory, manifest, base)
    # What an interrupted publish of another version leaves: data files, no manifest.
    other = dataclasses.replace(manifest, version="20200101T000000Z-0badf00d")
    leftover = open_store(base).sub(other.version)
    leftover.upload(directory / "model.tflite", "model.tflite")
    if where == "dir":  # a local publisher killed mid-copy also leaves its temp file
        (Path(leftover.uri) / ".model.keras.partial").write_bytes(b"half")

    listing = run_cli("list", base, env=env, timeout=60)
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[0]: line for line in listing.stdout.splitlines()[1:]}
    assert "INCOMPLETE (" in rows[other.version] and "no manifest.json" in rows[other.version]
    assert rows[manifest.version].endswith("complete")

    kept = run_cli("clean", base, env=env, timeout=60)  # default grace: an hour
    assert kept.returncode == 0, kept.stderr
    assert "0 incomplete version folders removed" in kept.stdout
    assert "grace period" in kept.stdout
    dry = run_cli("clean", base, "--grace-seconds", "0", "--dry-run", env=env, timeout=60)
    assert "0 incomplete version folders removed" in dry.stdout, dry.stdout + dry.stderr
    assert [info.name for info in list_versions(base)] == [manifest.version, other.version]

    cleaned = run_cli("clean", base, "--grace-seconds", "0", env=env, timeout=60)
    assert cleaned.returncode == 0, cleaned.stderr
    assert f"{other.version}  " in cleaned.stdout and "1 incomplete version" in cleaned.stdout
    assert [(i.name, i.complete) for i in list_versions(base)] == [(manifest.version, True)]
    assert not open_store(base).sub(other.version).files()
    again = run_cli("clean", base, "--grace-seconds", "0", env=env, timeout=60)
    assert "0 incomplete version folders removed" in again.stdout
    assert load_model(complete).version == manifest.version  # the complete one still serves
