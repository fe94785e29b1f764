"""The release gate (``python -m model check``): reads the manifest only, refuses a version
under the accuracy floor or an incomplete one, with one line and an exit code."""

from __future__ import annotations

import json
import shutil

import pytest

from function.contract.errors import ManifestError
from model.cli import main
from model.errors import ReleaseError
from model.release import check_release
from tests.code.test_contract_types import OLD_MANIFEST

ACCURACY = json.loads(OLD_MANIFEST.read_text())["metrics"]["test_accuracy"]


@pytest.fixture
def version(tmp_path):
    """A version folder holding only its manifest: the gate reads nothing else."""
    folder = tmp_path / json.loads(OLD_MANIFEST.read_text())["version"]
    folder.mkdir()
    shutil.copy(OLD_MANIFEST, folder / "manifest.json")
    return folder


def test_a_version_at_the_floor_passes(version):
    assert check_release(str(version), ACCURACY).metrics.test_accuracy == ACCURACY


def test_a_version_under_the_floor_is_refused(version):
    with pytest.raises(ReleaseError, match="under the release floor"):
        check_release(str(version), ACCURACY + 1e-4)


def test_an_incomplete_version_is_refused(version):
    (version / "manifest.json").unlink()
    with pytest.raises(ManifestError, match=r"no manifest\.json"):
        check_release(str(version), 0.0)


def test_the_command_line(version, capsys, monkeypatch):
    monkeypatch.delenv("DIGITRUN_MIN_ACCURACY", raising=False)
    assert main(["check", str(version), "--min-accuracy", str(ACCURACY)]) == 0
    assert capsys.readouterr().out.startswith("release OK: ")
    assert main(["check", str(version), "--min-accuracy", "0.99"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "refusing to deploy" in err and err.count("\n") == 1
    monkeypatch.setenv("DIGITRUN_MIN_ACCURACY", "0.5")
    assert main(["check", str(version)]) == 0
    with pytest.raises(SystemExit) as usage:
        main(["check", str(version), "--min-accuracy", "1.5"])
    assert usage.value.code == 2
