"""terraform/ offline: formatting, the traffic module's `terraform test`, the variables'
validations evaluated by Terraform itself, and the configuration parsed and held to what
the function and the delivery need (probes, env, mount, identity, scaling, bucket...)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from function.config import Settings
from function.protocols.routing import routing_table
from function.web import paths
from function.web.app import App
from function.web.context import Context
from function.web.routes import Router
from tests.deploy.conftest import ROOT, TERRAFORM_DIR
from tests.deploy.tf_config import TerraformConfig, is_block, nested, only, parse_text
from tests.protocols.conftest import call
from tests.protocols.fake import FakeModel

TRAFFIC_MODULE = TERRAFORM_DIR / "modules" / "traffic"
PIPELINE_OUTPUTS = {
    "service_url",
    "candidate_url",
    "serving_revision",
    "latest_revision",
    "model_bucket",
    "image_repository",
    "wif_provider",
    "deployer_service_account",
    "runtime_service_account",
}
PIPELINE_VARIABLES = {
    "project_id",
    "region",
    "image",
    "revision_suffix",
    "stable_revision",
    "candidate_percent",
    "model_version",
}
ENV_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)`(?: / `([A-Z][A-Z0-9_]*)`)? \|", re.M)


def terraform(binary: Path, *args: str, cwd: Path, data_dir: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",  # no version check over the network
        "TF_CLI_CONFIG_FILE": os.devnull,
        "TF_DATA_DIR": str(data_dir),  # no .terraform/ in the source tree
    }
    return subprocess.run(
        [str(binary), *args, "-no-color"] if args[0] != "fmt" else [str(binary), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def config() -> TerraformConfig:
    return TerraformConfig.load(TERRAFORM_DIR)


@pytest.fixture(scope="module")
def service(config):
    return config.resource("google_cloud_run_v2_service", "service")


@pytest.fixture(scope="module")
def template(service):
    return only(service["template"], "template")


@pytest.fixture(scope="module")
def main_container(config, template):
    containers = nested(template, "containers")
    named = [c for c in containers if config.resolve(c.get("name")) == "digitrun"]
    assert len(named) == 1, containers
    return named[0]


# ---- Terraform itself --------------------------------------------------------------------


def test_terraform_fmt_is_clean(terraform_bin, tmp_path):
    result = terraform(
        terraform_bin, "fmt", "-check", "-recursive", "-diff", cwd=TERRAFORM_DIR, data_dir=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_traffic_module_terraform_test(terraform_bin, tmp_path):
    init = terraform(terraform_bin, "init", "-backend=false", cwd=TRAFFIC_MODULE, data_dir=tmp_path)
    assert init.returncode == 0, init.stdout + init.stderr
    result = terraform(terraform_bin, "test", cwd=TRAFFIC_MODULE, data_dir=tmp_path)
    runs = sum(
        len(re.findall(r'^run "', p.read_text(), re.M))
        for p in (TRAFFIC_MODULE / "tests").glob("*.tftest.hcl")
    )
    assert runs >= 4
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{runs} passed, 0 failed" in result.stdout, result.stdout
    for scenario in ("first_deploy", "canary_at_zero", "promotion", "candidate_equal_to_stable"):
        assert f'run "{scenario}' in result.stdout


VALID = {
    "project_id": "my-project-123",
    "state_bucket": "my-project-123-tfstate",
    "github_repository": "my-org/digitrun",
    "github_repository_id": "123456789",
    "image": "europe-west1-docker.pkg.dev/my-project-123/digitrun/digitrun@sha256:" + "a" * 64,
    "revision_suffix": "1a2b3c4",
    "model_version": "20261125T004753Z-25cc2b10",
}
# (case, variables over VALID, the variable whose validation must refuse it; None: accepted)
VALIDATIONS = [
    ("valid", {}, None),
    ("sidecar_with_cpu_always_allocated", {"prometheus_sidecar": True, "cpu_idle": False}, None),
    ("foundations_only", {"image": "", "revision_suffix": "", "model_version": ""}, None),
    ("image_by_tag", {"image": "europe-west1-docker.pkg.dev/p/digitrun/digitrun:latest"}, "image"),
    (
        "image_not_in_artifact_registry",
        {"image": "docker.io/library/python@sha256:" + "a" * 64},
        "image",
    ),
    ("image_without_revision_suffix", {"revision_suffix": ""}, "revision_suffix"),
    ("model_version_not_an_id", {"model_version": "latest"}, "model_version"),
    ("cpu_not_offered", {"cpu": "3"}, "cpu"),
    ("memory_under_gen2_minimum", {"memory": "256Mi"}, "memory"),
    ("no_instances", {"max_instances": 0}, "max_instances"),
    ("max_instances_over_cap", {"max_instances": 1000}, "max_instances"),
    ("min_over_max", {"min_instances": 5, "max_instances": 2}, "max_instances"),
    ("sidecar_with_cpu_idle", {"prometheus_sidecar": True, "cpu_idle": True}, "cpu_idle"),
    ("allusers_as_invoker", {"invoker_members": ["allUsers"]}, "invoker_members"),
    ("metrics_on_serving_port", {"metrics_port": 8080}, "metrics_port"),
    ("percent_over_100", {"candidate_percent": 150}, "candidate_percent"),
    ("stable_revision_not_a_name", {"stable_revision": "Digitrun_1"}, "stable_revision"),
    ("service_name_too_long", {"service_name": "a-very-long-service-name"}, "service_name"),
    ("repository_without_owner", {"github_repository": "digitrun"}, "github_repository"),
    (
        "sidecar_image_unpinned",
        {"prometheus_sidecar_image": "example/sidecar:latest"},
        "prometheus_sidecar_image",
    ),
    ("concurrency_zero", {"concurrency_per_cpu": 0}, "concurrency_per_cpu"),
    ("two_digit_region", {"region": "europe-west10"}, None),
    ("region_not_a_region", {"region": "Europe"}, "region"),
]


def _hcl_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_hcl_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_variable_validations_refuse_bad_values(terraform_bin, tmp_path):
    """variables.tf alone is provider-less: Terraform evaluates its validations offline."""
    module = tmp_path / "variables"
    (module / "tests").mkdir(parents=True)
    shutil.copy(TERRAFORM_DIR / "variables.tf", module / "variables.tf")
    runs = []
    for case, overrides, refused in VALIDATIONS:
        values = {**VALID, **overrides}
        lines = "\n".join(f"    {k} = {_hcl_value(v)}" for k, v in values.items())
        expect = f"  expect_failures = [var.{refused}]\n" if refused else ""
        runs.append(
            f'run "{case}" {{\n  command = plan\n  variables {{\n{lines}\n  }}\n{expect}}}\n'
        )
    (module / "tests" / "validations.tftest.hcl").write_text("\n".join(runs))
    data = tmp_path / "data"
    init = terraform(terraform_bin, "init", "-backend=false", cwd=module, data_dir=data)
    assert init.returncode == 0, init.stdout + init.stderr
    result = terraform(terraform_bin, "test", cwd=module, data_dir=data)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(VALIDATIONS)} passed, 0 failed" in result.stdout, result.stdout


# ---- the configuration, parsed -----------------------------------------------------------


def test_every_variable_is_typed_described_and_validated():
    for directory in (TERRAFORM_DIR, TRAFFIC_MODULE):
        for name, body in TerraformConfig.load(directory).variables.items():
            where = f"{directory.relative_to(ROOT)}: variable {name}"
            assert "type" in body, f"{where} has no type"
            assert len(body.get("description", "")) > 15, f"{where} has no description"
            if body["type"] != "bool":
                assert is_block(body.get("validation")), f"{where} is not validated"


def test_the_pipeline_variables_and_outputs_exist(config):
    assert set(config.variables) >= PIPELINE_VARIABLES
    assert set(config.outputs) >= PIPELINE_OUTPUTS, PIPELINE_OUTPUTS - set(config.outputs)
    for name, body in config.outputs.items():
        assert body.get("description"), f"output {name} has no description"
    assert config.variables["candidate_percent"]["default"] == 0
    assert config.variables["stable_revision"]["default"] == ""


def test_model_version_is_pinned_in_model_auto_tfvars():
    values = parse_text((TERRAFORM_DIR / "model.auto.tfvars").read_text())
    assert set(values) == {"model_version"}
    assert values["model_version"] == "" or re.fullmatch(
        r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}", values["model_version"]
    )


def test_tfvars_example_sets_every_variable_without_a_default(config):
    example = parse_text((TERRAFORM_DIR / "terraform.tfvars.example").read_text())
    required = {name for name, body in config.variables.items() if "default" not in body}
    assert required <= set(example), required - set(example)
    assert set(example) <= set(config.variables)


def test_probe_paths_are_routes_the_function_serves(template, main_container):
    """The probes name the V2 health routes, and the routing table answers GET on them."""
    startup = only(main_container["startup_probe"], "startup_probe")
    liveness = only(main_container["liveness_probe"], "liveness_probe")
    probes = {
        only(startup["http_get"], "http_get")["path"]: paths.V2_READY,
        only(liveness["http_get"], "http_get")["path"]: paths.V2_LIVE,
    }
    assert list(probes) == list(probes.values())
    ctx = Context.create(FakeModel(), Settings(model_uri="unused", metrics=False))
    app = App(ctx, Router(routing_table(ctx, "deploy-test"), ctx.model.version))
    for path in probes:
        answer = call(app, "GET", path)
        assert answer.status == 200, (path, answer.body)
    del template


def _function_env_names() -> set[str]:
    """What the function reads: its settings in function/config.py and the environment
    tables of the README's serving and metrics sections."""
    tree = ast.parse((ROOT / "function" / "config.py").read_text())
    from_code = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"[A-Z][A-Z0-9_]{2,}", node.value)
    }
    readme = (ROOT / "README.md").read_text()
    from_readme = {name for row in ENV_ROW.findall(readme) for name in row if name}
    # Both sources found what they must (neither derivation can silently come back empty).
    assert {"MODEL_URI", "WORKERS", "LOG_LEVEL", "METRICS_PORT"} <= from_code
    assert {"MODEL_URI", "PORT", "CLOUD_RUN_TIMEOUT_SECONDS", "METRICS"} <= from_readme
    return from_readme | from_code


