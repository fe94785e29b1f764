"""The client in-process: flags and their environment fallbacks, URL checks, the ID token
modes, the senders' requests and readers, the bundled digits, and every failure turned into
one line and an exit code (against a small HTTP stub on loopback: no service, no model)."""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import google.auth.exceptions
import numpy as np
import pytest
from PIL import Image

from client import report, v2
from client.auth import credentials, default_audience
from client.cli import main
from client.digits import SAMPLE, Digits, digit_png, load_digits
from client.errors import (
    EXIT_BELOW_FLOOR,
    EXIT_ENDPOINT,
    EXIT_USAGE,
    AuthError,
    UsageError,
)
from client.options import FLAGS, parse_options
from client.png import encode_gray, image_type
from client.protocols import PNG_SENDERS, SENDERS, Prediction
from client.runner import Exchange, Result, select_senders, under_floor
from client.transport import base_url
from scripts.local_stack import free_port

URL = "http://127.0.0.1:9"


# --- options ----------------------------------------------------------------------------


def test_flags_fall_back_on_their_environment_variables():
    env = {
        "DIGITRUN_URL": "https://svc.a.run.app",
        "DIGITRUN_DIGITS": "50",
        "DIGITRUN_MIN_ACCURACY": "0.95",
        "DIGITRUN_PROTOCOL": "predict,v2-binary",
        "MNIST_PATH": "/data/mnist.npz",
        "DIGITRUN_MODEL": "other",
        "DIGITRUN_TIMEOUT": "2.5",
        "DIGITRUN_ID_TOKEN": "always",
        "DIGITRUN_TOKEN": "tok",
        "DIGITRUN_AUDIENCE": "custom",
    }
    options = parse_options([], env)
    assert (options.url, options.mode, options.value) == ("https://svc.a.run.app", "digits", 50)
    assert options.min_accuracy == 0.95
    assert options.protocol == "predict,v2-binary"
    assert options.data == "/data/mnist.npz"
    assert (options.model, options.timeout) == ("other", 2.5)
    assert (options.id_token, options.token, options.audience) == ("always", "tok", "custom")


def test_every_flag_has_its_own_environment_variable():
    names = [flag.env for flag in FLAGS]
    assert len(set(names)) == len(names)
    assert all(name == "MNIST_PATH" or name.startswith("DIGITRUN_") for name in names)


def test_a_flag_wins_over_its_environment_variable():
    env = {"DIGITRUN_URL": "http://env", "DIGITRUN_TIMEOUT": "9", "DIGITRUN_BATCH": "4"}
    options = parse_options(["--url", "http://flag", "--timeout", "1", "--digits", "7"], env)
    assert (options.url, options.timeout) == ("http://flag", 1.0)
    assert (options.mode, options.value) == ("digits", 7)  # the env's mode is ignored


def test_defaults_are_one_digit_through_all_protocols_with_auto_token():
    options = parse_options(["--url", URL], {})
    assert (options.mode, options.value, options.protocol) == ("digit", 0, "all")
    assert (options.id_token, options.min_accuracy, options.timeout) == ("auto", 0.0, 30.0)
    assert options.data is None


def test_modes_exclude_each_other():
    with pytest.raises(UsageError, match="choose one of --png, --digit, --batch, --digits"):
        parse_options(["--url", URL, "--digit", "3", "--batch", "3"], {})
    with pytest.raises(UsageError, match="got batch, digits"):
        parse_options(["--url", URL], {"DIGITRUN_BATCH": "2", "DIGITRUN_DIGITS": "2"})


def test_missing_url_names_the_flag_and_the_variable():
    with pytest.raises(UsageError, match="give --url or set DIGITRUN_URL"):
        parse_options([], {})


@pytest.mark.parametrize(
    ("name", "value", "detail"),
    [
        ("DIGITRUN_TIMEOUT", "soon", "could not convert"),
        ("DIGITRUN_TIMEOUT", "0", "is not > 0"),
        ("DIGITRUN_MIN_ACCURACY", "95", "is not in 0..1"),
        ("DIGITRUN_DIGITS", "0", "is not >= 1"),
        ("DIGITRUN_ID_TOKEN", "sometimes", "is not one of auto, always, never"),
    ],
)
def test_a_bad_environment_value_names_its_variable(name, value, detail):
    with pytest.raises(UsageError, match=f"{name}='{value}' is not valid for --") as caught:
        parse_options(["--url", URL], {name: value})
    assert detail in str(caught.value)


