"""Building a version's manifest (:class:`function.contract.manifest.Manifest`) from what a
training run produced."""

from __future__ import annotations

import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from function.contract.checksums import describe_files
from function.contract.manifest import (
    INT8_FILE,
    SERVED_FILE,
    DatasetInfo,
    Manifest,
    Metrics,
    file_entries,
    make_version_id,
)
from function.contract.quantization import Quantization
from function.contract.spec import SPEC
from model.data import Dataset, class_prior

FRAMEWORKS = ("tensorflow-cpu", "keras", "ai-edge-litert", "numpy", "mlflow")


def git_commit(root: Path) -> str | None:
    """The checkout's commit (``+dirty`` when it has uncommitted changes), or None."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def framework_versions() -> dict[str, str]:
    """Installed versions of the packages that made the model, and Python's."""
    versions = {"python": platform.python_version()}
    for name in FRAMEWORKS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def build_manifest(
    *,
    directory: Path,
    files: list[str],
    arch: str,
    hyperparameters: dict[str, Any],
    data: Dataset,
    summary: dict[str, Any],
    parity: dict[str, Any],
    mlflow_info: dict[str, Any],
    git: str | None,
    quantization: Quantization | None = None,
    now: datetime | None = None,
) -> Manifest:
    """The manifest of the version whose ``files`` sit in ``directory``; it serves
    ``model-int8.tflite`` when ``quantization`` is given, ``model.tflite`` otherwise."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    table = describe_files(directory, files)
    return Manifest(
        version=make_version_id(table, moment),
        created_at=moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
        git_commit=git,
        arch=arch,
        hyperparameters=hyperparameters,
        dataset=DatasetInfo(
            source=data.source,
            fingerprint=data.fingerprint,
            sha256=data.sha256,
            train_examples=len(data.y_train),
            test_examples=len(data.y_test),
        ),
        metrics=Metrics(
            test_accuracy=summary["accuracy"],
            test_loss=summary["loss"],
            per_class=summary["per_class"],
        ),
        class_prior=tuple(class_prior(data.y_train)),
        spec=SPEC,
        parity=parity,
        files=file_entries(table),
        frameworks=framework_versions(),
        mlflow=mlflow_info,
        served_file=SERVED_FILE if quantization is None else INT8_FILE,
        quantization=quantization,
    )