def test_env_names_are_ones_the_function_reads(template):
    readable = _function_env_names()
    for container in nested(template, "containers"):
        names = [env["name"] for env in nested(container, "env")]
        assert len(names) == len(set(names)), names
        assert set(names) <= readable, set(names) - readable
        assert "PORT" not in names, "Cloud Run sets PORT"
    main = {env["name"] for env in nested(nested(template, "containers")[0], "env")}
    assert {"MODEL_URI", "WORKERS"} <= main


def test_training_job_env_names_are_ones_the_training_job_reads(config):
    """Documented in the README's training table (the environment column)."""
    readme = (ROOT / "README.md").read_text()
    training = readme[readme.index("## The training job") : readme.index("## The serving function")]
    documented = set(re.findall(r"\| `([A-Z][A-Z0-9_]+)` \|", training))
    assert {"MLFLOW_TRACKING_URI", "LOG_LEVEL"} <= documented
    job = config.resource("google_cloud_run_v2_job", "train")
    (container,) = nested(job, "template", "template", "containers")
    names = {env["name"] for env in nested(container, "env")}
    assert names <= documented, names - documented


def test_workers_equal_the_cpu_limit_and_cpu_idle_is_explicit(template, main_container):
    env = {e["name"]: e["value"] for e in nested(main_container, "env") if "value" in e}
    resources = only(main_container["resources"], "resources")
    assert env["WORKERS"] == resources["limits"]["cpu"] == "${var.cpu}"
    assert resources["startup_cpu_boost"] is True
    for container in nested(template, "containers"):
        assert "cpu_idle" in only(container["resources"], "resources"), container.get("name")


