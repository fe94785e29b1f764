"""The serving image installs its dependencies by hash (issue 20, supply chain).

requirements/serving.lock (made by ``make lock``, scripts/lock_image.py) pins every package
the serving image installs, transitive ones included, with the sha256 of its wheel; the
Dockerfile installs it with ``pip install --require-hashes --no-deps --only-binary=:all:``.
Offline and fast: the lock is read here with pip's file rules (continuation lines,
comments), and serving's closure is computed independently, from requirements/serving.txt
and the dependency metadata of the installed packages (the test venv holds every pinned
version), so the lock, serving.txt and constraints.txt cannot drift apart. The image built
from it with podman is tests/deploy/test_image.py.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
from dataclasses import dataclass

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scripts.lock_image import target_from_dockerfile
from tests.deploy.conftest import ROOT

REQUIREMENTS = ROOT / "requirements"
LOCK = REQUIREMENTS / "serving.lock"
LOCK_IN_IMAGE = "requirements/serving.lock"
DOCKERFILE = ROOT / "Dockerfile"
HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")
INSTALL_FLAGS = ("--require-hashes", "--no-deps", "--only-binary=:all:")


@dataclass(frozen=True)
class Locked:
    version: str
    hashes: tuple[str, ...]


def logical_lines(text: str) -> list[str]:
    """A requirements file's lines as pip reads them: comments dropped, ``\\`` joined."""
    lines, current = [], ""
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        lines.append(current + line)
        current = ""
    assert not current, f"the file ends in a continuation: {current!r}"
    return lines


def read_lock(text: str) -> dict[str, Locked]:
    """The lock's requirements: canonical name -> version and hashes. Fails on anything
    but ``name==version --hash=sha256:... [--hash=...]`` (no option, no other file)."""
    locked: dict[str, Locked] = {}
    for line in logical_lines(text):
        requirement, *options = line.split()
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;=<>!~]+)", requirement)
        assert match, f"not an exact pin: {line!r}"
        bad = [option for option in options if not HASH.fullmatch(option)]
        assert not bad, f"{requirement}: {bad} (only --hash=sha256:<64 hex> may follow a pin)"
        name = canonicalize_name(match[1])
        assert name not in locked, f"{name} is locked twice"
        locked[name] = Locked(match[2], tuple(HASH.fullmatch(o)[1] for o in options))
    return locked


def pins(path) -> dict[str, str]:
    """``name==version`` pins of a requirements file (canonical names)."""
    found = {}
    for line in logical_lines(path.read_text()):
        if line.startswith("-"):
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{path.name}: {line} is not pinned"
        found[canonicalize_name(requirement.name)] = spec.version
    return found


def image_markers() -> dict[str, str]:
    """Environment markers as the image's interpreter evaluates them."""
    target = target_from_dockerfile(DOCKERFILE)
    environment = default_environment()
    environment.update(
        python_version="{}.{}".format(*target.python),
        python_full_version=target.python_full,
        implementation_name="cpython",
        platform_python_implementation="CPython",
        sys_platform="linux",
        platform_system="Linux",
        os_name="posix",
        platform_machine=target.machine,
    )
    return environment


def closure(roots: list[Requirement], constraints: dict[str, str]) -> set[str]:
    """Every package ``roots`` need on the image, from the installed packages' metadata
    (each checked to be the version constraints.txt pins: else it is not their metadata)."""
    markers = image_markers()
    seen: set[str] = set()
    expanded: set[tuple[str, tuple[str, ...]]] = set()
    pending = [(root, "") for root in roots]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({**markers, "extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        key = (name, tuple(sorted(requirement.extras)))
        if key in expanded:
            continue
        expanded.add(key)
        seen.add(name)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{name} is not installed in the test venv: run `make setup`")
        assert dist.version == constraints.get(name), (
            f"{name}: the test venv has {dist.version}, constraints.txt pins"
            f" {constraints.get(name)}: run `make setup`"
        )
        for line in dist.requires or []:
            pending += [(Requirement(line), e) for e in ["", *key[1]]]
    return seen


def dockerfile_stages() -> dict[str, list[str]]:
    """Each stage's instructions, continuation lines joined, comments dropped."""
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for instruction in logical_lines(DOCKERFILE.read_text()):
        if instruction.upper().startswith("FROM "):
            words = instruction.split()
            current = stages.setdefault(words[-1] if len(words) >= 4 else words[1], [])
        current.append(instruction)
    return stages


@pytest.fixture(scope="module")
def locked() -> dict[str, Locked]:
    assert LOCK.is_file(), "requirements/serving.lock is missing: run `make lock`"
    return read_lock(LOCK.read_text())


@pytest.fixture(scope="module")
def constraints() -> dict[str, str]:
    return pins(REQUIREMENTS / "constraints.txt")


def test_every_locked_requirement_is_pinned_with_a_sha256(locked):
    assert len(locked) >= 20, sorted(locked)
    unhashed = sorted(name for name, entry in locked.items() if not entry.hashes)
    assert not unhashed, f"no --hash for {unhashed}"


def test_the_lock_holds_the_versions_constraints_pins(locked, constraints):
    drifted = {
        name: (entry.version, constraints.get(name))
        for name, entry in locked.items()
        if constraints.get(name) != entry.version
    }
    assert not drifted, f"lock vs constraints.txt (name: (lock, constraints)): {drifted}"


def test_the_lock_is_exactly_servings_closure(locked, constraints):
    serving = REQUIREMENTS / "serving.txt"
    roots = [Requirement(line) for line in logical_lines(serving.read_text())]
    for root in roots:
        name = canonicalize_name(root.name)
        assert name in locked and root.specifier.contains(locked[name].version), (
            f"serving.txt wants {root}, the lock has {locked.get(name)}"
        )
    needed = closure(roots, constraints)
    assert not needed - set(locked), f"missing from the lock: {sorted(needed - set(locked))}"
    assert not set(locked) - needed, f"not needed by serving.txt: {sorted(set(locked) - needed)}"


def test_the_lock_was_made_for_the_dockerfiles_base():
    base = target_from_dockerfile(DOCKERFILE).base
    header = [line for line in LOCK.read_text().splitlines() if line.startswith("#")]
    assert any(base in line for line in header), f"the lock's header does not name {base}"


def test_the_serving_venv_is_installed_from_the_lock_by_hash():
    stages = dockerfile_stages()
    deps = stages.get("serving-deps")
    assert deps, f"no serving-deps stage in {sorted(stages)}"
    copies = [line for line in deps if line.startswith("COPY ")]
    assert any(LOCK_IN_IMAGE in line for line in copies), copies
    installs = [
        command
        for line in deps
        if line.startswith("RUN ")
        for command in re.split(r"&&|;", line[4:])
        if re.search(r"\bpip install\b", command)
    ]
    assert len(installs) == 1, installs
    words = shlex.split(installs[0])
    missing = [flag for flag in INSTALL_FLAGS if flag not in words]
    assert not missing, f"pip install without {missing}: {installs[0]}"
    files = [words[i + 1] for i, word in enumerate(words) if word in ("-r", "-c")]
    assert files == [LOCK_IN_IMAGE], f"the serving venv installs {files}, not the lock alone"
    final = list(stages.values())[-1]
    assert any(re.match(r"COPY --from=serving-deps /venv /venv$", line) for line in final)
    assert not [line for line in final if "pip install" in line], "the last stage installs"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert f"!{LOCK_IN_IMAGE}" in ignored, ".dockerignore leaves the lock out of the context"
