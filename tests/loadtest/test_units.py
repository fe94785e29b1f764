"""The load test's parts in-process (no server): gates, shapes, answer checks, the
service's histogram, load steps, capacity, the traffic mix and the shipped sample.
(Nothing here imports Locust: it would patch this test process for gevent.)"""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from function.contract.spec import SPEC
from loadtest import analysis, checks, gates, metrics, shapes, traffic
from loadtest.digits import data_path, load_digits
from loadtest.sample import SAMPLE_PATH
from loadtest.steps import Mark, step_stats, steps_of

CLASSES = SPEC.output.classes


def measured(**overrides) -> gates.Measured:
    values = {
        "requests": 1000,
        "failures": 0,
        "p95_ms": 10.0,
        "p99_ms": 20.0,
        "rps": 500.0,
        "accuracy": {"/predict [1 digit]": (98, 100)},
    }
    return gates.Measured(**{**values, **overrides})


def test_gate_defaults_live_in_one_table_and_env_overrides_them():
    limits = gates.limits_from_env({})
    assert limits == {gate.key: gate.default for gate in gates.GATES}
    changed = gates.limits_from_env({"LOCUST_MAX_P99_MS": "1000", "LOCUST_MAX_P95_MS": "off"})
    assert changed["max_p99_ms"] == 1000.0
    assert changed["max_p95_ms"] is None
    assert gates.limits_from_env(gates.limits_to_env(changed)) == changed


def test_gates_pass_and_break():
    limits = gates.limits_from_env({"LOCUST_MAX_P95_MS": "50"})
    assert gates.passed(gates.evaluate(measured(), limits))
    for broken, expected in [
        ({"failures": 5}, "max_failure_ratio"),
        ({"p95_ms": 51.0}, "max_p95_ms"),
        ({"p99_ms": 101.0}, "max_p99_ms"),
        ({"accuracy": {"png": (50, 100)}}, "min_accuracy png"),
    ]:
        verdicts = gates.evaluate(measured(**broken), limits)
        assert [v.gate for v in verdicts if not v.passed] == [expected]
    floor = {**limits, "min_rps": 600.0}
    assert [v.gate for v in gates.evaluate(measured(), floor) if not v.passed] == ["min_rps"]


def test_no_requests_or_no_checked_answer_fails():
    limits = gates.limits_from_env({})
    assert not gates.passed(gates.evaluate(measured(requests=0), limits))
    assert not gates.passed(gates.evaluate(measured(accuracy={}), limits))


def test_too_few_digits_are_reported_not_judged():
    verdicts = gates.evaluate(measured(accuracy={"png": (1, 3)}), gates.limits_from_env({}))
    assert gates.passed(verdicts)
    assert "too few" in verdicts[-1].text


def test_shapes_by_name():
    ramp = shapes.ShapeConfig.from_env("ramp", {"LOADTEST_STEPS": "3", "LOADTEST_STEP_USERS": "5"})
    assert [ramp.users_at(t) for t in (0, 14.9, 15, 44.9, 45)] == [5, 5, 10, 15, None]
    spike = shapes.ShapeConfig.from_env("spike", {"LOADTEST_DURATION": "30"})
    assert [spike.users_at(t) for t in (0, 10, 19.9, 20, 30)] == [4, 40, 40, 4, None]
    soak = shapes.ShapeConfig.from_env("soak", {"LOADTEST_DURATION": "600"})
    assert soak.users_at(0) == 1 and soak.users_at(60) == 20 and soak.users_at(600) is None
    assert shapes.selected({}) is None  # no shape: Locust's -u/-r/-t drive the run
    with pytest.raises(ValueError, match="not one of"):
        shapes.ShapeConfig.from_env("stairs", {})


def good_answer(count: int) -> tuple[np.ndarray, np.ndarray]:
    probs = np.full((count, CLASSES), 0.01)
    probs[:, 3] = 1 - 0.01 * (CLASSES - 1)
    return probs, np.full(count, 3)


def test_checks_read_every_protocol_and_refuse_bad_answers():
    probs, digits = good_answer(2)
    body = orjson.dumps({"predictions": digits.tolist(), "probabilities": probs.tolist()})
    assert checks.predict_batch(body, {}, 2).tolist() == [3, 3]
    assert checks.tfserving(orjson.dumps({"predictions": probs.tolist()}), {}, 2).tolist() == [3, 3]
    bad = [
        {"predictions": [3, 3], "probabilities": (probs * 0.5).tolist()},  # sums to 0.5
        {"predictions": [3, 3], "probabilities": probs[:, :-1].tolist()},  # 9 classes
        {"predictions": [3, 4], "probabilities": probs.tolist()},  # not the argmax
        {"predictions": [3, 3]},  # no probabilities
    ]
    for answer in bad:
        with pytest.raises(checks.BadAnswerError):
            checks.predict_batch(orjson.dumps(answer), {}, 2)
    with pytest.raises(checks.BadAnswerError):
        checks.v2(b"<html>", {}, 1)


