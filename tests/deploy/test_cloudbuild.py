"""cloudbuild.yaml: the deploy pipeline for users on Cloud Build.

Every substitution used is defined (and every one defined is used: triggered builds run
with ALLOW_LOOSE, where a misspelt one silently becomes empty), shell variables are
escaped, every step has an id and they run one after another in the pipeline's order,
logging and the build service account are set, the pushed image is listed under `images:`,
the images are pinned; and the build run for real, step by step, with the stand-ins of
test_workflows.py for docker, gcloud, terraform, the model check, the client and Locust.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.deploy.conftest import ROOT
from tests.deploy.test_workflows import (
    CANDIDATE_URL,
    DIGEST,
    NEW_VERSION,
    PINNED,
    install_shims,
    load,
)

CLOUDBUILD = ROOT / "cloudbuild.yaml"
DEPLOY = ROOT / ".github" / "workflows" / "deploy.yml"
DOCKERFILE = ROOT / "Dockerfile"
# Cloud Build's own substitutions (the trigger ones are passed by hand to `builds submit`).
BUILTINS = {
    "PROJECT_ID",
    "BUILD_ID",
    "PROJECT_NUMBER",
    "LOCATION",
    "TRIGGER_NAME",
    "COMMIT_SHA",
    "REVISION_ID",
    "SHORT_SHA",
    "REPO_NAME",
    "REPO_FULL_NAME",
    "BRANCH_NAME",
    "TAG_NAME",
    "REF_NAME",
    "TRIGGER_BUILD_CONFIG_PATH",
    "SERVICE_ACCOUNT_EMAIL",
    "SERVICE_ACCOUNT",
}
REFERENCE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
ORDER = (
    "test",
    "build",
    "push",
    "digest",
    "model-check",
    "terraform-init",
    "stable-revision",
    "apply-candidate",
    "smoke",
    "load",
    "promote",
)
IMAGE = "europe-west1-docker.pkg.dev/proj/digitrun/digitrun"
SHA = "0123456789abcdef0123456789abcdef01234567"


def config() -> dict:
    return yaml.safe_load(CLOUDBUILD.read_text())


def steps() -> dict[str, dict]:
    return {step["id"]: step for step in config()["steps"]}


def strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


def references() -> set[str]:
    """Every substitution the build uses (``$$`` is an escaped ``$``)."""
    used = {k: v for k, v in config().items() if k != "substitutions"}
    return {
        m[1] or m[2]
        for text in strings(used)
        for part in text.split("$$")
        for m in REFERENCE.finditer(part)
    }


def substitute(text: str, values: dict[str, str]) -> str:
    """Cloud Build's substitution: ``$X`` / ``${X}`` replaced, ``$$`` left as ``$``."""

    def one(match: re.Match[str]) -> str:
        return values[match[1] or match[2]]

    return "$".join(REFERENCE.sub(one, part) for part in text.split("$$"))


def script(step: dict) -> tuple[str, str] | None:
    """(shell, script) of a step that runs a script; None for a plain command."""
    if step.get("entrypoint") in ("bash", "sh"):
        assert step["args"][0] == "-c" and len(step["args"]) == 2, step["id"]
        return step["entrypoint"], step["args"][1]
    return None


def test_every_substitution_used_is_defined():
    defined = set(config()["substitutions"])
    for name in references():
        assert name in BUILTINS or name in defined, (
            f"${name} is neither a built-in nor in substitutions "
            "(a shell variable is written $$NAME)"
        )


def test_every_substitution_defined_is_used_and_user_defined():
    defined = set(config()["substitutions"])
    assert all(name.startswith("_") for name in defined)
    assert defined - references() == set()
    for name in ("_REGION", "_REPOSITORY", "_SERVICE", "_TF_STATE_BUCKET", "_MIN_ACCURACY"):
        assert name in defined


def test_every_step_has_an_id_and_runs_after_the_previous_one():
    ids = [step.get("id") for step in config()["steps"]]
    assert all(ids) and len(set(ids)) == len(ids), ids
    assert all("waitFor" not in step for step in config()["steps"])


def test_logging_and_the_build_service_account_are_set():
    build = config()
    assert build["options"]["logging"] == "CLOUD_LOGGING_ONLY"
    assert re.fullmatch(
        r"projects/\$PROJECT_ID/serviceAccounts/\$\{_\w+\}@\$PROJECT_ID\.iam\.gserviceaccount\.com",
        build["serviceAccount"],
    )


