"""The artifact contract shared by the training job and the serving function.

A published model *version* is a folder named by a sortable id (UTC timestamp + short
content hash) holding the model files and a ``manifest.json``. The manifest is written
last and is the only proof that a version is complete: it lists every file with its size
and sha256, the input spec, the metrics, the class prior of the training labels and the
provenance of the model. Nothing here imports TensorFlow or MLflow: the serving image
carries this module, and ``model/`` imports it from here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from function.errors import ChecksumMismatchError, ManifestError

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1
MODEL_NAME = "digitrun-mnist"
SERVED_FILE = "model.tflite"
SOURCE_FILE = "model.keras"
NUM_CLASSES = 10
IMAGE_PIXELS = 784

VERSION_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
REQUIRED_FIELDS = (
    "schema",
    "name",
    "version",
    "created_at",
    "arch",
    "hyperparameters",
    "dataset",
    "metrics",
    "class_prior",
    "input",
    "output",
    "files",
    "frameworks",
)
_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of a byte string."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def describe_files(directory: Path, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The manifest's ``files`` table: size and sha256 of each named file."""
    table: dict[str, dict[str, Any]] = {}
    for name in sorted(names):
        path = directory / name
        table[name] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    return table


def content_hash(files: Mapping[str, Mapping[str, Any]]) -> str:
    """Short hash naming the content of a version: the sha256 of its files' table."""
    canonical = json.dumps(
        {name: entry["sha256"] for name, entry in sorted(files.items())}, sort_keys=True
    )
    return sha256_bytes(canonical.encode())[:8]


def make_version_id(files: Mapping[str, Mapping[str, Any]], now: datetime | None = None) -> str:
    """A sortable version id: ``YYYYMMDDTHHMMSSZ-<8 hex of the content hash>``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{content_hash(files)}"


def is_version_id(name: str) -> bool:
    """True when ``name`` has the shape of a version id."""
    return bool(VERSION_RE.match(name))


def dump_manifest(manifest: Mapping[str, Any]) -> bytes:
    """Serialise a manifest the one way it is written everywhere."""
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


def parse_manifest(raw: bytes) -> dict[str, Any]:
    """Parse and validate a manifest; raise ManifestError when it is not one."""
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"manifest.json is not valid JSON: {exc}") from exc
    validate_manifest(manifest)
    return manifest


def validate_manifest(manifest: Any) -> None:
    """Check the fields every consumer relies on; raise ManifestError otherwise."""
    if not isinstance(manifest, dict):
        raise ManifestError("manifest.json must hold a JSON object")
    missing = [field for field in REQUIRED_FIELDS if field not in manifest]
    if missing:
        raise ManifestError(f"manifest.json lacks field(s): {', '.join(missing)}")
    if manifest["schema"] != SCHEMA_VERSION:
        raise ManifestError(f"manifest schema {manifest['schema']!r} is not {SCHEMA_VERSION}")
    if not is_version_id(str(manifest["version"])):
        raise ManifestError(f"manifest version {manifest['version']!r} is not a version id")
    files = manifest["files"]
    if not isinstance(files, dict) or SERVED_FILE not in files:
        raise ManifestError(f"manifest.json lists no {SERVED_FILE}")
    for name, entry in files.items():
        if "/" in name or name in {"", ".", "..", MANIFEST_NAME}:
            raise ManifestError(f"manifest.json lists an invalid file name {name!r}")
        if not isinstance(entry, dict) or not {"size", "sha256"} <= entry.keys():
            raise ManifestError(f"manifest entry for {name!r} needs size and sha256")
    prior = manifest["class_prior"]
    if not (isinstance(prior, list) and len(prior) == NUM_CLASSES):
        raise ManifestError(f"manifest class_prior must list {NUM_CLASSES} numbers")


def verify_file(path: Path, name: str, entry: Mapping[str, Any]) -> None:
    """Check one downloaded file against its manifest entry."""
    if not path.is_file():
        raise ChecksumMismatchError(f"{name}: listed in the manifest but missing")
    size = path.stat().st_size
    if size != entry["size"]:
        raise ChecksumMismatchError(f"{name}: size {size} != manifest {entry['size']}")
    actual = sha256_file(path)
    if actual != entry["sha256"]:
        raise ChecksumMismatchError(
            f"{name}: sha256 {actual[:12]}… != manifest {str(entry['sha256'])[:12]}…"
        )


def verify_directory(directory: Path, manifest: Mapping[str, Any]) -> None:
    """Check every file the manifest lists against the copies in ``directory``."""
    for name, entry in manifest["files"].items():
        verify_file(directory / name, name, entry)
