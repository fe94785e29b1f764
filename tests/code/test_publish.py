"""Publishing and listing versions, in a local directory and in the real GCS emulator."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from function.contract.checksums import describe_files
from function.contract.errors import (
    ChecksumMismatchError,
    InvalidURIError,
    LocationNotFoundError,
    ManifestError,
    StorageUnavailableError,
    VersionExistsError,
)
from function.contract.manifest import MANIFEST_NAME, Manifest, file_entries
from function.contract.storage import fetch_version, open_store
from model.publish import list_versions, newest_version, publish_version
from scripts.local_stack import free_port
from tests.code.test_artifact import minimal_manifest
from tests.conftest import BUCKET


@pytest.fixture
def staged(tmp_path):
    """A staged version: two files and their manifest."""
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "model.tflite").write_bytes(b"\x00flatbuffer" * 100)
    (staging / "model.keras").write_bytes(b"keras" * 50)
    files = describe_files(staging, ["model.tflite", "model.keras"])
    manifest = Manifest.from_dict(minimal_manifest(files))
    return staging, manifest


@pytest.fixture(params=["dir", "file-uri", pytest.param("gcs", marks=pytest.mark.slow)])
def base_uri(request, tmp_path):
    if request.param == "gcs":
        request.getfixturevalue("emulator")
        return f"gs://{BUCKET}/{tmp_path.name}/models"
    if request.param == "file-uri":
        return (tmp_path / "models").as_uri()
    return str(tmp_path / "models")


def test_publish_fetch_and_list(staged, base_uri, tmp_path):
    staging, manifest = staged
    uri = publish_version(staging, manifest, base_uri)
    assert uri.endswith("/" + manifest.version)
    fetched = fetch_version(uri, tmp_path / "fetched")
    assert fetched == manifest
    assert (tmp_path / "fetched" / "model.tflite").read_bytes() == (
        staging / "model.tflite"
    ).read_bytes()
    [info] = list_versions(base_uri)
    assert info.complete and info.name == manifest.version


def test_never_overwrites(staged, base_uri):
    staging, manifest = staged
    publish_version(staging, manifest, base_uri)
    (staging / "model.tflite").write_bytes(b"changed")
    files = describe_files(staging, ["model.tflite", "model.keras"])
    manifest = dataclasses.replace(manifest, files=file_entries(files))
    with pytest.raises(VersionExistsError, match="refusing to overwrite"):
        publish_version(staging, manifest, base_uri)


def test_manifest_is_written_last(staged, base_uri, monkeypatch):
    """A publish that dies after the data files leaves no manifest: no version."""
    staging, manifest = staged
    store_cls = type(open_store(base_uri))
    original = store_cls.upload
    seen = []

    def upload(self, src, name):
        seen.append(name)
        if name == MANIFEST_NAME:
            raise StorageUnavailableError("connection dropped")
        return original(self, src, name)

    monkeypatch.setattr(store_cls, "upload", upload)
    with pytest.raises(StorageUnavailableError):
        publish_version(staging, manifest, base_uri)
    assert seen[-1] == MANIFEST_NAME and len(seen) == 3
    monkeypatch.setattr(store_cls, "upload", original)
    [info] = list_versions(base_uri)
    assert not info.complete and "no manifest.json" in info.problem
    with pytest.raises(ManifestError):
        fetch_version(info.uri, staging.parent / "out")


def test_list_is_newest_first(staged, base_uri):
    staging, manifest = staged
    older = dataclasses.replace(manifest, version="20250101T000000Z-00000000")
    publish_version(staging, older, base_uri)
    publish_version(staging, manifest, base_uri)
    names = [info.name for info in list_versions(base_uri)]
    assert names == [manifest.version, older.version]


def test_refuses_files_that_differ_from_the_manifest(staged, base_uri):
    staging, manifest = staged
    (staging / "model.keras").write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatchError):
        publish_version(staging, manifest, base_uri)


def test_fetch_detects_a_corrupted_object(staged, tmp_path):
    staging, manifest = staged
    uri = publish_version(staging, manifest, str(tmp_path / "models"))
    (tmp_path / "models" / manifest.version / "model.tflite").write_bytes(b"corrupt")
    with pytest.raises(ChecksumMismatchError, match=r"model\.tflite"):
        fetch_version(uri, tmp_path / "fetched")


def test_unknown_bucket(emulator, staged):
    staging, manifest = staged
    with pytest.raises(LocationNotFoundError, match="no-such-bucket"):
        publish_version(staging, manifest, "gs://no-such-bucket/models")


def test_unreachable_storage(staged, monkeypatch):
    staging, manifest = staged
    port = free_port()  # nothing listens there
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("STORAGE_TIMEOUT_SECONDS", "1")
    with pytest.raises(StorageUnavailableError, match="cannot reach"):
        publish_version(staging, manifest, "gs://anything/models")


@pytest.mark.parametrize("uri", ["", "s3://bucket/x", "gs:///nobucket"])
def test_invalid_uris(uri):
    with pytest.raises(InvalidURIError):
        open_store(uri)


def test_local_files_are_readable_by_others(staged, tmp_path):
    staging, manifest = staged
    uri = publish_version(staging, manifest, str(tmp_path / "models"))
    mode = (tmp_path / "models" / manifest.version / "model.tflite").stat().st_mode
    assert mode & 0o044 == 0o044
    saved = json.loads((tmp_path / "models" / manifest.version / MANIFEST_NAME).read_text())
    assert saved == manifest.as_dict()
    shutil.rmtree(uri)


def test_newest_version_is_the_newest_of_that_arch_and_quantization(staged, tmp_path):
    """What ``make run`` and the load-test stack reuse instead of training again."""
    staging, manifest = staged
    base = str(tmp_path / "models")
    older = dataclasses.replace(manifest, version="20250101T000000Z-00000000")
    other = dataclasses.replace(manifest, arch="cnn" if manifest.arch != "cnn" else "mlp")
    publish_version(staging, older, base)
    publish_version(staging, other, base)
    assert newest_version(base, manifest.arch, manifest.quantized) == f"{base}/{older.version}"
    assert newest_version(base, other.arch, manifest.quantized) == f"{base}/{other.version}"
    assert (
        newest_version(base, manifest.arch, "int8" if manifest.quantized != "int8" else "none")
        is None
    )
