"""``POST /feedback`` and the prediction ids in-process: every single-image answer's id
round-trips, the predicted digit comes from the signed id (never from the client), the
recorder and the log line see each feedback once, and unknown, altered, foreign or
expired ids and bad bodies get their 4xx."""

from __future__ import annotations

import base64
import io
import json
import logging
import timeit

import orjson
import pytest

from function.config import Settings
from function.observability import logs
from function.protocols.prediction_ids import ID_CHARS, PredictionIds
from function.protocols.routing import routing_table
from function.web.app import App
from function.web.context import Context
from function.web.routes import Router
from tests.protocols.conftest import FEEDBACK_SECRET, SERVER_VERSION, call, verifier
from tests.protocols.fake import VERSION, FakeModel, digit_png, images, mnist_like
from tests.protocols.test_routing import Recorder

FEEDBACK = "/feedback"
X = images(10, seed=3)  # predicted digits 3, 4, ..., 9, 0, 1, 2
MULTIPART = (
    b'--b\r\nContent-Disposition: form-data; name="image"; filename="d.png"\r\n'
    b"Content-Type: image/png\r\n\r\n" + digit_png(mnist_like()) + b"\r\n--b--\r\n"
)


class Feedback:
    """An App whose feedback hook and recorder keep what they are told."""

    def __init__(self, ctx: Context, ids: PredictionIds | None = None) -> None:
        self.told: list[tuple[int, int]] = []
        self.recorder = Recorder()
        routes = routing_table(
            ctx, SERVER_VERSION, ids=ids, on_feedback=lambda p, a: self.told.append((p, a))
        )
        self.app = App(ctx, Router(routes, VERSION), self.recorder)

    def predict(self, body: bytes, content_type: str = "application/json") -> dict:
        answer = call(self.app, "POST", "/predict", body, {"Content-Type": content_type})
        assert answer.status == 200, answer.body
        return answer.json()

    def send(self, payload: object, content_type: str = "application/json"):
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        return call(self.app, "POST", FEEDBACK, body, {"Content-Type": content_type})


@pytest.fixture
def service(ctx) -> Feedback:
    return Feedback(ctx)


@pytest.fixture
def captured():
    """The digitrun logger's JSON lines (INFO and up) during one test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    level = logs.log.level
    logs.log.addHandler(handler)
    logs.log.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logs.log.removeHandler(handler)
    logs.log.setLevel(level)


def check_error(answer, status: int, canonical: str, fragment: str) -> None:
    assert answer.status == status, answer.body
    assert answer.headers["x-model-version"] == VERSION
    error = answer.json()["error"]
    assert error == {"code": status, "status": canonical, "message": error["message"]}
    assert fragment in error["message"], error["message"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (orjson.dumps({"image": X[0].tolist()}), "application/json"),
        (orjson.dumps({"image": X[0].reshape(28, 28).tolist()}), "application/json"),
        (digit_png(mnist_like()), "image/png"),
        (MULTIPART, "multipart/form-data; boundary=b"),
    ],
    ids=["json", "json 28x28", "png", "multipart"],
)
def test_every_single_answer_names_its_prediction(service, body, content_type):
    predicted = service.predict(body, content_type)
    digit, prediction_id = predicted["prediction"], predicted["prediction_id"]
    right = service.send({"prediction_id": prediction_id, "actual": digit})
    assert right.status == 200, right.body
    assert right.json() == {
        "prediction_id": prediction_id,
        "predicted": digit,
        "actual": digit,
        "correct": True,
    }
    other = (digit + 1) % 10
    wrong = service.send({"prediction_id": prediction_id, "actual": other})
    assert wrong.json() == {
        "prediction_id": prediction_id,
        "predicted": digit,
        "actual": other,
        "correct": False,
    }
    assert service.told == [(digit, digit), (digit, other)]
    assert service.recorder.requests[-2:] == [("feedback", "POST", 200)] * 2
    assert service.recorder.errors == []


def test_ids_are_distinct_opaque_and_signed(service):
    body = orjson.dumps({"image": X[5].tolist()})
    found = [service.predict(body)["prediction_id"] for _ in range(200)]
    assert len(set(found)) == 200  # the nonce: same digit, same second, different ids
    for prediction_id in found:
        assert len(prediction_id) == ID_CHARS
        assert set(prediction_id) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )
        assert verifier().verify(prediction_id).predicted == 8  # X[5]: (5 + 3) % 10


def test_the_predicted_digit_comes_from_the_id(service, captured):
    """A client cannot claim another prediction: the body's fields are the id and the label."""
    prediction_id = service.predict(orjson.dumps({"image": X[2].tolist()}))["prediction_id"]
    answer = service.send({"prediction_id": prediction_id, "actual": 5, "predicted": 5})
    assert answer.json()["predicted"] == 5 and answer.json()["correct"] is True  # X[2] is 5
    answer = service.send({"prediction_id": prediction_id, "actual": 7, "predicted": 7})
    assert answer.json()["predicted"] == 5 and answer.json()["correct"] is False
    assert service.told == [(5, 5), (5, 7)]
    lines = [e for e in captured() if e["message"] == "feedback"]
    assert [(e["predicted"], e["actual"], e["correct"]) for e in lines] == [
        (5, 5, True),
        (5, 7, False),
    ]


