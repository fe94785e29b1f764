"""The Dockerfile: hadolint-clean; its serving (last) stage carries only function/ and the
serving venv, and its start command run as a plain process the way the image lays things
out — only function/ copied, only the serving venv installed (no TensorFlow, no MLflow) —
serves a real prediction and logs no error; its `train` stage (not the last) carries the
training code. The images themselves are built and run by tests/deploy/test_image.py."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from scripts.local_stack import ROOT, free_port

DOCKERFILE = ROOT / "Dockerfile"


def serving_python() -> Path:
    configured = os.environ.get("SERVING_PYTHON")
    if not configured:
        pytest.fail("set SERVING_PYTHON to .venv-serving/bin/python (make test does)")
    return Path(configured)


def final_stage() -> str:
    return DOCKERFILE.read_text().split("\nFROM ")[-1]


def stage_names() -> list[str]:
    return re.findall(r"^FROM \S+(?: AS (\S+))?$", DOCKERFILE.read_text(), re.MULTILINE)


def stage(name: str) -> str:
    for text in DOCKERFILE.read_text().split("\nFROM ")[1:]:
        if text.splitlines()[0].endswith(f" AS {name}"):
            return text
    raise AssertionError(f"no stage {name} in the Dockerfile")


def image_cmd() -> list[str]:
    match = re.search(r"^CMD (\[.*\])$", final_stage(), re.MULTILINE)
    assert match, "the final stage has an exec-form CMD"
    return json.loads(match.group(1))


def image_env() -> dict[str, str]:
    block = re.search(r"^ENV (.*?)(?:\n(?!\s)|\Z)", final_stage(), re.MULTILINE | re.DOTALL)
    assert block
    words = shlex.split(block.group(1).replace("\\\n", " "))
    return dict(word.split("=", 1) for word in words)


def test_hadolint_is_clean():
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_carries_no_training_code():
    stage = final_stage()
    copies = re.findall(r"^COPY (?!--from)(\S+)", stage, re.MULTILINE)
    assert copies == ["function/"]
    assert "requirements/serving.txt" in DOCKERFILE.read_text()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ignored[0] == "*" and "!function/" in ignored


def test_the_serving_stage_runs_as_a_non_root_user():
    users = re.findall(r"^USER (\S+)$", final_stage(), re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), users


def test_the_train_target_carries_the_training_code_and_is_not_last():
    names = stage_names()
    assert "train" in names and names[-1] != "train", names
    train = stage("train")
    copies = re.findall(r"^COPY (?!--from)(\S+)", train, re.MULTILINE)
    assert {"function/", "model/"} <= set(copies), copies
    assert re.search(r"-r requirements/train\.txt -c requirements/constraints\.txt", train)
    entrypoint = re.search(r"^ENTRYPOINT (\[.*\])$", train, re.MULTILINE)
    assert entrypoint, "the train stage has an exec-form ENTRYPOINT"
    assert json.loads(entrypoint.group(1)) == ["python", "-m", "model", "train"]
    users = re.findall(r"^USER (\S+)$", train, re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), users
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"!model/", "!requirements/train.txt"} <= set(ignored)


def test_serving_venv_has_no_training_packages():
    python = serving_python()
    for module in ("tensorflow", "keras", "mlflow", "model"):
        result = subprocess.run(
            [str(python), "-c", f"import {module}"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        assert result.returncode != 0, f"{module} is importable in the serving venv"


def test_start_command_serves_from_the_image_layout(published_version, tmp_path, mnist):
    app = tmp_path / "app"
    shutil.copytree(
        ROOT / "function", app / "function", ignore=shutil.ignore_patterns("__pycache__")
    )
    venv_bin = serving_python().parent
    env = {k: v for k, v in image_env().items() if k != "PATH"}
    env["PYTHONPATH"] = str(app)  # the image's /app
    port = free_port()
    env.update(
        PATH=f"{venv_bin}{os.pathsep}/usr/bin:/bin",
        PORT=str(port),
        MODEL_URI=str(published_version),
        HOME=str(tmp_path),
    )
    command = image_cmd()
    assert command[:2] == ["functions-framework", "--asgi"]
    process = subprocess.Popen(
        command, cwd=app, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read().decode(errors="replace")
            try:
                if requests.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "not ready within 30 s"
            time.sleep(0.05)
        image = mnist.x_test[0].tolist()
        answer = requests.post(f"{url}/predict", json={"image": image}, timeout=5)
        assert answer.status_code == 200, answer.text
        assert answer.json()["prediction"] == int(mnist.y_test[0])
    finally:
        process.terminate()
        process.wait(15)
    # e.g. gunicorn's control socket needs a writable XDG_RUNTIME_DIR (or home)
    output = process.stdout.read().decode(errors="replace")
    assert not re.search(r"\b(ERROR|CRITICAL|Traceback)\b", output), output