def test_images_lists_the_image_the_pipeline_pushes():
    by_id = steps()
    pushed = by_id["push"]["args"]
    assert pushed[0] == "push"
    assert config()["images"] == [pushed[1]]
    assert pushed[1].endswith("/digitrun:$COMMIT_SHA")
    assert f"IMAGE={pushed[1]}" in by_id["build"]["env"]


def test_steps_run_in_the_pipeline_order():
    ids = [step["id"] for step in config()["steps"]]
    assert [i for i in ids if i in ORDER] == list(ORDER)
    by_id = steps()
    expected = {
        "test": r"\bmake test\b",
        "model-check": r"python -m model check .*\n.*--min-accuracy",
        "apply-candidate": r"\bapply\b[\s\S]*candidate_percent=0\n",
        "smoke": r"python -m client --url",
        "load": r"locust -f loadtest/locustfile.py",
        "promote": r"\bapply\b[\s\S]*candidate_percent=100\n",
    }
    for step_id, pattern in expected.items():
        assert re.search(pattern, script(by_id[step_id])[1]), step_id
    assert not re.search(r"gcloud\s+run\s+deploy", CLOUDBUILD.read_text())


def test_images_are_pinned_to_the_versions_the_repository_uses():
    terraform = load(DEPLOY)["jobs"]["deploy"]["steps"]
    version = next(
        s["with"]["terraform_version"] for s in terraform if "setup-terraform" in s.get("uses", "")
    )
    base = re.search(r"^FROM (\S+)", DOCKERFILE.read_text(), re.M)[1]
    for step in config()["steps"]:
        name = step["name"]
        if name.startswith("hashicorp/terraform"):
            assert name == f"hashicorp/terraform:{version}", step["id"]
        elif name.startswith("python"):
            assert name == base, step["id"]
        else:  # Google's builders, which Cloud Build keeps current
            assert name in ("gcr.io/cloud-builders/docker", "gcr.io/cloud-builders/gcloud")


