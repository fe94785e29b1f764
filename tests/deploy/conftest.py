"""Shared helpers for the delivery tests: where the project and its offline tools live, and
one way to fail (never skip) when a tool is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "terraform"
NODE_MODULES = ROOT / "node_modules"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
TOOLS_TARGET = "deploy-tools"


def require_tool(path: Path | str, target: str = TOOLS_TARGET) -> Path:
    """``path`` (a file, or a command looked up on PATH) or a test failure naming the make
    target that installs it."""
    candidate = Path(path)
    if candidate.is_absolute() or len(candidate.parts) > 1:
        found = candidate if candidate.exists() else None
    else:
        located = shutil.which(str(path))
        found = Path(located) if located else None
    if found is None:
        pytest.fail(f"{path} is missing: run `make {target}`", pytrace=False)
    return found


@pytest.fixture(scope="session")
def terraform_bin() -> Path:
    return require_tool("terraform")


@pytest.fixture(scope="session")
def node_modules() -> Path:
    require_tool(NODE_MODULES / "@cdktf" / "provider-google" / "package.json")
    return NODE_MODULES
