"""The artifact contract: version ids, manifests, checksums."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from function.contract.checksums import describe_files, verify_directory
from function.contract.errors import ChecksumMismatchError, ManifestError
from function.contract.manifest import Manifest, is_version_id, make_version_id
from function.contract.spec import SPEC


@pytest.fixture
def version_dir(tmp_path):
    (tmp_path / "model.tflite").write_bytes(b"flatbuffer bytes")
    (tmp_path / "model.keras").write_bytes(b"keras zip")
    return tmp_path


def minimal_manifest(files):
    """The smallest valid manifest (the JSON form, as manifest.json holds it)."""
    return {
        "schema": 1,
        "name": "digitrun-mnist",
        "version": make_version_id(files),
        "created_at": "2026-01-01T00:00:00Z",
        "arch": "mlp",
        "hyperparameters": {},
        "dataset": DATASET,
        "metrics": {"test_accuracy": 0.9},
        "class_prior": [0.1] * 10,
        "input": SPEC.input.as_dict(),
        "output": SPEC.output.as_dict(),
        "files": files,
        "frameworks": {},
    }


DATASET = {
    "source": "test",
    "fingerprint": "0" * 64,
    "sha256": {},
    "train_examples": 0,
    "test_examples": 0,
}


def test_version_ids_sort_by_time_and_name_content(version_dir):
    files = describe_files(version_dir, ["model.tflite", "model.keras"])
    early = make_version_id(files, datetime(2026, 1, 1, tzinfo=UTC))
    late = make_version_id(files, datetime(2026, 1, 2, tzinfo=UTC))
    assert early < late
    assert is_version_id(early) and early.startswith("20260101T000000Z-")
    assert early.split("-")[1] == late.split("-")[1]
    (version_dir / "model.tflite").write_bytes(b"other bytes")
    other = make_version_id(
        describe_files(version_dir, ["model.tflite", "model.keras"]),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert other != early


def test_describe_files_records_size_and_sha256(version_dir):
    table = describe_files(version_dir, ["model.tflite"])
    assert table["model.tflite"]["size"] == len(b"flatbuffer bytes")
    assert len(table["model.tflite"]["sha256"]) == 64


def test_manifest_round_trip_and_verification(version_dir):
    manifest = minimal_manifest(describe_files(version_dir, ["model.tflite", "model.keras"]))
    parsed = Manifest.parse(json.dumps(manifest).encode())
    verify_directory(version_dir, parsed)


@pytest.mark.parametrize("change", ["content", "size", "missing"])
def test_verification_catches_tampering(version_dir, change):
    manifest = minimal_manifest(describe_files(version_dir, ["model.tflite", "model.keras"]))
    target = version_dir / "model.tflite"
    if change == "content":
        target.write_bytes(b"flatbuffer bytez")  # same size, other bytes
    elif change == "size":
        target.write_bytes(b"longer flatbuffer bytes")
    else:
        target.unlink()
    with pytest.raises(ChecksumMismatchError, match=r"model\.tflite"):
        verify_directory(version_dir, Manifest.from_dict(manifest))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.pop("files"), "lacks field"),
        (lambda m: m.update(version="latest"), "not a version id"),
        (lambda m: m.update(schema=99), "schema"),
        (lambda m: m["files"].pop("model.tflite"), "model.tflite"),
        (lambda m: m.update(class_prior=[1.0]), "class_prior"),
        (lambda m: m["files"].update({"../x": {"size": 1, "sha256": "0"}}), "invalid file"),
    ],
)
def test_invalid_manifests_are_refused(version_dir, mutate, message):
    manifest = minimal_manifest(describe_files(version_dir, ["model.tflite"]))
    mutate(manifest)
    with pytest.raises(ManifestError, match=message):
        Manifest.parse(json.dumps(manifest).encode())


def test_not_json_is_refused():
    with pytest.raises(ManifestError, match="not valid JSON"):
        Manifest.parse(b"{nope")