def test_a_bad_flag_value_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        parse_options(["--url", URL, "--min-accuracy", "1.5"], {})
    assert caught.value.code == EXIT_USAGE
    assert "argument --min-accuracy: 1.5 is not in 0..1" in capsys.readouterr().err


# --- URL, protocols ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["svc.a.run.app", "ftp://host", "http://", "https://host:99999", "http://h/?q=1", "h:80"],
)
def test_an_invalid_url_is_refused_before_any_request(url):
    with pytest.raises(UsageError, match="invalid --url"):
        base_url(url)


def test_a_valid_url_keeps_its_path_without_the_trailing_slash():
    assert base_url(" https://svc-x.a.run.app/ ") == "https://svc-x.a.run.app"
    assert base_url("http://127.0.0.1:8080/prefix/") == "http://127.0.0.1:8080/prefix"


def test_protocol_selection():
    assert [s.name for s in select_senders("all")] == list(SENDERS)
    assert [s.name for s in select_senders("v2-binary, predict,v2-binary")] == [
        "v2-binary",
        "predict",
    ]
    assert [s.name for s in select_senders("all", png_file=True)] == list(PNG_SENDERS)
    assert PNG_SENDERS == ("predict-png", "tfserving")
    with pytest.raises(UsageError, match="--protocol v3 is unknown: choose from predict, "):
        select_senders("predict,v3")
    with pytest.raises(UsageError, match="predict, v2-json take pixels"):
        select_senders("predict,v2-json,tfserving", png_file=True)


# --- ID token ---------------------------------------------------------------------------


def no_credentials(audience: str) -> str:
    raise google.auth.exceptions.DefaultCredentialsError("no credentials here")


def test_auto_fetches_a_token_for_https_with_the_service_url_as_audience():
    asked = []

    def fetch(audience: str) -> str:
        asked.append(audience)
        return "tok123"

    auth = credentials("auto", "https://svc-x.a.run.app/prefix", fetch=fetch)
    assert auth.headers == {"Authorization": "Bearer tok123"} and auth.sent
    assert asked == ["https://svc-x.a.run.app"]
    credentials("always", "https://svc-x.a.run.app", audience="custom", fetch=fetch)
    assert asked[-1] == "custom"


def test_auto_sends_without_a_token_when_none_can_be_had():
    auth = credentials("auto", "https://svc-x.a.run.app", fetch=no_credentials)
    assert auth.headers == {} and not auth.sent
    assert auth.note == "no ID token sent (auto: none available: no credentials here)"


def test_auto_never_sends_a_token_over_plain_http():
    def fetch(audience: str) -> str:
        raise AssertionError("no token may be fetched for http://")

    auth = credentials("auto", "http://127.0.0.1:8080", fetch=fetch)
    assert not auth.sent and "not an https URL" in auth.note


