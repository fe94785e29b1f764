"""Every resource, data source, block and argument of terraform/ against the google
provider's schema, since `terraform validate` cannot fetch the provider offline: provider
6.50.0 as the npm package @cdktf/provider-google 16.12.1 carries it (tests/deploy/
schema_google.py reads it). And proof that the check catches the mistakes it is for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT, TERRAFORM_DIR
from tests.deploy.schema_google import ProviderSchema, package_version
from tests.deploy.tf_config import TerraformConfig
from tests.deploy.tf_schema_check import check, checked_blocks

PACKAGE_VERSION = "16.12.1"
PROVIDER_VERSION = "6.50.0"
DIRECTORIES = [
    TERRAFORM_DIR,
    *sorted(p for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir()),
]


@pytest.fixture(scope="session")
def schema(node_modules: Path) -> ProviderSchema:
    return ProviderSchema(node_modules)


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(TERRAFORM_DIR.glob("*.tf"))}


def test_bindings_are_the_pinned_package_of_the_pinned_provider(node_modules, schema):
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]
    assert pinned["@cdktf/provider-google"] == PACKAGE_VERSION  # exact, no range
    assert package_version(node_modules) == PACKAGE_VERSION
    assert schema.provider_version == PROVIDER_VERSION
    assert schema.count("resource") > 1000 and schema.count("data") > 300


def _satisfies(version: str, constraint: str) -> bool:
    """Terraform's version constraint syntax (=, !=, >, >=, <, <=, ~>), comma-separated."""
    have = tuple(int(part) for part in version.split("."))
    for clause in constraint.split(","):
        operator, wanted = re.fullmatch(r"\s*(~>|>=|<=|!=|=|>|<)?\s*([0-9.]+)\s*", clause).groups()
        parts = tuple(int(part) for part in wanted.split("."))
        padded = parts + (0,) * (3 - len(parts))
        if operator == "~>":
            upper = (*parts[:-2], parts[-2] + 1) if len(parts) > 1 else (parts[0] + 1,)
            ok = have >= padded and have[: len(upper)] < upper
        else:
            ok = {
                None: have == padded,
                "=": have == padded,
                "!=": have != padded,
                ">": have > padded,
                ">=": have >= padded,
                "<": have < padded,
                "<=": have <= padded,
            }[operator]
        if not ok:
            return False
    return True


def test_versions_tf_pins_terraform_and_admits_the_checked_provider():
    config = TerraformConfig.load(TERRAFORM_DIR)
    (block,) = [b.body for b in config.of_kind("terraform")]
    assert _satisfies("1.11.0", block["required_version"])
    assert not _satisfies("1.10.9", block["required_version"])
    google = block["required_providers"][0]["google"]
    assert google["source"] == "hashicorp/google"
    assert _satisfies(PROVIDER_VERSION, google["version"]), google["version"]
    assert not _satisfies("5.45.0", google["version"])
    assert "gcs" in block["backend"][0], "the state lives in a gcs backend"
    assert _satisfies("6.50.0", "~> 6.50") and not _satisfies("7.0.0", "~> 6.50")  # the helper


@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda p: str(p.relative_to(ROOT)))
def test_configuration_matches_the_provider_schema(schema, directory):
    findings = check(TerraformConfig.load(directory), schema)
    assert not findings, "\n".join(findings)


def test_every_google_block_is_checked(texts):
    config = TerraformConfig.from_texts(texts)
    checked = checked_blocks(config)
    declared = config.of_kind("resource") + config.of_kind("data")
    assert len(checked) == len(declared) + 1  # + the provider block
    assert all(b.labels[0].startswith("google_") for b in declared)
    for address in (
        "google_cloud_run_v2_service.service",
        "google_cloud_run_v2_job.train",
        "google_storage_bucket.models",
        "google_artifact_registry_repository.images",
        "google_iam_workload_identity_pool_provider.github",
        "provider.google",
    ):
        assert address in checked


