"""The real images, built here from the unchanged Dockerfile with podman (no Docker engine,
no registry: the base is a debootstrap stand-in imported under the exact FROM name, see
scripts/image.py), and run as Cloud Run runs them.

The serving image: its own non-root user, ``PORT`` set, a read-only root filesystem with a
tmpfs /tmp, the published version mounted read-only where Terraform mounts the bucket
(``MODEL_URI=/mnt/models/models/<version>``), reached on the host's loopback. Every
protocol answers real digits correctly, the start-up logs no ERROR, SIGTERM stops it
within 10 s. The ``train`` target trains and publishes offline as its non-root user.
The image sizes, start-to-ready time and every step's wall time are printed (pytest -s)
and written to ``report.json`` in the test's temporary directory.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from client.v2 import binary_request, read_outputs
from function.contract.spec import SPEC
from scripts import demo_requests
from scripts.image import (
    PODMAN,
    SERVING_TAG,
    STOP_TIMEOUT,
    TRAIN_TAG,
    ULIMITS,
    Container,
    ImageError,
    Timings,
    base_image,
    build,
    confident_digits,
    ensure_base,
    inspect,
    problem_lines,
    serving_container,
)

pytestmark = pytest.mark.slow

USER = "10001"
SERVING_CMD = ["functions-framework", "--asgi", "--target=serve", "--source=function/main.py"]
TRAIN_ENTRYPOINT = ["python", "-m", "model", "train"]
# The serving venv + function/ over the base; TensorFlow alone would add more than 1 GB.
MAX_SERVING_LAYERS_MB = 350
MAX_READY_SECONDS = 10.0


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Figures the tests collect; printed and written as JSON when the module ends."""
    figures: dict = {"timings": {}}
    yield figures
    path = tmp_path_factory.mktemp("image") / "report.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    shown = {key: value for key, value in figures.items() if key != "start_log"}
    print(f"\ncontainer images ({path}):\n{json.dumps(shown, indent=2)}")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("image-logs")


def built(report: dict, logs: Path, tag: str, target: str | None = None) -> dict:
    """The stand-in base (made or reused), then the image built; its inspect data."""
    timings = Timings()
    try:
        with timings.step("base image"):
            done = ensure_base(timings, quiet=True)
        build(timings, tag, target, log_path=logs / f"build-{target or 'serving'}.log")
    except ImageError as exc:
        pytest.fail(str(exc))
    report.setdefault("base", f"{base_image()}: {done}")  # what the first build found
    for step, seconds in timings.steps.items():
        report["timings"].setdefault(step, seconds)
    return inspect(tag)


@pytest.fixture(scope="module")
def serving_image(report: dict, logs: Path) -> dict:
    info = built(report, logs, SERVING_TAG)
    report["serving_size_mb"] = round(info["Size"] / 1e6, 1)
    report["base_size_mb"] = round(inspect(base_image())["Size"] / 1e6, 1)
    return info


@pytest.fixture(scope="module")
def container(
    serving_image: dict, published_version: Path, report: dict, logs: Path
) -> Iterator[Container]:
    with serving_container(published_version, logs / "serving.log", SERVING_TAG) as running:
        report["ready_seconds"] = running.ready_seconds
        report["start_log"] = running.log().splitlines()
        yield running


@pytest.fixture(scope="module")
def digits(mnist_path: str, published_version: Path) -> list[tuple[np.ndarray, int]]:
    """One real test digit per class that the published model gets right with confidence."""
    picked = confident_digits(published_version, mnist_path)
    assert len(picked) >= 8, f"the model is sure of only {[label for _, label in picked]}"
    return picked


def test_the_serving_image_is_the_last_stage_small_and_non_root(serving_image, report):
    config = serving_image["Config"]
    assert config.get("User") == USER, config.get("User")
    assert config.get("Cmd") == SERVING_CMD
    assert not config.get("Entrypoint")
    added = report["serving_size_mb"] - report["base_size_mb"]
    assert added < MAX_SERVING_LAYERS_MB, (
        f"the serving image is {report['serving_size_mb']} MB: {added:.0f} MB over the base"
    )


