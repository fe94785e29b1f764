"""The image's lock file: every wheel the serving image installs, by version and sha256.

    python -m scripts.lock_image [--check]      (make lock)

For each set in ``SETS`` (the serving image's) this resolves ``requirements/<set>.txt`` with
``requirements/constraints.txt`` for the Dockerfile's base, read from its ``FROM`` tag
(``python:3.11.14-slim-bookworm``: CPython 3.11, Debian bookworm's glibc 2.36, x86_64), with
``pip install --dry-run --report``: wheels only (``--only-binary=:all:``), from PyPI alone
(this machine's pip configuration, find-links and extra indexes are ignored: the image's
build sees PyPI only), only metadata downloaded. It writes ``requirements/<set>.lock``: one
``name==version`` per package, transitive ones included, each with the sha256 PyPI
publishes for the one wheel that platform installs (named in a comment). The Dockerfile
installs it with ``pip install --require-hashes --no-deps --only-binary=:all: -r ...``.

It refuses (exit 1, one line) a package constraints.txt does not pin, a wheel without a
sha256 from the index, or an interpreter whose environment markers differ from the image's
(pip evaluates ``python_version`` / ``platform_machine`` markers on the interpreter it runs
on, not on ``--python-version``). ``--check`` writes nothing: exit 1 when a checked-in lock
differs from a fresh resolution (the network is needed; tests/deploy/test_image_lock.py
checks a lock against the constraints offline). Run it after any pin moves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
DOCKERFILE = ROOT / "Dockerfile"
CONSTRAINTS = REQUIREMENTS / "constraints.txt"
# The requirement sets locked. Not yet "train": its closure adds setuptools and wheel,
# which constraints.txt does not pin (pip freeze leaves them out).
SETS = ("serving",)
INDEX_URL = "https://pypi.org/simple"
# glibc of the Debian release a python:*-slim-<release> image is built on.
DEBIAN_GLIBC = {"bullseye": 31, "bookworm": 36, "trixie": 41}
# PEP 600's names for the legacy manylinux tags: manylinux1 = 2.5, 2010 = 2.12, 2014 = 2.17.
LEGACY_MANYLINUX = {5: "manylinux1", 12: "manylinux2010", 17: "manylinux2014"}
# pip settings that only say how to reach the index (kept); every other PIP_* is dropped.
TRANSPORT = {"PIP_CERT", "PIP_CLIENT_CERT", "PIP_PROXY", "PIP_DEFAULT_TIMEOUT", "PIP_RETRIES"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)\s*$")


class LockError(RuntimeError):
    """The lock cannot be made; the message is one line for the user."""


@dataclass(frozen=True)
class Target:
    """The image's platform, read from the Dockerfile's base."""

    base: str  # e.g. python:3.11.14-slim-bookworm
    python: tuple[int, int]
    python_full: str
    glibc_minor: int
    machine: str = "x86_64"

    @property
    def platforms(self) -> list[str]:
        """pip's ``--platform`` values, most specific first: every manylinux glibc up to
        the base's (pip does not expand ``manylinux_2_X`` to the older ones itself)."""
        tags = []
        for minor in range(self.glibc_minor, 4, -1):
            tags.append(f"manylinux_2_{minor}_{self.machine}")
            if minor in LEGACY_MANYLINUX:
                tags.append(f"{LEGACY_MANYLINUX[minor]}_{self.machine}")
        return tags

    def describe(self) -> str:
        major, minor = self.python
        return f"CPython {major}.{minor}, manylinux glibc <= 2.{self.glibc_minor}, {self.machine}"


@dataclass(frozen=True)
class Pin:
    """One package of a lock: its version and the sha256 of the wheel the image installs."""

    name: str
    version: str
    sha256: str
    wheel: str


def canonical(name: str) -> str:
    """PEP 503's normalized name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def target_from_dockerfile(dockerfile: Path = DOCKERFILE) -> Target:
    """The platform of the Dockerfile's (one) base: python:<X.Y.Z>-slim-<debian release>."""
    names = set(re.findall(r"^FROM\s+(?:--\S+\s+)*(\S+)", dockerfile.read_text(), re.M | re.I))
    bases = {name.split("@")[0] for name in names if ":" in name}
    match = re.fullmatch(r"(?:.*/)?python:((\d+)\.(\d+)\.\d+)-slim-(\w+)", next(iter(bases), ""))
    if len(bases) != 1 or match is None or match[4] not in DEBIAN_GLIBC:
        raise LockError(f"{dockerfile.name}: expected one python:X.Y.Z-slim-<debian> base, {bases}")
    python = (int(match[2]), int(match[3]))
    return Target(bases.pop(), python, match[1], DEBIAN_GLIBC[match[4]])