def test_one_log_line_per_feedback_without_the_image(service, captured):
    prediction_id = service.predict(orjson.dumps({"image": X[0].tolist()}))["prediction_id"]
    service.send({"prediction_id": prediction_id, "actual": 8})
    (line,) = [e for e in captured() if e["message"] == "feedback"]
    assert set(line) == {
        "severity",
        "message",
        "time",
        "predicted",
        "actual",
        "correct",
        "model_version",
        "prediction_age_seconds",
    }
    assert line["severity"] == "INFO"
    assert (line["predicted"], line["actual"], line["correct"]) == (3, 8, False)
    assert line["model_version"] == VERSION
    assert line["prediction_age_seconds"] == 0


def test_batch_answers_and_other_protocols_have_no_id(service):
    batch = call(service.app, "POST", "/predict", orjson.dumps({"images": X[:2].tolist()}))
    assert "prediction_id" not in batch.json() and "x-prediction-id" not in batch.headers
    tf = call(
        service.app,
        "POST",
        "/v1/models/mnist:predict",
        orjson.dumps({"instances": [X[0].tolist()]}),
    )
    assert tf.status == 200 and "x-prediction-id" not in tf.headers


def forge(prediction_id: str, index: int) -> str:
    """``prediction_id`` with the byte at ``index`` changed (re-encoded canonically)."""
    raw = bytearray(base64.urlsafe_b64decode(prediction_id))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode()


def test_unknown_and_altered_ids_are_404(service, ctx):
    prediction_id = service.predict(orjson.dumps({"image": X[0].tolist()}))["prediction_id"]
    other_secret = PredictionIds(b"another instance's secret", VERSION, 3600).issue(3)
    other_model = PredictionIds(FEEDBACK_SECRET.encode(), "another-version", 3600).issue(3)
    bad = [
        "x",
        prediction_id[:-1],
        prediction_id + "A",
        prediction_id + "==",
        prediction_id.replace(prediction_id[0], "!", 1),
        prediction_id[:-1] + "+",  # standard base64's alphabet
        prediction_id[:-1] + "/",
        prediction_id[:-1] + "=",
        "é" * ID_CHARS,
        *(forge(prediction_id, i) for i in (0, 1, 4, 5, 10, 11, 26)),
        other_secret,  # another instance without the shared FEEDBACK_SECRET, or a restart
        other_model,  # the same secret, another model version
    ]
    for candidate in bad:
        answer = service.send({"prediction_id": candidate, "actual": 3})
        check_error(answer, 404, "NOT_FOUND", "is unknown: it was not issued by this service")
    assert service.told == []
    assert set(service.recorder.errors) == {("feedback", "prediction_not_found")}
    assert service.send({"prediction_id": prediction_id, "actual": 3}).status == 200


def test_a_digit_byte_over_nine_is_refused_even_when_signed(ctx):
    ids = PredictionIds(FEEDBACK_SECRET.encode(), VERSION, 3600)
    service = Feedback(ctx, ids)
    with pytest.raises(Exception, match="is unknown"):
        ids.verify(ids.issue(12))
    assert service.send({"prediction_id": ids.issue(15), "actual": 1}).status == 404


def test_ids_expire_after_the_ttl(ctx):
    now = [1_800_000_000.0]
    ids = PredictionIds(FEEDBACK_SECRET.encode(), VERSION, 60, clock=lambda: now[0])
    service = Feedback(ctx, ids)
    prediction_id = service.predict(orjson.dumps({"image": X[1].tolist()}))["prediction_id"]
    now[0] += 60.9  # still within 60 s (whole seconds)
    assert service.send({"prediction_id": prediction_id, "actual": 4}).status == 200
    now[0] += 1
    answer = service.send({"prediction_id": prediction_id, "actual": 4})
    check_error(answer, 410, "GONE", "expired: it was issued 61 s ago")
    assert service.recorder.errors == [("feedback", "prediction_expired")]
    assert service.told == [(4, 4)]
    now[0] -= 3600  # an id from an instance whose clock runs ahead: age 0, accepted
    assert service.send({"prediction_id": prediction_id, "actual": 4}).status == 200