def test_every_script_parses():
    values = dict.fromkeys(BUILTINS | set(config()["substitutions"]), "x")
    for step in config()["steps"]:
        if (found := script(step)) is not None:
            shell, text = found
            done = subprocess.run(
                [shell, "-n"],
                input=substitute(text, values),
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, f"{step['id']}: {done.stderr}"


# --- the build, run --------------------------------------------------------------------


@dataclass
class Build:
    calls: list[str]
    failed_step: str | None
    log: str


def run_build(tmp_path: Path, pinned: str = PINNED, **substitutions: str) -> Build:
    """The steps in order as Cloud Build runs them (substitutions applied, /workspace the
    working directory), stopping at the first failure."""
    build = config()
    values = {
        "PROJECT_ID": "proj",
        "COMMIT_SHA": SHA,
        "BUILD_ID": "b1",
        **build["substitutions"],
        "_REGION": "europe-west1",
        "_MODEL_BUCKET": "models-bucket",
        "_TF_STATE_BUCKET": "state-bucket",
        "_GITHUB_REPOSITORY": "owner/digitrun",
        "_GITHUB_REPOSITORY_ID": "123456789",
        **substitutions,
    }
    workdir = tmp_path / "workspace"
    base: dict[str, str] = {}
    install_shims(workdir, base, pinned)
    base.update({k: values.pop(k) for k in list(values) if k.startswith("FAKE_")})
    log = []
    for step in build["steps"]:
        env = dict(base)
        for item in step.get("env", []):
            name, value = substitute(item, values).split("=", 1)
            env[name] = value.replace("/workspace", str(workdir))
        found = script(step)
        if found is None:
            tool = step["name"].rsplit("/", 1)[-1].split(":")[0]
            command = [tool, *(substitute(arg, values) for arg in step["args"])]
        else:
            shell, text = found
            command = [shell, "-c", substitute(text, values).replace("/workspace", str(workdir))]
        done = subprocess.run(
            command, cwd=workdir, env=env, capture_output=True, text=True, timeout=30, check=False
        )
        log.append(f"[{step['id']}] {done.stdout}{done.stderr}")
        if done.returncode != 0:
            return Build(calls(workdir), step["id"], "".join(log))
    return Build(calls(workdir), None, "".join(log))


def calls(workdir: Path) -> list[str]:
    path = workdir / "calls.log"
    return path.read_text().splitlines() if path.exists() else []


def applies(build: Build) -> list[str]:
    return [c.split("-lock-timeout=15m ")[1] for c in build.calls if " apply " in c]


def test_the_build_applies_the_image_by_digest_at_0_then_100_percent(tmp_path):
    build = run_build(tmp_path, FAKE_STABLE="digitrun-1111111")
    assert build.failed_step is None, build.log
    candidate = (
        f"-var image={IMAGE}@{DIGEST} -var revision_suffix={SHA[:7]} "
        "-var stable_revision=digitrun-1111111 -var candidate_percent="
    )
    assert applies(build) == [candidate + "0", candidate + "100"]
    sequence = [
        next(i for i, c in enumerate(build.calls) if c.startswith(prefix))
        for prefix in (
            "make test",
            f"docker build --pull -t {IMAGE}:{SHA} .",
            f"docker push {IMAGE}:{SHA}",
            f"python -m model check gs://models-bucket/models/{PINNED} --min-accuracy 0.98",
            "terraform -chdir=terraform init -input=false -lock-timeout=15m "
            "-backend-config=bucket=state-bucket -backend-config=prefix=digitrun",
            "terraform -chdir=terraform apply",
            f"python -m client --url {CANDIDATE_URL} --digits 50 --min-accuracy 0.95",
            f"locust -f loadtest/locustfile.py --headless -u 8 -r 8 -t 30s --host {CANDIDATE_URL}",
            "gates p99=1000 failures=0.01",
        )
    ]
    promote = [i for i, c in enumerate(build.calls) if " apply " in c][1]
    assert sequence == sorted(sequence) and promote > sequence[-1]
    assert not any("jobs execute" in c for c in build.calls)  # _TRAIN=false
    assert f"serving digitrun-{SHA[:7]}" in build.log


def test_the_first_deploy_passes_an_empty_stable_revision(tmp_path):
    build = run_build(tmp_path, FAKE_STABLE="")
    assert build.failed_step is None, build.log
    assert len(applies(build)) == 2
    assert all("-var stable_revision= -var" in a for a in applies(build))


def test_a_failed_smoke_test_stops_the_build_before_promotion(tmp_path):
    build = run_build(tmp_path, FAKE_STABLE="digitrun-1111111", FAKE_CLIENT_RC="1")
    assert build.failed_step == "smoke"
    assert [a.rsplit(" ", 1)[1] for a in applies(build)] == ["candidate_percent=0"]


def test_a_model_under_the_floor_applies_nothing(tmp_path):
    build = run_build(tmp_path, FAKE_STABLE="digitrun-1111111", FAKE_CHECK_RC="1")
    assert build.failed_step == "model-check" and applies(build) == []


def test_missing_buckets_fail_the_first_step(tmp_path):
    build = run_build(tmp_path, _MODEL_BUCKET="", _TF_STATE_BUCKET="", _GITHUB_REPOSITORY_ID="")
    assert build.failed_step == "check-substitutions" and build.calls == []
    assert (
        "set the substitutions: _MODEL_BUCKET _TF_STATE_BUCKET _GITHUB_REPOSITORY_ID" in build.log
    )


def test_training_publishes_a_version_and_leaves_production_pinned(tmp_path):
    build = run_build(tmp_path, _TRAIN="true", FAKE_STABLE="digitrun-1111111")
    assert build.failed_step is None, build.log
    train = [c for c in build.calls if "--target train" in c or "gcloud run jobs" in c]
    assert train == [
        f"docker build --target train -t {IMAGE}-train:{SHA} .",
        f"gcloud run jobs update digitrun-train --region europe-west1 "
        f"--image {IMAGE}-train@{DIGEST} --quiet",
        "gcloud run jobs execute digitrun-train --region europe-west1 --wait",
    ]
    assert f'commit model_version = "{NEW_VERSION}"' in build.log
    tfvars = tmp_path / "workspace" / "terraform" / "model.auto.tfvars"
    assert tfvars.read_text() == f'model_version = "{PINNED}"\n'
    assert any(f"model check gs://models-bucket/models/{PINNED}" in c for c in build.calls)


def test_with_no_version_pinned_it_trains_and_deploys_nothing(tmp_path):
    build = run_build(tmp_path, pinned="", FAKE_STABLE="")
    assert build.failed_step is None, build.log
    assert "gcloud run jobs execute digitrun-train --region europe-west1 --wait" in build.calls
    assert not any(c.startswith(("terraform", "python -m model check")) for c in build.calls)
    assert "nothing to deploy" in build.log


def test_a_pin_that_is_not_a_version_id_fails_before_anything_runs(tmp_path):
    build = run_build(tmp_path, pinned="latest")
    assert build.failed_step == "pinned-version" and build.calls == []
    assert 'model_version "latest" is not a version id' in build.log