def test_always_fails_in_one_line_without_credentials(tmp_path, monkeypatch):
    """The real google-auth path: a credentials file that does not exist."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(AuthError, match="cannot get a Google ID token for https://svc"):
        credentials("always", "https://svc.a.run.app")
    auth = credentials("auto", "https://svc.a.run.app")
    assert not auth.sent and "GOOGLE_APPLICATION_CREDENTIALS" in auth.note


def test_a_given_token_is_sent_as_is_and_never_contradicts_it():
    assert credentials("auto", "http://h", token=" abc\n").headers == {
        "Authorization": "Bearer abc"
    }
    with pytest.raises(UsageError, match="--token and --id-token never"):
        credentials("never", "https://h", token="abc")
    assert not credentials("never", "https://h", fetch=no_credentials).sent


def test_default_audience_is_scheme_and_host():
    assert default_audience("https://a-b.run.app:443/x/y") == "https://a-b.run.app:443"


# --- senders, PNG, V2 -------------------------------------------------------------------


def test_png_encoding_round_trips_through_pillow():
    image = np.random.default_rng(0).integers(0, 256, (28, 20), dtype=np.uint8)
    png = encode_gray(image)
    assert image_type(png) == "image/png"
    with Image.open(io.BytesIO(png)) as decoded:
        assert decoded.mode == "L"
        assert np.array_equal(np.asarray(decoded), image)
    assert image_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert image_type(b"GIF89a") is None


def test_a_digit_is_uploaded_dark_on_white():
    image = np.zeros((28, 28), np.uint8)
    image[10:18, 12:16] = 255
    with Image.open(io.BytesIO(digit_png(image))) as decoded:
        pixels = np.asarray(decoded)
    assert pixels[0, 0] == 255 and pixels[12, 13] == 0


def test_each_sender_builds_its_protocols_request():
    images = np.arange(2 * 28 * 28, dtype=np.uint64).reshape(2, 28, 28).astype(np.uint8)
    predict = SENDERS["predict"].build(images, "mnist")
    assert predict.path == "/predict"
    assert np.allclose(json.loads(predict.body)["images"][1][5], images[1].ravel()[5] / 255)
    single = json.loads(SENDERS["predict"].build(images[:1], "mnist").body)
    assert len(single["image"]) == 784
    v2_json = SENDERS["v2-json"].build(images, "m2")
    tensor = json.loads(v2_json.body)["inputs"][0]
    assert v2_json.path == "/v2/models/m2/infer"
    assert (tensor["shape"], tensor["datatype"]) == ([2, 28, 28], "UINT8")
    assert tensor["data"] == images.ravel().tolist()
    binary = SENDERS["v2-binary"].build(images, "mnist")
    header_length = int(binary.headers[v2.HEADER_LENGTH])
    header = json.loads(binary.body[:header_length])
    sent = np.frombuffer(binary.body[header_length:], "<f4").reshape(2, 784)
    assert header["inputs"][0]["datatype"] == "FP32"
    assert np.allclose(sent * 255, images.reshape(2, -1))
    tf = SENDERS["tfserving"].build([b"\x89PNG1", b"\x89PNG2"], "mnist")
    assert tf.path == "/v1/models/mnist:predict"
    assert len(json.loads(tf.body)["instances"]) == 2
    png = SENDERS["predict-png"].build([b"\xff\xd8\xffjpeg"], "mnist")
    assert (png.body, png.headers["Content-Type"]) == (b"\xff\xd8\xffjpeg", "image/jpeg")


def test_each_reader_takes_its_protocols_answer():
    probs = np.full((2, 10), 0.01)
    probs[0, 3], probs[1, 8] = 0.91, 0.55
    single = {"prediction": 4, "probabilities": [[0.1] * 10], "confidence": 0.7}
    read = SENDERS["predict"].read(json.dumps(single).encode(), {})
    assert read.digits.tolist() == [4] and read.confidences.tolist() == [0.7]
    batch = {"predictions": [3, 8], "probabilities": probs.tolist()}
    assert SENDERS["predict"].read(json.dumps(batch).encode(), {}).digits.tolist() == [3, 8]
    tf = SENDERS["tfserving"].read(json.dumps({"predictions": probs.tolist()}).encode(), {})
    assert tf.digits.tolist() == [3, 8] and tf.confidences.tolist() == [0.91, 0.55]
    out = {"name": "probabilities", "shape": [2, 10], "datatype": "FP32"}
    answer = {"outputs": [{**out, "data": probs.ravel().tolist()}]}
    assert SENDERS["v2-json"].read(json.dumps(answer).encode(), {}).digits.tolist() == [3, 8]
    raw = probs.astype("<f4").tobytes()
    header = json.dumps(
        {"outputs": [{**out, "parameters": {"binary_data_size": len(raw)}}]}
    ).encode()
    headers = {v2.HEADER_LENGTH: str(len(header))}
    assert SENDERS["v2-binary"].read(header + raw, headers).digits.tolist() == [3, 8]


# --- digits -----------------------------------------------------------------------------


def test_the_bundled_sample_is_the_first_500_test_digits(mnist_path):
    assert SAMPLE.stat().st_size < 200 * 1024
    sample = load_digits(None)
    assert (len(sample), sample.source) == (500, "the bundled sample")
    with np.load(mnist_path) as data:
        assert np.array_equal(sample.images, data["x_test"][:500])
        assert np.array_equal(sample.labels, data["y_test"][:500])
    assert sample.images.dtype == np.uint8 and sample.labels.dtype == np.int64


def test_digits_come_from_the_data_path_when_given(mnist_path):
    digits = load_digits(mnist_path)
    assert len(digits) == 10_000 and digits.source == mnist_path
    chosen = digits.select(9990, 10)
    assert chosen.first == 9990 and chosen.describe() == f"#9990-9999 of {mnist_path}"


def test_selecting_past_the_end_says_how_many_there_are():
    with pytest.raises(UsageError, match="holds 500 test digits: cannot take 2 from index 499"):
        load_digits(None).select(499, 2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        (b"not a zip", "is not a readable .npz file"),
        ({"x_train": np.zeros(3)}, "has no x_test / y_test"),
        ({"x_test": np.zeros((2, 28, 28)), "y_test": np.zeros(2)}, "expected uint8 [2, 28, 28]"),
    ],
)
def test_an_unusable_data_file_is_one_line(tmp_path, content, message):
    path = tmp_path / "data.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, dict):
        np.savez(path, **content)
    with pytest.raises(UsageError, match=re.escape(message)):
        load_digits(str(path))


# --- floor, report ----------------------------------------------------------------------


def result(name: str, digits: list[int]) -> Result:
    prediction = Prediction(np.asarray(digits), np.full(len(digits), 0.9))
    return Result(SENDERS[name], [Exchange(0, prediction, 0.004, "v1")])


def test_the_floor_names_the_protocols_under_it():
    labels = np.asarray([1, 2, 3, 4])
    results = [result("predict", [1, 2, 3, 4]), result("tfserving", [1, 2, 3, 0])]
    assert under_floor(results, labels, 0.75) == []
    below = under_floor(results, labels, 0.9)
    assert [r.sender.name for r in below] == ["tfserving"]
    assert report.floor_failure(below, labels, 0.9) == (
        "accuracy under the floor 0.9 on 4 digits: tfserving 0.750"
    )
    lines = report.summary(results, labels, 0.9)
    assert lines[1].startswith("predict      1.000     4/4") and lines[1].endswith("v1  ok")
    assert lines[2].endswith("UNDER THE FLOOR")


# --- failures against a stub endpoint ---------------------------------------------------


@dataclass
class Stub:
    """An HTTP endpoint on loopback answering every POST with ``status``/``body``."""

    url: str
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    released: threading.Event = field(default_factory=threading.Event)
    seen: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def stub() -> Iterator[Stub]:
    state: Stub

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.seen.append(dict(self.headers))
            if state.delay:
                state.released.wait(state.delay)
            self.send_response(state.status)
            for name, value in {"Content-Type": "application/json", **state.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = Stub(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    state.released.set()
    server.shutdown()
    server.server_close()


def run_main(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), env={} if env is None else env, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def nested_error(status: int, message: str) -> bytes:
    return json.dumps({"error": {"code": status, "message": message}}).encode()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, b"", "HTTP 401 from POST {url}/predict: the service wants a Google ID token "
                   "(no ID token sent (auto: not an https URL)); use --id-token always or --token"),
        (403, b"<html>Forbidden</html>", "HTTP 403 from POST {url}/predict: forbidden (no ID "
                                         "token sent (auto: not an https URL)); the caller needs "
                                         "roles/run.invoker"),
        (404, nested_error(404, "no route '/x'"), "HTTP 404 from POST {url}/predict: not found: "
                                                  "check --url (the service's base URL) and "
                                                  "--model (service says: no route '/x')"),
        (500, nested_error(500, "internal error"), "HTTP 500 from POST {url}/predict: the "
                                                   "service failed (service says: internal error)"),
        (503, b"Service Unavailable", "HTTP 503 from POST {url}/predict: the service failed"),
        (400, json.dumps({"error": "bad image"}).encode(), "HTTP 400 from POST {url}/predict: the "
                                                           "request was refused (service says: "
                                                           "bad image)"),
    ],
)  # fmt: skip
def test_an_error_status_is_one_line_and_exit_3(stub, status, body, expected):
    stub.status, stub.body = status, body
    code, _, err = run_main("--url", stub.url, "--protocol", "predict")
    assert code == EXIT_ENDPOINT
    assert err.startswith("python -m client: error: " + expected.format(url=stub.url))
    assert err.count("\n") == 1


def test_a_sent_token_refused_points_at_the_audience(stub):
    stub.status = 401
    code, _, err = run_main("--url", stub.url, "--protocol", "predict", "--token", "t0k")
    assert code == EXIT_ENDPOINT
    assert "(the ID token given by --token was sent); check --audience" in err
    assert stub.seen[0]["Authorization"] == "Bearer t0k"


def test_a_redirect_is_not_followed(stub):
    stub.status, stub.headers = 301, {"Location": "https://elsewhere/predict"}
    code, _, err = run_main("--url", stub.url, "--protocol", "predict")
    assert code == EXIT_ENDPOINT
    assert "redirected to https://elsewhere/predict: use that URL as --url" in err


def test_a_slow_answer_times_out(stub):
    stub.delay = 5.0
    code, _, err = run_main("--url", stub.url, "--protocol", "v2-json", "--timeout", "0.2")
    assert code == EXIT_ENDPOINT
    assert err == (
        f"python -m client: error: no answer from POST {stub.url}/v2/models/mnist/infer "
        "within 0.2 s (raise --timeout)\n"
    )


def test_an_answer_that_is_not_this_services_is_one_line(stub):
    stub.body = b"<html>hello</html>"
    code, _, err = run_main("--url", stub.url, "--protocol", "tfserving")
    assert code == EXIT_ENDPOINT
    assert "is not a digitrun answer: is --url this service?" in err


def test_a_wrong_number_of_predictions_is_caught(stub):
    stub.body = json.dumps({"predictions": [[0.1] * 10] * 3}).encode()
    code, _, err = run_main("--url", stub.url, "--protocol", "tfserving", "--batch", "2")
    assert code == EXIT_ENDPOINT
    assert "answered 3 predictions for 2 images" in err


def test_connection_refused_is_one_line():
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = run_main("--url", url)
    assert code == EXIT_ENDPOINT
    assert err == (
        f"python -m client: error: cannot reach {url}/predict: connection refused "
        "(is the service running at --url?)\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--url", "ftp://h"], "invalid --url 'ftp://h'"),
        (["--url", URL, "--digit", "500"], "cannot take 1 from index 500 (use --data for more)"),
        (["--url", URL, "--png", "/nonexistent.png"], "cannot read --png /nonexistent.png"),
        (["--url", URL, "--png", __file__], "is not a PNG (or JPEG) file"),
        (["--url", URL, "--protocol", "grpc"], "--protocol grpc is unknown"),
        (["--url", "https://h.run.app", "--id-token", "always"], "cannot get a Google ID token"),
    ],
)
def test_usage_errors_exit_2_before_any_request(argv, message, monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "none.json"))
    code, out, err = run_main(*argv)
    assert code == EXIT_USAGE
    assert out == "" and err.count("\n") == 1 and message in err


def test_the_floor_exits_1_and_names_the_protocol(stub):
    probs = np.eye(10)[[7, 7, 7, 7]].tolist()  # the sample's first labels are 7 2 1 0
    stub.body = json.dumps({"predictions": probs}).encode()
    code, out, err = run_main(
        "--url", stub.url, "--protocol", "tfserving", "--digits", "4", "--min-accuracy", "0.5"
    )
    assert code == EXIT_BELOW_FLOOR
    assert "tfserving    0.250     1/4" in out
    assert err == ("python -m client: accuracy under the floor 0.5 on 4 digits: tfserving 0.250\n")


def test_the_pipeline_command_reads_everything_from_the_environment(stub):
    probs = np.eye(10)[[7, 2, 1]].tolist()
    stub.body = json.dumps({"predictions": probs}).encode()
    stub.headers = {"X-Model-Version": "20260101T000000Z-abcdef12"}
    env = {
        "DIGITRUN_URL": stub.url,
        "DIGITRUN_PROTOCOL": "tfserving",
        "DIGITRUN_DIGITS": "3",
        "DIGITRUN_MIN_ACCURACY": "1",
    }
    code, out, err = run_main(env=env)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        f"3 test digits #0-2 of the bundled sample → {stub.url} · "
        "no ID token sent (auto: not an https URL)"
    )
    assert out.splitlines()[2].endswith("20260101T000000Z-abcdef12  ok")
    assert "Authorization" not in stub.seen[0]


def test_digits_helper_describes_one_digit():
    one = Digits(np.zeros((1, 28, 28), np.uint8), np.asarray([5]), "x.npz", first=42)
    assert one.describe() == "#42 of x.npz"
    assert Path(SAMPLE).name == "mnist_sample.npz"
