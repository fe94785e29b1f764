"""Short, bounded load tests against the real server: the locustfile with its gates on
passes; an impossible gate, or a model answering wrong digits, makes the run fail; a master
with two workers runs and its report counts both."""

from __future__ import annotations

import json

import pytest

from loadtest import traffic
from tests.loadtest.conftest import run_locust, run_runner

# This machine is shared with other work: latency gates loose enough not to flake, tight
# enough to be real. The test model (5,000 examples, 1 epoch) is ~0.9 accurate.
EASY = {
    "LOCUST_MAX_P95_MS": "2000",
    "LOCUST_MAX_P99_MS": "5000",
    "LOCUST_MAX_FAILURE_RATIO": "0",
    "LOCUST_MIN_ACCURACY": "0.8",
}
pytestmark = pytest.mark.timeout(300)


def test_the_locustfile_passes_its_gates(load_server, tmp_path):
    result_path = tmp_path / "result.json"
    env = {**EASY, "LOADTEST_RESULT": str(result_path)}
    done = run_locust(load_server.url, env, "-u", "4", "-r", "4", "-t", "4s")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "load test gates: PASS" in done.stderr
    result = json.loads(result_path.read_text())
    assert result["verdict"] == "PASS"
    assert result["total"]["failures"] == 0
    # every request kind ran, and every answer was checked against its digits' labels
    for kind in traffic.KINDS:
        assert result["kinds"][kind.name]["requests"] > 0, kind.name
        correct, checked = result["accuracy"][kind.name]
        assert checked == result["kinds"][kind.name]["requests"] * kind.size
        assert correct / checked >= 0.8, kind.name


def test_an_impossible_gate_makes_the_runner_fail(load_server, tmp_path):
    done = run_runner(
        "--host", load_server.url, "--users", "2", "--duration", "3",
        "--max-p95-ms", "0.001", "--out", str(tmp_path), env=EASY,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["verdict"] == "FAIL"
    broken = {g["gate"] for g in summary["gates"] if not g["passed"]}
    assert broken == {"max_p95_ms"}
    # the report and its plots were still written
    assert "**Verdict: FAIL**" in (tmp_path / "summary.md").read_text()
    for name in ("timeline.png", "latency_vs_users.png", "errors.png", "crosscheck.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
    # the service's own histogram saw this run's requests
    everything = summary["crosscheck"][-1]
    assert everything["server"]["requests"] >= everything["locust"]["requests"] > 0


def test_wrong_digits_fail_the_accuracy_gate(wrong_server, tmp_path):
    done = run_runner(
        "--host", wrong_server.url, "--users", "2", "--duration", "4", "--out", str(tmp_path),
        env=EASY,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    verdicts = {g["gate"]: g for g in summary["gates"]}
    # every answer was well-formed: no failed request, only wrong digits
    assert verdicts["max_failure_ratio"]["passed"]
    assert summary["failures"] == 0
    judged = [g for name, g in verdicts.items() if name.startswith("min_accuracy ")]
    assert judged
    assert sum(not g["passed"] for g in judged) >= len(traffic.KINDS) - 1, judged
    assert all(kind["accuracy"] < 0.3 for kind in summary["kinds"] if kind["checked"])


def test_two_workers_run_and_both_are_counted(load_server, tmp_path):
    done = run_runner(
        "--host", load_server.url, "--workers", "2", "--users", "4", "--duration", "5",
        "--out", str(tmp_path), env=EASY,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["mode"] == "master + 2 workers"
    assert len(summary["workers"]) == 2
    assert all(sent > 0 for sent in summary["workers"].values())
    assert sum(summary["workers"].values()) == summary["requests"]
    assert sum(k["checked"] for k in summary["kinds"]) > 0
    assert "master + 2 workers" in (tmp_path / "summary.md").read_text()
