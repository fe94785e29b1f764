"""monitoring/: alert rules checked and unit-tested by promtool, the scrape config checked,
and the dashboard querying only metrics the function exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
PROMTOOL = shutil.which("promtool")


def promtool(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess:
    if PROMTOOL is None:
        pytest.fail("promtool is not installed: run `make system-deps` (Debian package prometheus)")
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_rules_are_valid():
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_rules_unit_tests_pass():
    result = promtool("test", "rules", "alerts_test.yml", cwd=MONITORING / "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test():
    alerts = set(re.findall(r"- alert: (\w+)", (MONITORING / "alerts.yml").read_text()))
    tested = set(
        re.findall(r"alertname: (\w+)", (MONITORING / "tests" / "alerts_test.yml").read_text())
    )
    assert alerts == tested


def test_scrape_config_is_valid():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def exported_metric_names() -> set[str]:
    # metrics.py defines them; accuracy.py the gauge computed at scrape time
    source = "\n".join(
        (ROOT / "function" / "observability" / name).read_text()
        for name in ("metrics.py", "accuracy.py")
    )
    names = set(re.findall(r'"(digitrun_[a-z_]+)"', source))
    counters = set(re.findall(r'Counter\(\s*"(digitrun_[a-z_]+)"', source))
    return names | {f"{n}_total" for n in counters}


def test_dashboard_queries_exported_metrics():
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\b(digitrun_[a-z_]+)", e)}
    known = exported_metric_names()
    for name in used:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in known or base in known, name
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in (
        "latency",
        "status code",
        "digit",
        "confidence",
        "drift",
        "confusion matrix",
        "production accuracy",
    ):
        assert topic in titles, topic