def require_matching_interpreter(target: Target) -> None:
    """LockError unless this interpreter's markers are the image's (see the module doc)."""
    here = (sys.implementation.name, sys.version_info[:2], sys.platform, platform.machine())
    wanted = ("cpython", target.python, "linux", target.machine)
    if here != wanted:
        major, minor = target.python
        raise LockError(
            f"run this with CPython {major}.{minor} on Linux {target.machine} (the image's"
            f" environment markers), not {here[0]} {here[1][0]}.{here[1][1]} on {here[2]}"
            f" {here[3]}: e.g. `make lock`"
        )


def read_pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a constraints file: canonical name -> version."""
    pins = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.split("#", 1)[0].strip())
        if match:
            pins[canonical(match[1])] = match[2]
    return pins


def pip_environment() -> dict[str, str]:
    """This environment without the pip settings that choose where packages come from."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update({key: os.environ[key] for key in TRANSPORT if key in os.environ})
    env["PIP_CONFIG_FILE"] = os.devnull  # no pip.conf: no extra index, no find-links
    return env


def resolve(requirements: Path, constraints: Path, target: Target) -> list[Pin]:
    """Every package pip installs for ``requirements`` on ``target`` (dry run, PyPI only)."""
    major, minor = target.python
    with tempfile.TemporaryDirectory(prefix="lock-") as tmp:
        report = Path(tmp) / "report.json"
        argv = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet"]
        argv += ["--disable-pip-version-check", "--ignore-installed", "--index-url", INDEX_URL]
        argv += ["--only-binary=:all:", "--implementation", "cp", "--abi", f"cp{major}{minor}"]
        argv += ["--python-version", f"{major}.{minor}"]
        argv += [arg for tag in target.platforms for arg in ("--platform", tag)]
        argv += ["--report", str(report), "-r", str(requirements), "-c", str(constraints)]
        result = subprocess.run(
            argv, env=pip_environment(), capture_output=True, text=True, timeout=600
        )
        if result.returncode != 0:
            last = (result.stderr.strip() or result.stdout.strip() or "?").splitlines()[-1]
            raise LockError(f"pip could not resolve {requirements.name}: {last}")
        installs = json.loads(report.read_text())["install"]
    pins = []
    for item in installs:
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        info = item["download_info"]
        sha256 = info.get("archive_info", {}).get("hashes", {}).get("sha256")
        if not sha256:
            raise LockError(f"{name} {version}: the index gave no sha256 for {info['url']}")
        wheel = info["url"].rsplit("/", 1)[-1].split("#", 1)[0]
        pins.append(Pin(canonical(name), version, sha256, wheel))
    return sorted(pins, key=lambda pin: pin.name)


def require_constrained(pins: list[Pin], constraints: dict[str, str], where: str) -> None:
    """LockError unless constraints.txt pins every package at the version resolved."""
    wrong = [
        f"{pin.name}=={pin.version} (constraints: {constraints.get(pin.name, 'none')})"
        for pin in pins
        if constraints.get(pin.name) != pin.version
    ]
    if wrong:
        raise LockError(f"{where}: not as constraints.txt pins them: {', '.join(wrong)}")


def render(name: str, pins: list[Pin], target: Target) -> str:
    """The lock file's text: a header, then each pin with its hash and wheel."""
    lines = [
        f"# The {name} image's wheels, every one by sha256 (transitive packages included), for",
        f"# {target.base}: {target.describe()}.",
        f"# Generated from requirements/{name}.txt + requirements/constraints.txt by `make lock`",
        "# (python -m scripts.lock_image): do not edit; regenerate when a pin moves. The",
        "# Dockerfile installs it with pip install --require-hashes --no-deps --only-binary=:all:",
    ]
    for pin in pins:
        lines += [f"{pin.name}=={pin.version} \\", f"    --hash=sha256:{pin.sha256}"]
        lines.append(f"    # {pin.wheel}")
    return "\n".join(lines) + "\n"


def lock_text(name: str, target: Target) -> str:
    """A fresh lock for one set (requirements/<name>.txt)."""
    pins = resolve(REQUIREMENTS / f"{name}.txt", CONSTRAINTS, target)
    require_constrained(pins, read_pins(CONSTRAINTS), f"{name}.txt")
    return render(name, pins, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.lock_image",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    try:
        target = target_from_dockerfile()
        require_matching_interpreter(target)
        for name in SETS:
            path = REQUIREMENTS / f"{name}.lock"
            text = lock_text(name, target)
            if args.check:
                fresh = path.is_file() and path.read_text() == text
                stale += [] if fresh else [path.name]
                print(f"{path.name}: {'up to date' if fresh else 'STALE'}")
                continue
            path.write_text(text)
            count = text.count("--hash=")
            print(f"{path.relative_to(ROOT)}: {count} wheels for {target.describe()}")
    except (LockError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    if stale:
        stale_names = ", ".join(stale)
        print(f"error: {stale_names}: not a fresh resolution: run `make lock`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