def test_a_shared_secret_is_shared_across_instances_and_restarts(model):
    """Two instances (or one restarted) with FEEDBACK_SECRET accept each other's ids;
    without it each start makes its own secret."""
    shared = Settings(model_uri="x", metrics=False, feedback_secret="s" * 32)
    alone = Settings(model_uri="x", metrics=False)
    first, second = (Feedback(Context.create(model, shared)) for _ in range(2))
    third, fourth = (Feedback(Context.create(model, alone)) for _ in range(2))
    body = orjson.dumps({"image": X[0].tolist()})
    assert (
        second.send({"prediction_id": first.predict(body)["prediction_id"], "actual": 3}).status
        == 200
    )
    assert (
        fourth.send({"prediction_id": third.predict(body)["prediction_id"], "actual": 3}).status
        == 404
    )
    assert (
        third.send({"prediction_id": third.predict(body)["prediction_id"], "actual": 3}).status
        == 200
    )


BAD_BODIES = [
    (b"", "the request body is empty"),
    (b"{", "not valid JSON"),
    (b"[]", "expected a JSON object"),
    (b'{"actual": 1}', '"prediction_id" must be'),
    (b'{"prediction_id": 7, "actual": 1}', '"prediction_id" must be'),
    (b'{"prediction_id": "", "actual": 1}', '"prediction_id" must be'),
    (
        b'{"prediction_id": "ID"}',
        '"actual" must be the digit that was meant, an integer 0..9, not null',
    ),
    (b'{"prediction_id": "ID", "actual": 10}', "not 10"),
    (b'{"prediction_id": "ID", "actual": -1}', "not -1"),
    (b'{"prediction_id": "ID", "actual": 3.0}', "not 3.0"),
    (b'{"prediction_id": "ID", "actual": true}', "not true"),
    (b'{"prediction_id": "ID", "actual": "3"}', 'not "3"'),
    (b'{"prediction_id": "ID", "actual": [3]}', "not [3]"),
]


@pytest.mark.parametrize(("body", "fragment"), BAD_BODIES)
def test_bad_bodies_and_labels_are_400(service, body, fragment):
    prediction_id = service.predict(orjson.dumps({"image": X[0].tolist()}))["prediction_id"]
    answer = service.send(body.replace(b"ID", prediction_id.encode()))
    check_error(answer, 400, "INVALID_ARGUMENT", fragment)
    assert service.told == []
    assert service.recorder.errors == [("feedback", "invalid_input")]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_other_content_types_are_415(service, content_type):
    prediction_id = service.predict(orjson.dumps({"image": X[0].tolist()}))["prediction_id"]
    answer = service.send({"prediction_id": prediction_id, "actual": 3}, content_type)
    check_error(answer, 415, "UNSUPPORTED_MEDIA_TYPE", "send application/json")
    assert service.told == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "", "a/b+json"]
)
def test_json_content_types_are_read(service, content_type):
    prediction_id = service.predict(orjson.dumps({"image": X[0].tolist()}))["prediction_id"]
    answer = service.send({"prediction_id": prediction_id, "actual": 3}, content_type)
    assert answer.status == 200, answer.body


def test_a_body_over_the_limit_is_413(service):
    answer = call(
        service.app,
        "POST",
        FEEDBACK,
        b"{}",
        {"Content-Type": "application/json", "Content-Length": str(10**9)},
    )
    check_error(answer, 413, "PAYLOAD_TOO_LARGE", "MAX_BODY_BYTES")
    assert answer.received == 0


def test_an_id_costs_a_few_microseconds():
    """The hot path's share: one HMAC of 11 bytes and a base64 text per single prediction."""
    ids = PredictionIds(FEEDBACK_SECRET.encode(), VERSION, 3600)
    seconds = min(timeit.repeat(lambda: ids.issue(7), number=2000, repeat=5)) / 2000
    assert seconds < 20e-6, f"{seconds * 1e6:.1f} µs per id"  # ~2 µs; loose for busy machines


def test_the_fake_model_predicts_what_the_tests_assume():
    assert FakeModel().predict(X).argmax(axis=1).tolist() == [3, 4, 5, 6, 7, 8, 9, 0, 1, 2]
