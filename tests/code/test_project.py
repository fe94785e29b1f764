"""Project hygiene: ruff clean, the serving set free of training packages, and the
contract's direction (model/ imports function/, never the other way round)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRAINING_ONLY = {
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "mlflow",
    "mlflow-skinny",
    "tf-keras",
    "matplotlib",
}


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_ruff_check_is_clean():
    result = ruff("check", ".")
    assert result.returncode == 0, result.stdout


def test_ruff_format_is_clean():
    result = ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout


def test_serving_set_resolves_without_training_packages(tmp_path):
    """pip resolves requirements/serving.txt (with the constraints) to no training package."""
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            "-r",
            "requirements/serving.txt",
            "-c",
            "requirements/constraints.txt",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    names = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert {"functions-framework", "ai-edge-litert", "numpy"} <= names
    assert not names & TRAINING_ONLY, names & TRAINING_ONLY


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "function").rglob("*.py")), ids=str)
def test_function_never_imports_training_code(path):
    assert not imported_modules(path) & {"model", "tensorflow", "keras", "mlflow"}


def test_every_pinned_package_is_in_the_constraints():
    pins = {}
    for line in (ROOT / "requirements/constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    for req in ("serving", "train", "dev"):
        for line in (ROOT / f"requirements/{req}.txt").read_text().splitlines():
            if "==" in line and not line.startswith("#"):
                name, version = line.split("==")
                assert pins.get(name.lower().replace("_", "-")) == version, line
