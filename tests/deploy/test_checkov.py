"""checkov over terraform/, the Dockerfile and .github/workflows: zero failed checks, and
every skip carries its reason beside it. Plus the check checkov lacks: no public access to
the service that the public_access variable does not govern."""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.deploy import tf_public_access
from tests.deploy.conftest import CHECKOV, ROOT, TERRAFORM_DIR, require_tool
from tests.deploy.tf_config import TerraformConfig

# (what, the checkov target arguments, the framework that must have run)
TARGETS = {
    "terraform": (["--directory", "terraform"], "terraform"),
    "Dockerfile": (["--file", "Dockerfile"], "dockerfile"),
    "workflows": (["--directory", ".github/workflows"], "github_actions"),
}
SKIP_COMMENT = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?")
MIN_REASON = 30


def _scan(arguments: list[str], framework: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHECKOV), *arguments, "--framework", framework, "--skip-download", "--output", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def reports() -> dict[str, subprocess.CompletedProcess]:
    """The three scans, run side by side (each takes seconds, mostly start-up)."""
    require_tool(CHECKOV)
    for name, (arguments, _) in TARGETS.items():
        if not (ROOT / arguments[1]).exists():
            pytest.fail(f"{arguments[1]} is missing: checkov must scan {name}", pytrace=False)
    with ThreadPoolExecutor(len(TARGETS)) as pool:
        futures = {name: pool.submit(_scan, *target) for name, target in TARGETS.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("target", TARGETS)
def test_checkov_finds_no_failed_check(reports, target):
    result = reports[target]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    (report,) = report if isinstance(report, list) else [report]
    assert report["check_type"] == TARGETS[target][1]
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, summary
    assert summary["passed"] > 0, f"checkov ran no check on {target}: {summary}"
    failed = [
        f"{c['check_id']} {c['file_path']} {c.get('resource')}: {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert summary["failed"] == 0 and not failed, "\n".join(failed)
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment", "")
        assert len(reason) >= MIN_REASON, f"{skipped['check_id']} skipped without a reason"


def _scanned_files() -> list[Path]:
    return [
        *sorted(TERRAFORM_DIR.rglob("*.tf")),
        ROOT / "Dockerfile",
        *sorted((ROOT / ".github" / "workflows").glob("*.y*ml")),
    ]


def test_every_skip_has_its_reason_beside_it():
    skips = []
    for path in _scanned_files():
        for match in SKIP_COMMENT.finditer(path.read_text()):
            check, reason = match.group(1), (match.group(2) or "").strip()
            where = f"{path.relative_to(ROOT)}: {check}"
            assert len(reason) >= MIN_REASON, f"{where} is skipped without a written reason"
            skips.append(where)
    assert len(skips) < 10, f"so many skips hide real findings: {skips}"


# ---- public access -----------------------------------------------------------------------


def test_public_access_is_governed_by_the_variable_only():
    config = TerraformConfig.load(TERRAFORM_DIR)
    assert tf_public_access.findings(config) == []
    assert tf_public_access.governed(config) == ["google_cloud_run_v2_service.service"]
    public = config.variables["public_access"]
    assert public["type"] == "bool" and public["default"] is True, "public by default"


SERVICE_MEMBER = """
resource "google_cloud_run_v2_service_iam_member" "everyone" {{
  {repeat}
  name     = google_cloud_run_v2_service.service[0].name
  location = var.region
  role     = "roles/run.invoker"
  member   = "{member}"
}}
"""
PLANTED_PUBLIC = [
    ("allUsers invoker", SERVICE_MEMBER.format(repeat="", member="allUsers"), "everyone"),
    (
        "allAuthenticatedUsers invoker",
        SERVICE_MEMBER.format(repeat="", member="allAuthenticatedUsers"),
        "everyone",
    ),
    (
        "allUsers in a v1 binding",
        """
resource "google_cloud_run_service_iam_binding" "open" {
  service = "digitrun"
  role    = "roles/run.invoker"
  members = ["user:a@example.com", "allUsers"]
}
""",
        "google_cloud_run_service_iam_binding.open",
    ),
    ("a local holding allUsers", 'locals {\n  callers = ["allUsers"]\n}\n', "local.callers"),
]


@pytest.mark.parametrize(
    ("text", "address"), [p[1:] for p in PLANTED_PUBLIC], ids=[p[0] for p in PLANTED_PUBLIC]
)
def test_a_planted_public_grant_is_caught(text, address):
    texts = {p.name: p.read_text() for p in TERRAFORM_DIR.glob("*.tf")}
    texts["access.tf"] += text
    found = tf_public_access.findings(TerraformConfig.from_texts(texts))
    assert any(address in line for line in found), found


def test_invoker_check_disabled_outside_the_variable_is_caught():
    texts = {p.name: p.read_text() for p in TERRAFORM_DIR.glob("*.tf")}
    old = "invoker_iam_disabled = var.public_access"
    assert texts["service.tf"].count(old) == 1
    texts["service.tf"] = texts["service.tf"].replace(old, "invoker_iam_disabled = true")
    found = tf_public_access.findings(TerraformConfig.from_texts(texts))
    assert found == [
        "google_cloud_run_v2_service.service: invoker_iam_disabled = True, not var.public_access"
    ]


def test_a_grant_governed_by_the_variable_passes():
    texts = {p.name: p.read_text() for p in TERRAFORM_DIR.glob("*.tf")}
    texts["access.tf"] += SERVICE_MEMBER.format(
        repeat="count = var.public_access && local.deploy_service ? 1 : 0", member="allUsers"
    )
    config = TerraformConfig.from_texts(texts)
    assert tf_public_access.findings(config) == []
    assert "google_cloud_run_v2_service_iam_member.everyone" in tf_public_access.governed(config)
