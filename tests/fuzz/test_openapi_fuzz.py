"""Schemathesis against the served ``/openapi.json``: thousands of generated requests, and
not one answer the document does not promise.

The real server runs with ``MAX_BATCH`` small: the document is derived from the settings,
so its limits (batch sizes, data lengths) are small too, and Schemathesis' boundary cases
(a batch one over the limit) cost kilobytes, not megabytes. Every check runs: no 5xx,
every status, Content-Type, header and body as documented, schema-violating requests
refused (400, 404, 405, 413, 415, ...) and schema-valid ones accepted — with
``schemathesis_hooks.py`` generating what JSON Schema cannot say (pictures that decode,
V2 shapes that count their data, real prediction ids). Phases: examples, coverage (the
document's boundaries and every kind of violation) and fuzzing, without shrinking; the
seed is fixed, so CI runs the same requests each time.

``FUZZ_EXAMPLES`` (default 150) sets the fuzzing examples per operation, and
``FUZZ_SEED`` the seed: ``FUZZ_EXAMPLES=1000 pytest tests/fuzz/test_openapi_fuzz.py``
runs a longer search locally (the minimum count asserted scales with it).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import requests

from function.contract.spec import SPEC
from scripts.local_stack import BIN, ROOT, child_env

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
# An operation whose requests hold pixel arrays costs ~10x more to generate (Hypothesis
# draws every pixel): it gets fewer examples, the cheap ones the rest.
HEAVY_EXAMPLES = max(1, EXAMPLES * 2 // 5)
HEAVY = r"^/(predict|v1/models/mnist:predict|v2/models/mnist(/versions/[^/]+)?/infer)$"
SEED = int(os.environ.get("FUZZ_SEED", "20"))
FUZZ_BATCH = 4  # MAX_BATCH of the server under test
# The coverage phase sends ~1,180 requests (measured); fuzzing EXAMPLES to each cheap
# operation with inputs (5), HEAVY_EXAMPLES to each heavy one (4) and one to each of the
# 8 without inputs: at least 2,090 requests by default.
MIN_REQUESTS = 1_100 + 5 * EXAMPLES + 4 * HEAVY_EXAMPLES + 8
TIMEOUT = 900
CONFIG = """\
hooks = "tests.fuzz.schemathesis_hooks"
workers = 1
request-timeout = 10.0
max-failures = 20
continue-on-failure = true

[cache]
enabled = false

[generation]
max-examples = {examples}
no-shrink = true
database = "none"

[phases]
examples.enabled = true
coverage.enabled = true
fuzzing.enabled = true
stateful.enabled = false

# 413 is how the service refuses a body, batch or pictures over its limits: a rejection.
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                     "428", "429", "5xx"]

[[operations]]
include-path-regex = '{heavy}'
generation.max-examples = {heavy_examples}
"""


def issue_prediction_id(url: str) -> str:
    """A prediction id the server issued (for feedback past the id check)."""
    image = [0.5] * SPEC.input.features
    answer = requests.post(f"{url}/predict", json={"image": image}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["prediction_id"]


def run_schemathesis(url: str, directory: Path, prediction_id: str) -> tuple[dict, str]:
    """The Schemathesis CLI against ``url``: its JSON report and its output."""
    config = directory / "schemathesis.toml"
    config.write_text(CONFIG.format(examples=EXAMPLES, heavy=HEAVY, heavy_examples=HEAVY_EXAMPLES))
    report = directory / "report.json"
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--output-truncate",
        "true",
    ]
    env = child_env(FUZZ_PREDICTION_ID=prediction_id, NO_COLOR="1")
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    output = result.stdout + result.stderr
    assert report.exists(), output[-5000:]
    return json.loads(report.read_text()), output


def test_schemathesis_finds_no_answer_the_document_does_not_promise(start_server, tmp_path):
    server = start_server(MAX_BATCH=str(FUZZ_BATCH), LOG_LEVEL="WARNING")
    document = requests.get(f"{server.url}/openapi.json", timeout=10).json()
    operations = {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    } - {"GET /openapi.json"}  # Schemathesis leaves the document it reads out

    report, output = run_schemathesis(server.url, tmp_path, issue_prediction_id(server.url))

    cases = report["test_cases"]
    assert report["exit_code"] == 0 and cases["with_failures"] == 0, output[-20000:]
    assert cases["errored"] == 0 and not report["errors"], output[-20000:]
    assert report["stop_reason"] == "completed" and report["complete"]
    assert report["operations"]["tested"] == len(operations) == 17, report["operations"]
    assert cases["generated"] >= MIN_REQUESTS, cases
    print(f"schemathesis: {cases['generated']} requests, seed {SEED}")
    # Schema-valid requests reached every operation's success path (pictures decoded,
    # feedback counted, V2 data counted): fuzzing's positive cases were accepted.
    rates = report["valid_rates"]
    assert set(rates) == operations
    for operation, phases in rates.items():
        assert phases["fuzzing"]["accepted"] >= 1, (operation, phases)
    assert server.process.poll() is None, server.log()[-3000:]