def test_model_mount_and_model_uri_agree(config, template, main_container):
    volumes = {v["name"]: v for v in nested(template, "volumes")}
    (mount,) = [m for m in nested(main_container, "volume_mounts") if m["name"] == "models"]
    gcs = only(volumes[mount["name"]]["gcs"], "gcs")
    assert gcs["bucket"] == "${google_storage_bucket.models.name}"
    assert gcs["read_only"] is True
    mount_path = config.resolve(mount["mount_path"])
    assert mount_path == "/mnt/models"
    env = {
        e["name"]: config.resolve(e["value"]) for e in nested(main_container, "env") if "value" in e
    }
    assert env["MODEL_URI"] == f"{mount_path}/models/${{var.model_version}}"
    # ... and the training job publishes under the same prefix of the same bucket.
    job = config.resource("google_cloud_run_v2_job", "train")
    (container,) = nested(job, "template", "template", "containers")
    args = [config.resolve(a) for a in container["args"]]
    assert args[args.index("--publish") + 1] == "gs://${google_storage_bucket.models.name}/models"


def test_runtime_account_is_never_the_default_one(config, template):
    assert template["service_account"] == "${google_service_account.runtime.email}"
    job = config.resource("google_cloud_run_v2_job", "train")
    (task,) = nested(job, "template", "template")
    assert task["service_account"] == "${google_service_account.trainer.email}"
    for name, text in config.texts.items():
        assert "compute@developer.gserviceaccount.com" not in text, name
    assert not config.resources("google_service_account_key"), "no service-account keys"


def test_image_by_digest_named_revision_gen2(config, template, main_container):
    assert main_container["image"] == "${var.image}"
    image_rules = str(config.variables["image"]["validation"])
    assert "@sha256:[0-9a-f]{64}" in image_rules
    assert config.resolve(template["revision"]) == "${var.service_name}-${var.revision_suffix}" or (
        template["revision"] == "${local.revision_name}"
        and "var.revision_suffix" in config.locals["revision_name"]
    )
    assert template["execution_environment"] == "EXECUTION_ENVIRONMENT_GEN2"


