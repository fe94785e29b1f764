"""The manifest: the typed record that joins the training job and the serving function.

A published model *version* is a folder named by a sortable id (UTC timestamp + short
content hash) holding the model files and a ``manifest.json``. The manifest is written
last and is the only proof that a version is complete: it lists every file with its size
and sha256, the tensor spec, the metrics, the class prior of the training labels and the
provenance of the model. ``runtime.file`` names the file the function serves: the float
``model.tflite`` (manifests older than quantization: always), or an int8 quantization of it
(``function.contract.quantization``). The training job writes it through :class:`Manifest`
and both sides read it back through the same type; nothing here imports TensorFlow or MLflow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from function.contract.checksums import sha256_bytes
from function.contract.errors import ManifestError
from function.contract.quantization import NONE, Quantization, parse_quantization
from function.contract.spec import SPEC, InputSpec, OutputSpec, TensorSpec

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1
MODEL_NAME = "digitrun-mnist"
SERVED_FILE = "model.tflite"  # the float LiteRT file: every version has one
INT8_FILE = "model-int8.tflite"
SOURCE_FILE = "model.keras"
ENGINE = "litert"

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


@dataclass(frozen=True)
class FileEntry:
    """One file of a version: its size in bytes and its sha256 (hex)."""

    size: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class DatasetInfo:
    """The data a model was trained and measured on (sha256 of each raw array)."""

    source: str
    fingerprint: str
    sha256: dict[str, str]
    train_examples: int
    test_examples: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "fingerprint": self.fingerprint,
            "sha256": dict(self.sha256),
            "train_examples": self.train_examples,
            "test_examples": self.test_examples,
        }


@dataclass(frozen=True)
class Metrics:
    """Test-set metrics of the Keras model (LiteRT reproduces them: parity)."""

    test_accuracy: float
    test_loss: float | None = None
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "test_accuracy": self.test_accuracy,
            "test_loss": self.test_loss,
            "per_class": self.per_class,
        }


@dataclass(frozen=True)
class Manifest:
    """Everything a version promises; ``files`` names every file with size and sha256."""

    version: str
    created_at: str
    arch: str
    hyperparameters: dict[str, Any]
    dataset: DatasetInfo
    metrics: Metrics
    class_prior: tuple[float, ...]
    files: dict[str, FileEntry]
    frameworks: dict[str, str]
    spec: TensorSpec = SPEC
    engine: str = ENGINE
    git_commit: str | None = None
    parity: dict[str, Any] | None = None
    mlflow: dict[str, Any] | None = None
    name: str = MODEL_NAME
    schema: int = SCHEMA_VERSION
    served_file: str = SERVED_FILE
    quantization: Quantization | None = None

    def __post_init__(self) -> None:
        if self.served_file not in self.files:
            raise ManifestError(f"manifest.json does not list its served file {self.served_file}")
        if (self.served_file == SERVED_FILE) != (self.quantization is None):
            raise ManifestError(
                f"manifest.json serves {self.served_file} with quantization {self.quantized!r}: "
                f"the float file is {SERVED_FILE}, a quantized one has another name"
            )

    @property
    def served(self) -> FileEntry:
        """The entry of the file the function serves (``runtime.file``)."""
        return self.files[self.served_file]

    @property
    def quantized(self) -> str:
        """``none`` (the float file is served) or the served file's quantization."""
        return self.quantization.mode if self.quantization else NONE

    @property
    def served_accuracy(self) -> float:
        """Test accuracy of the served file (the quantized one's when it is quantized)."""
        if self.quantization is not None:
            return self.quantization.test_accuracy
        return self.metrics.test_accuracy

    def as_dict(self) -> dict[str, Any]:
        """The JSON object written as ``manifest.json``."""
        return {
            "schema": self.schema,
            "name": self.name,
            "version": self.version,
            "created_at": self.created_at,
            "git_commit": self.git_commit,
            "arch": self.arch,
            "hyperparameters": self.hyperparameters,
            "dataset": self.dataset.as_dict(),
            "metrics": self.metrics.as_dict(),
            "class_prior": list(self.class_prior),
            "input": self.spec.input.as_dict(),
            "output": self.spec.output.as_dict(),
            "runtime": {
                "file": self.served_file,
                "engine": self.engine,
                "quantization": self.quantized,
            },
            "quantization": self.quantization.as_dict() if self.quantization else None,
            "parity": self.parity,
            "files": {name: entry.as_dict() for name, entry in sorted(self.files.items())},
            "frameworks": self.frameworks,
            "mlflow": self.mlflow,
        }

    def dump(self) -> bytes:
        """Serialise the manifest the one way it is written everywhere."""
        return (json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        """Parse and validate ``manifest.json``'s bytes; ManifestError when it is not one."""
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"manifest.json is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Validate a manifest's JSON object (any version of schema 1) into the type."""
        _check_fields(data)
        try:
            runtime = _mapping(data.get("runtime") or {}, "runtime")
            return cls(
                version=str(data["version"]),
                created_at=str(data["created_at"]),
                arch=str(data["arch"]),
                hyperparameters=dict(_mapping(data["hyperparameters"], "hyperparameters")),
                dataset=_dataset(data["dataset"]),
                metrics=_metrics(data["metrics"]),
                class_prior=tuple(float(p) for p in data["class_prior"]),
                files=file_entries(data["files"]),
                frameworks=dict(_mapping(data["frameworks"], "frameworks")),
                spec=TensorSpec(
                    InputSpec.from_dict(data["input"]), OutputSpec.from_dict(data["output"])
                ),
                engine=str(runtime.get("engine", ENGINE)),
                git_commit=data.get("git_commit"),
                parity=data.get("parity"),
                mlflow=data.get("mlflow"),
                name=str(data["name"]),
                schema=int(data["schema"]),
                served_file=str(runtime.get("file", SERVED_FILE)),
                quantization=parse_quantization(runtime, data.get("quantization")),
            )
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ManifestError(f"manifest.json has a malformed field: {exc}") from exc


def _check_fields(data: Any) -> None:
    if not isinstance(data, dict):
        raise ManifestError("manifest.json must hold a JSON object")
    missing = [name for name in REQUIRED_FIELDS if name not in data]
    if missing:
        raise ManifestError(f"manifest.json lacks field(s): {', '.join(missing)}")
    if data["schema"] != SCHEMA_VERSION:
        raise ManifestError(f"manifest schema {data['schema']!r} is not {SCHEMA_VERSION}")
    if not is_version_id(str(data["version"])):
        raise ManifestError(f"manifest version {data['version']!r} is not a version id")
    prior = data["class_prior"]
    if not (isinstance(prior, list) and len(prior) == SPEC.output.classes):
        raise ManifestError(f"manifest class_prior must list {SPEC.output.classes} numbers")


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ManifestError(f"manifest {what} must be an object")
    return value


def file_entries(value: Any) -> dict[str, FileEntry]:
    """The typed ``files`` table from its JSON form (``describe_files``' output)."""
    if not isinstance(value, dict) or SERVED_FILE not in value:
        raise ManifestError(f"manifest.json lists no {SERVED_FILE}")
    files = {}
    for name, entry in value.items():
        if "/" in name or name in {"", ".", "..", MANIFEST_NAME}:
            raise ManifestError(f"manifest.json lists an invalid file name {name!r}")
        if not isinstance(entry, dict) or not {"size", "sha256"} <= entry.keys():
            raise ManifestError(f"manifest entry for {name!r} needs size and sha256")
        files[name] = FileEntry(int(entry["size"]), str(entry["sha256"]))
    return files


def _dataset(value: Any) -> DatasetInfo:
    data = _mapping(value, "dataset")
    return DatasetInfo(
        source=str(data["source"]),
        fingerprint=str(data["fingerprint"]),
        sha256=dict(_mapping(data["sha256"], "dataset sha256")),
        train_examples=int(data["train_examples"]),
        test_examples=int(data["test_examples"]),
    )


def _metrics(value: Any) -> Metrics:
    data = _mapping(value, "metrics")
    loss = data.get("test_loss")
    return Metrics(
        test_accuracy=float(data["test_accuracy"]),
        test_loss=None if loss is None else float(loss),
        per_class=dict(data.get("per_class") or {}),
    )


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
