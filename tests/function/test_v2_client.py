"""The standard V2 client (tritonclient.http) works against the server unchanged.

tritonclient pins ml-dtypes below the version TensorFlow's stack here uses, so it may live
in its own venv: TRITONCLIENT_PYTHON names that interpreter. Without it, the test runs the
client in this interpreter when tritonclient is importable, and is skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("triton_check.py")


def client_python() -> str:
    configured = os.environ.get("TRITONCLIENT_PYTHON")
    if configured:
        return configured
    if importlib.util.find_spec("tritonclient") is not None:
        return sys.executable
    pytest.skip("tritonclient[http] not installed (set TRITONCLIENT_PYTHON to a venv with it)")


def test_tritonclient_http_works_unchanged(server, digits, reference, manifest, tmp_path):
    python = client_python()
    x, _ = digits
    np.save(tmp_path / "images.npy", x[:6])
    result = subprocess.run(
        [
            python,
            str(SCRIPT),
            f"127.0.0.1:{server.port}",
            manifest["version"],
            str(tmp_path / "images.npy"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)
    assert out["live"] and out["ready"] and out["model_ready"] and out["model_ready_version"]
    assert "binary_tensor_data" in out["server"]["extensions"]
    assert out["metadata"]["versions"] == [manifest["version"]]
    expected = reference(x[:6])
    for key in ("True", "False"):
        run = out["runs"][key]
        assert run["id"] == f"req-{key}"
        np.testing.assert_array_equal(np.float32(run["probabilities"]), expected)
        assert run["prediction"] == expected.argmax(axis=1).tolist()
    assert out["runs"]["uint8"]["prediction"] == expected.argmax(axis=1).tolist()
    assert "unexpected inference input 'pixels'" in out["error"]
