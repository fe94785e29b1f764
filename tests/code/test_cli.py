"""The command line: every bad input is one clear line on stderr, a non-zero exit and
nothing half-published; the happy path prints the version URI last."""

from __future__ import annotations

import numpy as np
import pytest

from scripts.local_stack import free_port
from tests.conftest import BUCKET, run_cli


def assert_one_line_error(result, code, fragment):
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]


@pytest.fixture
def store(tmp_path):
    return {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}


def test_missing_data_file(tmp_path, store):
    result = run_cli(
        "train",
        "--data",
        str(tmp_path / "none.npz"),
        "--publish",
        str(tmp_path / "models"),
        env=store,
    )
    assert_one_line_error(result, 1, "MNIST file not found")
    assert not any((tmp_path / "models").glob("*")) if (tmp_path / "models").exists() else True


def test_corrupt_data_file(tmp_path, store):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"garbage" * 100)
    result = run_cli("train", "--data", str(bad), "--publish", str(tmp_path / "models"), env=store)
    assert_one_line_error(result, 1, "cannot read MNIST")


def test_data_path_from_environment(tmp_path, store):
    result = run_cli(
        "train",
        "--publish",
        str(tmp_path / "models"),
        env={**store, "MNIST_PATH": str(tmp_path / "env.npz")},
    )
    assert_one_line_error(result, 1, "env.npz")


def test_unknown_bucket(emulator, mnist_path, store):
    result = run_cli("train", "--data", mnist_path, "--publish", "gs://no-such-bucket/m", env=store)
    assert_one_line_error(result, 3, "no-such-bucket")


def test_unreachable_storage(mnist_path, store):
    port = free_port()  # nothing listens there
    result = run_cli(
        "train",
        "--data",
        mnist_path,
        "--publish",
        f"gs://{BUCKET}/m",
        env={
            **store,
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}",
            "STORAGE_TIMEOUT_SECONDS": "1",
        },
    )
    assert_one_line_error(result, 3, "cannot reach")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["train", "--epochs", "0"], "must be > 0"),
        (["train", "--arch", "resnet"], "invalid choice"),
        (["train", "--dropout", "1.5"], "must be in [0, 1)"),
        (["train", "--bogus"], "unrecognized arguments"),
        (["frobnicate"], "invalid choice"),
        (["clean", "models", "--grace-seconds", "-1"], "must be >= 0"),
    ],
)
def test_bad_flags(args, fragment):
    assert_one_line_error(run_cli(*args), 2, fragment)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"DIGITRUN_EPOCHS": "ten"}, "--epochs: invalid int value"),
        ({"DIGITRUN_EPOCHS": "0"}, "--epochs: must be > 0"),
        ({"DIGITRUN_ARCH": "resnet"}, "--arch: invalid choice"),
        ({"DIGITRUN_DROPOUT": "1.5"}, "--dropout: must be in [0, 1)"),
        ({"DIGITRUN_QUANTIZE": "fp16"}, "--quantize: invalid choice: 'fp16'"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
    ],
)
def test_bad_environment_values_are_validated_like_flags(env, fragment):
    assert_one_line_error(run_cli("train", env=env), 2, fragment)


def test_evaluate_missing_version(tmp_path, mnist_path):
    result = run_cli("evaluate", str(tmp_path / "20260101T000000Z-00000000"), "--data", mnist_path)
    assert_one_line_error(result, 1, "no manifest.json")


def test_evaluate_a_float_version(published_version, mnist_path):
    """The suite's version serves its float file (``--quantize none``): one accuracy line,
    naming the file it measured as the served one."""
    import json

    result = run_cli("evaluate", str(published_version), "--data", mnist_path)
    assert result.returncode == 0, result.stderr
    accuracy = json.loads((published_version / "manifest.json").read_text())["metrics"]
    expected = f"{accuracy['test_accuracy']:.4f}"
    assert f"accuracy (model.tflite, served, 10000 test images): {expected}" in result.stdout
    assert "int8" not in result.stdout


def test_evaluate_tampered_version(published_version, tmp_path, mnist_path):
    import shutil

    copy = tmp_path / published_version.name
    shutil.copytree(published_version, copy)
    flat = bytearray((copy / "model.tflite").read_bytes())
    flat[-100] ^= 0xFF
    (copy / "model.tflite").write_bytes(bytes(flat))
    result = run_cli("evaluate", str(copy), "--data", mnist_path)
    assert_one_line_error(result, 1, "model.tflite: sha256")


def test_evaluate_with_other_test_data(published_version, tmp_path, mnist_path):
    with np.load(mnist_path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["y_test"] = (arrays["y_test"] + 1) % 10
    other = tmp_path / "other.npz"
    np.savez(other, **arrays)
    result = run_cli("evaluate", str(published_version), "--data", str(other))
    assert_one_line_error(result, 1, "y_test")


def test_list_unknown_directory(tmp_path):
    result = run_cli("list", str(tmp_path / "nothing"))
    assert_one_line_error(result, 3, "does not exist")


def test_clean_unknown_directory(tmp_path):
    result = run_cli("clean", str(tmp_path / "nothing"), "--grace-seconds", "0")
    assert_one_line_error(result, 3, "does not exist")