def test_scaling_concurrency_timeout_and_protection(config, service, template):
    scaling = only(template["scaling"], "scaling")
    assert scaling["max_instance_count"] == "${var.max_instances}"
    assert scaling["min_instance_count"] == "${var.min_instances}"
    max_rules = str(config.variables["max_instances"]["validation"])
    assert "var.max_instances <= 100" in max_rules and "var.min_instances" in max_rules
    assert "var.concurrency_per_cpu" in template["max_instance_request_concurrency"]
    assert "BENCHMARKS.md" in config.texts["service.tf"], "say how concurrency was sized"
    assert template["timeout"] == "${var.request_timeout_seconds}s"
    assert service["deletion_protection"] == "${var.deletion_protection}"
    assert config.variables["deletion_protection"]["default"] is True


def test_traffic_comes_from_the_traffic_module(config, service):
    (module,) = [b.body for b in config.of_kind("module") if b.labels == ("traffic",)]
    assert module["source"] == "./modules/traffic"
    assert module["candidate_revision"] == "${local.revision_name}"
    (traffic,) = [d["traffic"] for d in service["dynamic"] if "traffic" in d]
    assert traffic["for_each"] == "${module.traffic.targets}"
    assert "traffic" not in service, "no static traffic block beside the module's"


def test_model_bucket_flags(config):
    bucket = config.resource("google_storage_bucket", "models")
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["force_destroy"] is False
    assert only(bucket["versioning"], "versioning")["enabled"] is True
    rule = only(bucket["lifecycle_rule"], "lifecycle_rule")
    condition = only(rule["condition"], "condition")
    assert "days_since_noncurrent_time" in condition and condition["with_state"] == "ARCHIVED"
    assert only(rule["action"], "action")["type"] == "Delete"


def test_artifact_registry_keeps_the_last_images(config):
    repository = config.resource("google_artifact_registry_repository", "images")
    assert repository["format"] == "DOCKER"
    assert only(repository["docker_config"], "docker_config")["immutable_tags"] is True
    assert repository["cleanup_policy_dry_run"] is False
    policies = {p["action"]: p for p in repository["cleanup_policies"]}
    keep = only(policies["KEEP"]["most_recent_versions"], "most_recent_versions")
    assert keep["keep_count"] == "${var.keep_images}"
    assert "DELETE" in policies


def test_workload_identity_pins_repository_and_branch(config):
    provider = config.resource("google_iam_workload_identity_pool_provider", "github")
    condition = provider["attribute_condition"]
    for clause in (
        "assertion.repository_id == '${var.github_repository_id}'",
        "assertion.repository == '${var.github_repository}'",
        "assertion.ref == 'refs/heads/${var.github_branch}'",
    ):
        assert clause in condition, condition
    oidc = only(provider["oidc"], "oidc")
    assert oidc["issuer_uri"] == "https://token.actions.githubusercontent.com"
    binding = config.resource("google_service_account_iam_member", "github_deploys")
    assert binding["role"] == "roles/iam.workloadIdentityUser"
    assert binding["member"].endswith("/attribute.repository_id/${var.github_repository_id}")


def test_every_deployer_role_is_explained_in_the_readme(config):
    readme = (TERRAFORM_DIR / "README.md").read_text()
    roles = set(re.findall(r'"(roles/[A-Za-z.]+)"', config.texts["deployer.tf"]))
    roles |= set(re.findall(r'"(roles/[A-Za-z.]+)"', config.texts["github_oidc.tf"]))
    assert "roles/run.admin" in roles and len(roles) >= 8
    table = readme[readme.index("### The deployer's roles") :]
    missing = {role for role in roles if f"`{role}`" not in table}
    assert not missing, f"roles without a reason in terraform/README.md: {missing}"
    assert "roles/owner" not in roles and "roles/editor" not in roles


def test_the_feedback_secret_comes_from_secret_manager(config, main_container):
    """Every instance signs prediction ids with the same key, read from Secret Manager (its
    value never in Terraform), and the runtime account may read that secret."""
    (entry,) = [e for e in nested(main_container, "env") if e["name"] == "FEEDBACK_SECRET"]
    assert "value" not in entry
    ref = only(only(entry["value_source"], "value_source")["secret_key_ref"], "secret_key_ref")
    assert ref["secret"] == "${google_secret_manager_secret.feedback.secret_id}"
    assert ref["version"] == "latest"
    member = config.resource("google_secret_manager_secret_iam_member", "runtime_reads_feedback")
    assert member["role"] == "roles/secretmanager.secretAccessor"
    assert member["member"] == "${google_service_account.runtime.member}"
    versions = config.resources("google_secret_manager_secret_version")
    assert all("feedback" not in str(block.body.get("secret")) for block in versions)