EXPOSITION = """# TYPE digitrun_request_duration_seconds histogram
digitrun_request_duration_seconds_bucket{le="0.001",route="predict"} %d
digitrun_request_duration_seconds_bucket{le="0.01",route="predict"} %d
digitrun_request_duration_seconds_bucket{le="+Inf",route="predict"} %d
digitrun_request_duration_seconds_count{route="predict"} %d
digitrun_request_duration_seconds_sum{route="predict"} %f
"""


CPU = """# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total %f
"""


def test_the_service_histogram_difference_and_quantiles():
    before = metrics.parse(EXPOSITION % (10, 10, 10, 10, 0.005) + CPU % 1.5)
    after = metrics.parse(EXPOSITION % (60, 110, 110, 110, 0.305) + CPU % 2.0)
    run = metrics.difference(before, after)["predict"]
    assert metrics.cpu_used(before, after) == pytest.approx(0.5)
    assert run.count == 100 and run.mean == pytest.approx(0.003)
    assert run.quantile(0.5) == pytest.approx(0.001)  # the 50th of 100 closes the first bucket
    assert run.quantile(0.75) == pytest.approx(0.001 + 0.009 * 0.5)
    assert metrics.difference(None, after) is None


def test_a_step_has_its_own_requests_only():
    start = Mark(100.0, 10, 1000, 1, {5: 900, 50: 100})
    end = Mark(110.0, 20, 2000, 3, {5: 900, 50: 100, 7: 960, 90: 40})
    step = step_stats(start, end)
    assert step["users"] == 10 and step["requests"] == 1000 and step["failures"] == 2
    assert step["rps"] == 100.0
    assert (step["p50"], step["p95"], step["p99"]) == (7, 7, 90)


def test_short_transitions_join_the_step_before():
    marks = [
        Mark(0.0, 0, 0, 0, {}),
        Mark(0.4, 10, 0, 0, {}),
        Mark(15.0, 14, 1500, 0, {5: 1500}),  # one worker has its new users, not the other
        Mark(15.5, 20, 1500, 0, {5: 1500}),
        Mark(30.0, 0, 3500, 0, {5: 3500}),
    ]
    steps = steps_of(marks)
    assert [(s["users"], s["requests"]) for s in steps] == [(10, 1500), (20, 2000)]


def test_capacity_is_the_most_users_within_the_budget():
    steps = [
        {"users": u, "seconds": 15, "requests": 1000, "failures": 0, "rps": r, "p95": p}
        for u, r, p in [(10, 500, 20), (20, 800, 40), (30, 850, 70), (40, 840, 45)]
    ]
    found = analysis.capacity(steps, 50.0, 0.001)
    assert (found["users"], found["rps"], found["reached_limit"]) == (40, 840, False)
    found = analysis.capacity(steps[:3], 50.0, 0.001)
    assert (found["users"], found["rps"], found["reached_limit"]) == (20, 800, True)
    assert found["peak_rps"] == 850


def test_the_mix_covers_every_protocol_and_can_be_reweighted():
    assert {kind.route for kind in traffic.KINDS} == {"predict", "tfserving_predict", "v2_infer"}
    assert len({kind.name for kind in traffic.KINDS}) == len(traffic.KINDS)
    assert traffic.weights("predict=1,png=0")["png"] == 0
    only = traffic.weights("predict")  # naming a kind alone keeps only the kinds named
    assert only["predict"] > 0 and sum(only.values()) == only["predict"]
    for bad in ("nosuch=1", "predict=x", ",".join(f"{k.key}=0" for k in traffic.KINDS)):
        with pytest.raises(ValueError, match="LOADTEST_MIX"):
            traffic.weights(bad)


def test_the_shipped_sample_is_real_labelled_mnist_with_its_licence():
    assert data_path({}) == SAMPLE_PATH
    digits = load_digits(SAMPLE_PATH)
    assert digits.images.shape == (500, *SPEC.input.image_shape)
    assert digits.images.dtype == np.uint8
    assert np.bincount(digits.labels, minlength=CLASSES).tolist() == [50] * CLASSES
    note = (SAMPLE_PATH.parent / "README.md").read_text()
    assert "CC BY-SA 3.0" in note and "Yann LeCun" in note and "Corinna Cortes" in note


def test_every_kind_builds_its_requests_from_the_sample():
    digits = load_digits(SAMPLE_PATH)
    for kind in traffic.KINDS:
        prepared = traffic.prepare(kind, digits.images[:40], digits.labels[:40])
        assert prepared and all(len(p.labels) == kind.size for p in prepared)
        assert prepared[0].body and "Content-Type" in prepared[0].headers


def test_the_runner_side_does_not_import_locust():
    import subprocess
    import sys

    code = "import loadtest.cli, loadtest.runner, sys; print('locust' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_id_tokens_follow_the_clients_rules():
    from client.errors import UsageError
    from loadtest.auth import TokenSource

    given = TokenSource("https://digitrun.example.run.app", {"LOADTEST_TOKEN": "abc"})
    assert given.headers() == {"Authorization": "Bearer abc"}
    plain = TokenSource("http://127.0.0.1:8080", {})  # auto: never over plain http
    assert plain.headers() == {}
    with pytest.raises(UsageError):
        TokenSource("https://x.run.app", {"LOADTEST_TOKEN": "abc", "LOADTEST_ID_TOKEN": "never"})