CPU_IDLE = "        cpu_idle          = var.cpu_idle\n"
PLANTED = [
    # (what, file, [(old, new), ...] or an appended text, a fragment of the expected finding)
    (
        "misspelt argument",
        "service.tf",
        [("max_instance_request_concurrency =", "max_instance_request_concurency =")],
        "service.template: unknown argument 'max_instance_request_concurency' "
        "(did you mean 'max_instance_request_concurrency'?)",
    ),
    (
        "block written as an argument",
        "service.tf",
        [("    scaling {\n", "    scaling = {\n")],
        "service.template: scaling is a block: write `scaling { ... }`",
    ),
    (
        "block written as a list of objects",
        "storage.tf",
        [("  versioning {\n    enabled = true\n  }", "  versioning = [{ enabled = true }]")],
        "google_storage_bucket.models: versioning is a block",
    ),
    (
        "argument at the wrong depth",
        "service.tf",
        [(CPU_IDLE, ""), ("      image = var.image\n", "      image = var.image\n" + CPU_IDLE)],
        "service.template.containers: unknown argument 'cpu_idle'",
    ),
    (
        "argument written as a block",
        "service.tf",
        [("  invoker_iam_disabled = var.public_access\n", "  invoker_iam_disabled {\n  }\n")],
        "service.service: invoker_iam_disabled is an argument",
    ),
    (
        "missing required argument",
        "storage.tf",
        [("  location = var.region\n", "")],
        "google_storage_bucket.models: missing required argument 'location'",
    ),
    (
        "unknown resource type",
        "artifact_registry.tf",
        [
            (
                '"google_artifact_registry_repository" "images"',
                '"google_artifact_repository" "images"',
            )
        ],
        "unknown resource type 'google_artifact_repository'",
    ),
    (
        "dynamic block of an unknown name",
        "service.tf",
        [('dynamic "env" {', 'dynamic "environment" {')],
        "containers: dynamic 'environment': 'environment' is not a block here",
    ),
    (
        "unknown argument inside a dynamic block's content",
        "service.tf",
        [('          name  = "METRICS_PORT"', '          key   = "METRICS_PORT"')],
        "containers.env(dynamic): unknown argument 'key'",
    ),
    (
        "reference to an attribute the resource does not have",
        "outputs.tf",
        [("google_service_account.runtime.email", "google_service_account.runtime.mail")],
        "google_service_account.runtime has no attribute 'mail'",
    ),
    (
        "unknown data source",
        "locals.tf",
        'data "google_projects_info" "this" {}\n',
        "unknown data source 'google_projects_info'",
    ),
    (
        "misspelt data source argument",
        "locals.tf",
        'data "google_project" "this" {\n  projct_id = var.project_id\n}\n',
        "data.google_project.this: unknown argument 'projct_id' (did you mean 'project_id'?)",
    ),
    (
        "misspelt provider argument",
        "providers.tf",
        [("  region  = var.region", "  regoin  = var.region")],
        "provider.google: unknown argument 'regoin'",
    ),
]


@pytest.mark.parametrize(
    ("file", "edits", "expected"),
    [pytest.param(file, edits, expected, id=what) for what, file, edits, expected in PLANTED],
)
def test_a_planted_mistake_is_caught(schema, texts, file, edits, expected):
    text = texts[file]
    if isinstance(edits, str):
        text += "\n" + edits
    else:
        for old, new in edits:
            assert text.count(old) == 1, f"the plant must match exactly once in {file}: {old!r}"
            text = text.replace(old, new)
    findings = check(TerraformConfig.from_texts({**texts, file: text}), schema)
    assert any(expected in finding for finding in findings), "\n".join(findings)


def test_a_valid_data_source_passes(schema, texts):
    """The data-source path accepts what it should (the planted ones are not refused for
    being data sources)."""
    planted = {
        **texts,
        "locals.tf": texts["locals.tf"]
        + 'data "google_project" "this" {\n  project_id = var.project_id\n}\n',
    }
    assert check(TerraformConfig.from_texts(planted), schema) == []