def test_it_runs_as_its_user_on_a_read_only_root(container):
    probe = container.exec(
        "python",
        "-c",
        "import os, pathlib, time, importlib.util as u\n"
        "print(os.getuid())\n"
        "print([m for m in ('tensorflow', 'keras', 'mlflow', 'model') if u.find_spec(m)])\n"
        "socket = pathlib.Path(os.environ['XDG_RUNTIME_DIR'], 'gunicorn.ctl')\n"
        "for _ in range(50):\n    if socket.exists():\n        break\n    time.sleep(0.05)\n"
        "print(socket.is_socket())\n"
        "try:\n    pathlib.Path('/app/probe').write_text('x')\n"
        "except OSError as e:\n    print(e.errno)\nelse:\n    print('writable')\n",
    )
    assert probe.returncode == 0, probe.stderr
    uid, training, control_socket, write = probe.stdout.split("\n")[:4]
    assert uid == USER
    assert training == "[]", f"training packages in the serving image: {training}"
    assert control_socket == "True", "gunicorn's control socket is not in XDG_RUNTIME_DIR"
    assert write == "30", f"/app is not read-only (EROFS): {write}"


def test_it_starts_without_error_and_loads_the_mounted_version(
    container, published_version, report
):
    start = container.log()  # the start-up's threads (gunicorn's control socket) included
    assert problem_lines(start) == [], start
    loaded = [
        line for line in container.server.json_lines() if line.get("message", "").endswith("loaded")
    ]
    assert loaded, start
    assert loaded[0]["model_uri"] == f"/mnt/models/models/{published_version.name}"
    assert report["ready_seconds"] < MAX_READY_SECONDS, (
        f"start to ready took {report['ready_seconds']} s"
    )


@pytest.mark.parametrize("protocol", list(demo_requests.PROTOCOLS))
def test_every_protocol_answers_real_digits(container, digits, protocol):
    send = demo_requests.PROTOCOLS[protocol]
    answers = [send(container.url, image) for image, _ in digits]
    assert answers == [label for _, label in digits]


def test_a_v2_binary_uint8_batch_answers_every_digit(container, digits):
    images = np.stack([image for image, _ in digits])
    outputs = [{"name": SPEC.output.name, "parameters": {"binary_data": True}}]
    body, headers = binary_request(images, "UINT8", outputs)
    content_type = headers.pop("Content-Type")
    answer_headers, answer = demo_requests.post(
        f"{container.url}/v2/models/mnist/infer", body, content_type, headers
    )
    probabilities = read_outputs(answer, answer_headers)[SPEC.output.name]
    assert probabilities.argmax(axis=1).tolist() == [label for _, label in digits]


def test_sigterm_stops_it_within_10_seconds(container, report):
    """Last of the serving tests: it stops the module's container."""
    seconds, code = container.terminate(STOP_TIMEOUT)
    report["stop_seconds"] = seconds
    log = container.log()
    assert code == 0, f"exit code {code} {seconds} s after SIGTERM:\n{log}"
    assert seconds < STOP_TIMEOUT, f"{seconds} s from SIGTERM to exit"
    assert problem_lines(log) == [], log


@pytest.mark.train_image
def test_the_train_target_trains_and_publishes_offline(mnist_path, report, logs, tmp_path):
    info = built(report, logs, TRAIN_TAG, "train")
    report["train_size_mb"] = round(info["Size"] / 1e6, 1)
    assert info["Config"].get("User") == USER
    assert info["Config"].get("Entrypoint") == TRAIN_ENTRYPOINT
    out = tmp_path / "models"
    out.mkdir()
    out.chmod(0o777)  # written by the image's user
    timings = Timings()
    with timings.step("train run"):
        result = subprocess.run(
            [
                *PODMAN,
                "run",
                "--rm",
                "--network=none",
                *ULIMITS,
                f"--volume={Path(mnist_path).resolve()}:/data/mnist.npz:ro",
                f"--volume={out}:/out",
                TRAIN_TAG,
                *("--arch", "mlp", "--epochs", "1", "--limit", "2000", "--seed", "0"),
                *("--data", "/data/mnist.npz", "--publish", "/out", "--quantize", "none"),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    report["timings"].update(timings.steps)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    version = result.stdout.strip().splitlines()[-1]
    assert version.startswith("/out/"), result.stdout[-2000:]
    published = out / Path(version).name
    assert {p.name for p in published.iterdir()} >= {"manifest.json", "model.tflite"}
    assert published.stat().st_uid == int(USER)
