"""The client against the real function (a child process serving the published test model):
every protocol answers what the served model answers, the accuracy floor in both directions,
the pipeline's smoke command as a real command line, a PNG and a JPEG file, a batch, and the
404s of a wrong model or path with the service's own words."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from client.auth import credentials
from client.cli import main
from client.digits import digit_png, load_digits
from client.errors import EXIT_BELOW_FLOOR, EXIT_ENDPOINT
from client.protocols import SENDERS
from client.runner import Endpoint, send
from client.transport import session
from function.contract.spec import SPEC
from function.inputs.images import image_to_pixels
from scripts.local_stack import ROOT

COUNT = 64  # more than one request for tfserving (64 per request) is not needed here


@pytest.fixture(scope="module")
def service(start_server) -> str:
    return start_server().url


@pytest.fixture(scope="module")
def endpoint(service: str):
    auth = credentials("never", service)
    with session(auth) as http:
        yield Endpoint(service, "mnist", 10.0, auth, http)


@pytest.fixture(scope="module")
def sample():
    return load_digits(None).select(0, COUNT)


def run_main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), env={}, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", ["predict", "v2-json", "v2-binary"])
def test_pixel_protocols_answer_what_the_served_model_answers(
    endpoint, sample, reference, manifest, name
):
    result = send(endpoint, SENDERS[name], sample.images)
    expected = reference(SPEC.input.scale(sample.images))
    assert np.array_equal(result.digits, expected.argmax(axis=1))
    assert np.allclose(result.confidences, expected.max(axis=1), atol=1e-6)
    assert result.model_versions == [manifest["version"]]
    assert all(seconds > 0 for seconds in result.latencies)


@pytest.mark.parametrize("name", ["predict-png", "tfserving"])
def test_png_protocols_answer_what_the_service_reads_from_the_png(
    endpoint, sample, reference, manifest, name
):
    pngs = [digit_png(image) for image in sample.images]
    result = send(endpoint, SENDERS[name], pngs)
    expected = reference(np.stack([image_to_pixels(png) for png in pngs]))
    assert np.array_equal(result.digits, expected.argmax(axis=1))
    assert np.allclose(result.confidences, expected.max(axis=1), atol=1e-6)
    assert len(result.exchanges) == (COUNT if name == "predict-png" else 1)
    assert result.model_versions == [manifest["version"]]


def expected_accuracy(reference, count: int) -> float:
    """The served model's lowest accuracy over the protocols on the sample's first ``count``
    digits: as pixels, and as the service reads the uploaded PNGs."""
    digits = load_digits(None).select(0, count)
    as_pixels = reference(SPEC.input.scale(digits.images)).argmax(axis=1)
    pngs = [image_to_pixels(digit_png(image)) for image in digits.images]
    as_png = reference(np.stack(pngs)).argmax(axis=1)
    return min(float(np.mean(answers == digits.labels)) for answers in (as_pixels, as_png))


def smoke(service: str, count: int, floor: float) -> subprocess.CompletedProcess:
    """The pipeline's smoke command, a real command line with the bundled sample."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGITRUN_", "MNIST_"))}
    argv = [sys.executable, "-m", "client", "--url", service, "--digits", str(count)]
    argv += ["--min-accuracy", f"{floor}", "--id-token", "auto"]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_the_pipelines_smoke_command_passes_at_the_models_accuracy(service, reference):
    floor = expected_accuracy(reference, 50)
    passed = smoke(service, 50, floor)
    assert passed.returncode == 0, passed.stderr
    assert passed.stderr == ""
    lines = passed.stdout.splitlines()
    assert lines[0].startswith("50 test digits #0-49 of the bundled sample → ")
    assert lines[0].endswith("no ID token sent (auto: not an https URL)")
    rows = lines[2:]
    assert [row.split()[0] for row in rows] == list(SENDERS)
    assert all(row.endswith("  ok") and float(row.split()[1]) >= floor for row in rows)


def test_the_pipelines_smoke_command_fails_under_the_floor(service, reference):
    accuracy = expected_accuracy(reference, 200)
    assert accuracy < 1.0  # the small test model misses some of 200 digits
    failed = smoke(service, 200, min(1.0, accuracy + 0.005))  # one digit more than it has
    assert failed.returncode == EXIT_BELOW_FLOOR
    assert failed.stderr.startswith("python -m client: accuracy under the floor ")
    assert failed.stderr.count("\n") == 1 and " on 200 digits: " in failed.stderr
    assert "UNDER THE FLOOR" in failed.stdout


def test_a_png_and_a_jpeg_file_through_the_image_protocols(service, sample, tmp_path):
    label = int(sample.labels[0])
    png = tmp_path / "digit.png"
    png.write_bytes(digit_png(sample.images[0]))
    jpeg = tmp_path / "digit.jpg"
    Image.fromarray(255 - sample.images[0]).resize((112, 112)).save(jpeg, "JPEG", quality=95)
    for path in (png, jpeg):
        code, out, err = run_main("--url", service, "--png", str(path))
        assert (code, err) == (0, "")
        lines = out.splitlines()
        assert lines[0].startswith(f"{path} → {service} · no ID token sent")
        assert [line.split()[:2] for line in lines[2:]] == [
            ["predict-png", str(label)],
            ["tfserving", str(label)],
        ]


def test_a_batch_prints_each_request(service, manifest):
    code, out, err = run_main("--url", service, "--batch", "3")
    assert (code, err) == (0, "")
    rows = [line.split()[:2] for line in out.splitlines()[2:-1]]
    assert rows == [
        ["predict", "1/1"],
        ["predict-png", "1/3"],
        ["predict-png", "2/3"],
        ["predict-png", "3/3"],
        ["tfserving", "1/1"],
        ["v2-json", "1/1"],
        ["v2-binary", "1/1"],
    ]
    assert out.splitlines()[-1] == f"model version: {manifest['version']}"


def test_one_digit_from_the_full_test_set(service, mnist_path, reference):
    digits = load_digits(mnist_path).select(9999, 1)
    expected = int(reference(SPEC.input.scale(digits.images)).argmax())
    code, out, _ = run_main("--url", service, "--digit", "9999", "--data", mnist_path)
    assert code == 0
    assert f"test digit #9999 of {mnist_path} (label {int(digits.labels[0])})" in out
    assert out.splitlines()[2].split()[:2] == ["predict", str(expected)]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--protocol", "v2-binary", "--model", "fashion"], "unknown model: 'fashion'"),
        (["--protocol", "tfserving", "--model", "fashion"], "Servable not found"),
    ],
)
def test_a_wrong_model_is_a_404_with_the_services_words(service, argv, said):
    code, _, err = run_main("--url", service, *argv)
    assert code == EXIT_ENDPOINT
    assert err.startswith("python -m client: error: HTTP 404 from POST ")
    assert "check --url (the service's base URL) and --model" in err and said in err


def test_a_url_with_a_wrong_path_is_a_404(service):
    code, _, err = run_main("--url", f"{service}/api", "--protocol", "predict")
    assert code == EXIT_ENDPOINT
    assert f"HTTP 404 from POST {service}/api/predict: not found" in err
