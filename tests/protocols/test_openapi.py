"""The OpenAPI document derived from the routing table: every route documented, every
``$ref`` resolving, and the service's real answers (around the fake model) and requests
valid against the schemas it gives."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import orjson
import pytest

from client.v2 import binary_request
from function.contract.spec import SPEC
from function.protocols.openapi import OPENAPI_VERSION, document
from function.protocols.prediction_ids import PredictionIds
from function.protocols.routing import routing_table
from tests.function.helpers import validate
from tests.protocols.conftest import FEEDBACK_SECRET, MAX_BATCH, SERVER_VERSION
from tests.protocols.fake import VERSION, digit_png, images, mnist_like, raw_images

METHODS = ("get", "post", "put", "delete", "patch", "head", "options")


@pytest.fixture
def doc(client) -> dict:
    answer = client.get("/openapi.json")
    assert answer.status == 200
    return answer.json()


def table_rows(ctx):
    return list(routing_table(ctx, SERVER_VERSION))


def test_the_served_document_is_the_tables(ctx, doc):
    built = document(table_rows(ctx), SERVER_VERSION, VERSION, SPEC, ctx.settings.max_batch)
    assert doc == json.loads(orjson.dumps(built))
    assert doc["openapi"] == OPENAPI_VERSION
    assert doc["info"]["version"] == SERVER_VERSION
    assert VERSION in doc["info"]["description"]


def test_every_route_and_method_is_documented_and_nothing_else(ctx, doc):
    table = {(r.path, method.lower()) for r in table_rows(ctx) for method in r.handlers}
    documented = {(p, m) for p, item in doc["paths"].items() for m in item if m in METHODS}
    assert table == documented
    assert len(table) == 17
    for path, item in doc["paths"].items():
        has_parameter = "{version}" in path or "{name}" in path
        assert ("parameters" in item) == has_parameter, path
        for method in set(item) & set(METHODS):
            responses = item[method]["responses"]
            assert "200" in responses
            may_not_find = has_parameter or path == "/feedback"  # an unknown prediction id
            assert ("404" in responses) == may_not_find, (path, method)


def test_a_metrics_route_is_documented_when_served(ctx):
    async def metrics(request):
        raise AssertionError("not called")

    rows = list(routing_table(ctx, "x", metrics))
    doc = document(rows, "x", VERSION, SPEC)
    assert "text/plain" in doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


def resolve(doc: dict, ref: str):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def refs(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def test_every_ref_resolves(doc):
    found = refs(doc)
    assert len(found) > 20
    for ref in found:
        assert isinstance(resolve(doc, ref), dict), ref
    used = {ref.rsplit("/", 1)[-1] for ref in found}
    assert used == set(doc["components"]["schemas"])  # and no schema is left unused


def test_the_schemas_follow_the_spec(doc):
    schemas = doc["components"]["schemas"]
    image = schemas["PredictRequest"]["properties"]["image"]["oneOf"]
    assert image[0]["minItems"] == image[0]["maxItems"] == 784
    assert image[1]["minItems"] == 28 and image[1]["items"]["maxItems"] == 28
    images = schemas["PredictRequest"]["properties"]["images"]
    assert [layout["maxItems"] for layout in images["oneOf"]] == [MAX_BATCH, MAX_BATCH]
    tensors = schemas["V2InferRequest"]["properties"]["inputs"]["items"]["oneOf"]
    assert [t["properties"]["name"]["enum"] for t in tensors] == [["image"], ["image"]]
    assert [t["properties"]["datatype"]["enum"] for t in tensors] == [["FP32"], ["UINT8"]]
    fp32, uint8 = (t["properties"]["data"]["items"]["oneOf"][0] for t in tensors)
    assert (fp32["type"], fp32["minimum"], fp32["maximum"]) == ("number", 0, 1)
    assert (uint8["type"], uint8["minimum"], uint8["maximum"]) == ("integer", 0, 255)
    infer = doc["paths"]["/v2/models/mnist/infer"]["post"]
    assert infer["summary"] == (
        "Inference: FP32 (0..1) or UINT8 (0..255) input image shaped [N, 784] or [N, 28, 28]"
    )


@pytest.fixture
def conforms(doc):
    """``conforms(template, method, answer)``: the answer's status is documented for the
    operation and its JSON body is valid against the documented schema."""

    def check(template: str, method: str, answer) -> None:
        operation = doc["paths"][template][method.lower()]
        spec = operation["responses"].get(str(answer.status))
        assert spec, f"{method} {template}: status {answer.status} is not documented"
        content_type = answer.headers["content-type"]
        assert content_type in spec["content"], f"{method} {template}: {content_type}"
        if content_type == "application/json":
            schema = spec["content"][content_type]["schema"]
            validate(json.loads(answer.body), schema, doc, f"{method} {template}")
        else:  # a V2 binary answer: its JSON header is still a V2InferResponse
            assert "inference-header-content-length" in answer.headers
            length = int(answer.headers["inference-header-content-length"])
            schema = spec["content"]["application/json"]["schema"]
            validate(json.loads(answer.body[:length]), schema, doc, f"{method} {template}")

    return check


VERSIONED = "/v2/models/mnist/versions/{version}"


@pytest.mark.parametrize(
    "template",
    [
        "/openapi.json",
        "/v1/models/mnist",
        "/v1/models/mnist/metadata",
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/mnist",
        "/v2/models/mnist/ready",
        VERSIONED,
        f"{VERSIONED}/ready",
    ],
)
def test_get_answers_conform(client, conforms, template):
    conforms(template, "GET", client.get(template.replace("{version}", VERSION)))


X = images(3, seed=60)
RING = mnist_like()
MULTIPART = (
    b'--b\r\nContent-Disposition: form-data; name="image"; filename="d.png"\r\n'
    b"Content-Type: image/png\r\n\r\n" + digit_png(RING) + b"\r\n--b--\r\n"
)
PREDICT_CASES = {
    "single": (orjson.dumps({"image": X[0].tolist()}), "application/json", "PredictRequest"),
    "single 28x28": (
        orjson.dumps({"image": X[0].reshape(28, 28).tolist()}),
        "application/json",
        "PredictRequest",
    ),
    "batch": (orjson.dumps({"images": X.tolist()}), "application/json", "PredictRequest"),
    "png": (digit_png(RING), "image/png", None),
    "multipart": (MULTIPART, "multipart/form-data; boundary=b", None),
}


@pytest.mark.parametrize("case", list(PREDICT_CASES))
def test_predict_requests_and_answers_conform(client, conforms, doc, case):
    body, content_type, schema = PREDICT_CASES[case]
    if schema:
        validate(json.loads(body), {"$ref": f"#/components/schemas/{schema}"}, doc, case)
    answer = client.post("/predict", body, {"Content-Type": content_type})
    assert answer.status == 200, answer.body
    conforms("/predict", "POST", answer)


TF_CASES = {
    "rows": {"instances": X.tolist()},
    "columns": {"inputs": X.reshape(-1, 28, 28).tolist()},
    "named": {"instances": [{"image": row} for row in X.tolist()]},
    "b64": {"instances": [{"b64": base64.b64encode(digit_png(RING)).decode()}]},
}


@pytest.mark.parametrize("case", list(TF_CASES))
def test_tfserving_requests_and_answers_conform(client, conforms, doc, case):
    payload = TF_CASES[case]
    validate(payload, {"$ref": "#/components/schemas/TfPredictRequest"}, doc, case)
    answer = client.post_json("/v1/models/mnist:predict", payload)
    assert answer.status == 200, answer.body
    conforms("/v1/models/mnist:predict", "POST", answer)


def v2_request(datatype: str, **extra) -> dict:
    data = X.tolist() if datatype == "FP32" else raw_images(3).tolist()
    tensor = {"name": "image", "shape": [3, 784], "datatype": datatype, "data": data}
    return {"id": "r1", "inputs": [tensor], **extra}


V2_CASES = {
    "fp32": v2_request("FP32"),
    "uint8": v2_request("UINT8"),
    "outputs": v2_request("FP32", outputs=[{"name": "prediction"}]),
    "binary outputs": v2_request("FP32", parameters={"binary_data_output": True}),
}


@pytest.mark.parametrize("template", ["/v2/models/mnist/infer", f"{VERSIONED}/infer"])
@pytest.mark.parametrize("case", list(V2_CASES))
def test_v2_requests_and_answers_conform(client, conforms, doc, case, template):
    payload = V2_CASES[case]
    validate(payload, {"$ref": "#/components/schemas/V2InferRequest"}, doc, case)
    answer = client.post_json(template.replace("{version}", VERSION), payload)
    assert answer.status == 200, answer.body
    conforms(template, "POST", answer)


def test_v2_binary_request_answer_conforms(client, conforms):
    body, headers = binary_request(X, outputs=[{"name": "probabilities"}])
    answer = client.post("/v2/models/mnist/infer", body, headers)
    assert answer.status == 200, answer.body
    conforms("/v2/models/mnist/infer", "POST", answer)


def test_feedback_request_and_answer_conform(client, conforms, doc):
    predicted = client.post_json("/predict", {"image": X[0].tolist()})
    conforms("/predict", "POST", predicted)
    payload = {"prediction_id": predicted.json()["prediction_id"], "actual": 3}
    validate(payload, {"$ref": "#/components/schemas/FeedbackRequest"}, doc, "feedback")
    answer = client.post_json("/feedback", payload)
    assert answer.status == 200, answer.body
    conforms("/feedback", "POST", answer)


def test_the_prediction_id_header_is_documented(doc):
    ok = doc["paths"]["/predict"]["post"]["responses"]["200"]
    assert "X-Prediction-Id" in ok["headers"]
    single = doc["components"]["schemas"]["PredictResponse"]
    assert "prediction_id" in single["required"]
    assert "prediction_id" not in doc["components"]["schemas"]["PredictBatchResponse"]["properties"]


EXPIRED = PredictionIds(
    FEEDBACK_SECRET.encode(), VERSION, 3600, clock=lambda: time.time() - 7200
).issue(4)
ERROR_CASES = [
    ("/predict", "POST", b"{", {}, 400),
    ("/predict", "POST", b'{"images": [[0]]}', {}, 400),
    ("/predict", "POST", orjson.dumps({"images": np.zeros((9, 784)).tolist()}), {}, 413),
    ("/predict", "POST", b"x", {"Content-Type": "text/plain"}, 415),
    ("/predict", "POST", b"{}", {"Content-Length": str(10**9)}, 413),
    ("/v1/models/mnist:predict", "POST", b'{"instances": 1}', {}, 400),
    ("/v1/models/mnist:predict", "POST", b"{}", {"Content-Encoding": "gzip"}, 415),
    ("/v2/models/mnist/infer", "POST", b"{}", {}, 400),
    ("/v2/models/mnist/infer", "POST", b"{}", {"Content-Encoding": "gzip"}, 415),
    (f"{VERSIONED}/infer", "POST", b"{}", {}, 400),
    (VERSIONED, "GET", b"", {}, 404),
    ("/static/{name}", "GET", b"", {}, 404),
    ("/feedback", "POST", b"{", {}, 400),
    ("/feedback", "POST", b'{"prediction_id": "x", "actual": 10}', {}, 400),
    ("/feedback", "POST", b'{"prediction_id": "x", "actual": 1}', {}, 404),
    ("/feedback", "POST", b'{"prediction_id": "%s", "actual": 1}' % EXPIRED.encode(), {}, 410),
    ("/feedback", "POST", b"{}", {"Content-Length": str(10**9)}, 413),
    ("/feedback", "POST", b"x", {"Content-Type": "text/plain"}, 415),
    (f"{VERSIONED}/ready", "GET", b"", {}, 404),
]


@pytest.mark.parametrize(
    ("template", "method", "body", "headers", "status"),
    ERROR_CASES,
    ids=[f"{c[0]} {c[4]}" for c in ERROR_CASES],
)
def test_error_answers_conform(client, conforms, template, method, body, headers, status):
    version = "other" if status == 404 else VERSION
    answer = client.request(
        method, template.replace("{version}", version), body=body, headers=headers
    )
    assert answer.status == status, answer.body
    conforms(template, method, answer)
