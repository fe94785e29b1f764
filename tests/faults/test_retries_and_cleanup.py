"""In-process (fast): the start-up retry policy, publishing again over an interrupted
publish, and the clean-up's rules, on a local directory."""

from __future__ import annotations

import logging
import os
import time

import pytest

from function.contract import storage
from function.contract.errors import (
    ArtifactError,
    ManifestError,
    StorageError,
    StorageUnavailableError,
    VersionExistsError,
)
from function.contract.manifest import MANIFEST_NAME
from function.contract.storage import fetch_version, open_store, with_retries
from model.cleanup import clean_incomplete
from model.publish import list_versions, publish_version
from tests.code.test_publish import staged  # noqa: F401 (fixture)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The backoff pauses with_retries takes (not actually slept)."""
    taken: list[float] = []
    monkeypatch.setattr(storage.time, "sleep", taken.append)
    return taken


def failing(times: int, error: Exception):
    calls = []

    def action() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "done"

    return action, calls


def test_retries_with_backoff_until_the_storage_answers(sleeps, caplog, monkeypatch):
    monkeypatch.setenv("STORAGE_RETRIES", "3")
    action, calls = failing(2, StorageUnavailableError("bucket: cannot reach x"))
    with caplog.at_level(logging.WARNING, logger="digitrun"):
        assert with_retries(action, "loading gs://b/v") == "done"
    assert len(calls) == 3 and sleeps == [1.0, 2.0]
    assert [r.getMessage().split(",")[0] for r in caplog.records] == [
        "loading gs://b/v: storage unavailable (attempt 1 of 4)",
        "loading gs://b/v: storage unavailable (attempt 2 of 4)",
    ]


def test_gives_up_after_the_retries_with_one_clear_error(sleeps, monkeypatch):
    monkeypatch.setenv("STORAGE_RETRIES", "2")
    action, calls = failing(10, StorageUnavailableError("bucket: cannot reach x"))
    with pytest.raises(StorageUnavailableError, match=r"^bucket: cannot reach x \(3 attempts\)$"):
        with_retries(action, "loading")
    assert len(calls) == 3 and sleeps == [1.0, 2.0]


@pytest.mark.parametrize(
    "error", [ArtifactError("model.tflite: sha256"), StorageError("permission denied (403)")]
)
def test_other_errors_are_not_retried(sleeps, error):
    action, calls = failing(1, error)
    with pytest.raises(type(error)):
        with_retries(action, "loading")
    assert len(calls) == 1 and not sleeps


def test_zero_retries_and_the_backoff_cap(sleeps, monkeypatch):
    monkeypatch.setenv("STORAGE_RETRIES", "0")
    action, calls = failing(1, StorageUnavailableError("down"))
    with pytest.raises(StorageUnavailableError, match=r"\(1 attempts\)"):
        with_retries(action, "loading")
    assert len(calls) == 1 and not sleeps
    assert [storage.backoff_seconds(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


@pytest.mark.parametrize("raw", ["many", "-1", "11", "1.5"])
def test_bad_retry_settings_are_named(raw, monkeypatch):
    monkeypatch.setenv("STORAGE_RETRIES", raw)
    with pytest.raises(StorageError, match=f"STORAGE_RETRIES='{raw}'"):
        with_retries(lambda: None, "loading")


def interrupted(staging, manifest, base: str, after: int) -> None:
    """A publish that dies after ``after`` uploads (a crash: nothing cleaned up)."""
    store_cls = type(open_store(base))
    original = store_cls.upload
    done = []

    def upload(self, src, name):
        if len(done) == after:
            raise StorageUnavailableError("connection dropped")
        done.append(name)
        return original(self, src, name)

    store_cls.upload = upload
    try:
        with pytest.raises(StorageUnavailableError):
            publish_version(staging, manifest, base)
    finally:
        store_cls.upload = original


@pytest.mark.parametrize("after", [0, 1, 2])
def test_publishing_again_completes_an_interrupted_version(staged, tmp_path, after):  # noqa: F811
    staging, manifest = staged
    base = str(tmp_path / "models")
    (tmp_path / "models").mkdir()
    interrupted(staging, manifest, base, after)
    assert [i.complete for i in list_versions(base)] == ([False] if after else [])
    uri = publish_version(staging, manifest, base)
    assert fetch_version(uri, tmp_path / "out") == manifest
    with pytest.raises(VersionExistsError, match="refusing to overwrite"):
        publish_version(staging, manifest, base)


def test_a_damaged_leftover_is_replaced(staged, tmp_path):  # noqa: F811
    staging, manifest = staged
    base = str(tmp_path / "models")
    interrupted(staging, manifest, base, 2)
    (tmp_path / "models" / manifest.version / "model.keras").write_bytes(b"half a file")
    uri = publish_version(staging, manifest, base)
    assert fetch_version(uri, tmp_path / "out") == manifest


def age(path, seconds: float) -> None:
    for item in [path, *path.rglob("*")]:
        then = time.time() - seconds
        os.utime(item, (then, then))


def test_clean_removes_only_idle_folders_without_a_manifest(staged, tmp_path):  # noqa: F811
    staging, manifest = staged
    base = tmp_path / "models"
    publish_version(staging, manifest, str(base))
    old, recent, broken = (
        "20200101T000000Z-00000001",
        "20200101T000000Z-00000002",
        "20200101T000000Z-00000003",
    )
    for name in (old, recent, broken):
        (base / name).mkdir()
        (base / name / "model.tflite").write_bytes(b"part")
    (base / broken / MANIFEST_NAME).write_text("{not json")  # claims to be complete
    (base / "notes").mkdir()  # not a version folder
    for name in (old, broken, "notes", manifest.version):
        age(base / name, 7200)

    dry = clean_incomplete(str(base), 3600, dry_run=True)
    assert [(x.name, x.removed) for x in dry] == [(old, False), (recent, False)]
    assert (base / old).exists()
    result = clean_incomplete(str(base), 3600)
    assert [(x.name, x.removed) for x in result] == [(old, True), (recent, False)]
    assert "grace period" in result[1].reason
    assert not (base / old).exists()
    assert sorted(p.name for p in base.iterdir()) == sorted(
        [recent, broken, "notes", manifest.version]
    )
    with pytest.raises(ManifestError):  # the broken one is left for a person to look at
        fetch_version(str(base / broken), tmp_path / "out")
    assert fetch_version(str(base / manifest.version), tmp_path / "out") == manifest
