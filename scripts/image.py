"""The Cloud Run image, built and run here with podman (no Docker engine, no registry).

    python -m scripts.image build [--target train] [--tag NAME]
    python -m scripts.image test  [--model VERSION_DIR] [--digits N] [--report FILE]

``build`` makes a stand-in for the Dockerfile's base image when podman's store lacks the
exact name in its ``FROM`` (Debian's debootstrap: minbase bookworm with python3,
python3-venv and ca-certificates, ``python`` -> python3, the host's CA bundle; the root
filesystem is cached as a tarball under ``.run/image/`` and imported with ``podman
import``), then builds the UNCHANGED Dockerfile with ``podman --runtime runc build``.
``test`` (alias ``run``) builds, then runs the serving image as Cloud Run runs it: the
image's non-root user, ``PORT`` set, a read-only root filesystem with a tmpfs ``/tmp``, a
published model version mounted read-only where Terraform mounts the bucket
(``/mnt/models/models/<version>``); it sends real test digits through every protocol,
checks the start-up log has no ERROR line, stops it with SIGTERM, and prints the image
size, the start-to-ready time and every step's wall time. Exit 1 with one line on failure.
The measured recipe and flags: ../shared/STACK-NOTES.md ("Containers").
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scripts.local_stack import ROOT, ServerProcess, free_port

DOCKERFILE = ROOT / "Dockerfile"
CACHE_DIR = ROOT / ".run" / "image"
SERVING_TAG = "localhost/digitrun:local"
TRAIN_TAG = "localhost/digitrun-train:local"
# crun fails here ("cgroups in hybrid mode not supported"); runc works.
PODMAN = ("podman", "--runtime", "runc")
# Lowered, not raised: without both, runc fails with "error setting rlimit ... not permitted".
ULIMITS = ("--ulimit", "nofile=16384:16384", "--ulimit", "nproc=4096:4096")
# Where Terraform mounts the model bucket (/mnt/models) + the versions' prefix (models/).
MODELS_MOUNT = "/mnt/models/models"
# What Cloud Run sets in every container (the function does not read them).
CLOUD_RUN_ENV = {
    "K_SERVICE": "digitrun",
    "K_REVISION": "digitrun-local",
    "K_CONFIGURATION": "digitrun",
}
SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SERVED_FILE = "model.tflite"
# The config the real python:*-slim image carries (`podman import` starts from none).
BASE_CHANGES = (
    "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
PROBLEM = re.compile(r"\b(ERROR|CRITICAL|Traceback)\b")


class ImageError(RuntimeError):
    """A step failed; the message is one line for the user."""


@dataclass
class Timings:
    """Wall time of each step, in seconds, in the order they ran."""

    steps: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.steps[name] = round(time.monotonic() - started, 2)


def require(*tools: str) -> None:
    """ImageError naming the make target when a tool is not installed."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise ImageError(f"{', '.join(missing)} not found: run `make system-deps`")


def run_step(argv: list[str], log_path: Path | None, timeout: float) -> None:
    """Run one command; its output goes to ``log_path`` (this terminal when None)."""
    what = " ".join(argv[:4] if argv[0] == PODMAN[0] else argv[:1])
    if log_path is None:
        code = subprocess.run(argv, timeout=timeout, check=False).returncode
        where = ""
    else:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("w") as log:
            code = subprocess.run(
                argv, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False
            ).returncode
        lines = log_path.read_text(errors="replace").strip().splitlines()
        where = f"; output in {log_path} (last line: {lines[-1] if lines else ''})"
    if code != 0:
        raise ImageError(f"{what} failed with exit {code}{where}")


def base_image(dockerfile: Path = DOCKERFILE) -> str:
    """The one image the Dockerfile's stages start FROM, fully qualified."""
    stages: set[str] = set()
    bases: set[str] = set()
    pattern = r"^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$"
    for match in re.finditer(pattern, dockerfile.read_text(), re.MULTILINE | re.IGNORECASE):
        if match[1] not in stages:
            bases.add(match[1])
        if match[2]:
            stages.add(match[2])
    if len(bases) != 1:
        raise ImageError(f"{dockerfile.name} should start every stage from one base, not {bases}")
    name = bases.pop()
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return name
    return f"docker.io/{name}" if rest else f"docker.io/library/{name}"


def rootfs_tarball(cache_dir: Path = CACHE_DIR) -> Path:
    """The cached stand-in root filesystem, named for its recipe."""
    recipe = json.dumps([SUITE, "minbase", PACKAGES, MIRROR, BASE_CHANGES, "no apt cache"])
    return cache_dir / f"debootstrap-{SUITE}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}.tar"


def make_rootfs(tarball: Path, timings: Timings, quiet: bool) -> None:
    """debootstrap the stand-in's root filesystem and cache it as ``tarball``."""
    require("debootstrap", "tar")
    if os.geteuid() != 0:
        raise ImageError("debootstrap needs root: run `make image` as root (or with sudo)")
    if not HOST_CA_BUNDLE.is_file():
        raise ImageError(f"{HOST_CA_BUNDLE} not found: the build's pip needs the host's CA bundle")
    work = tarball.with_suffix(".d")
    shutil.rmtree(work, ignore_errors=True)
    rootfs = work / "rootfs"
    include = ",".join(PACKAGES)
    argv = ["debootstrap", "--variant=minbase", f"--include={include}", SUITE, str(rootfs), MIRROR]
    with timings.step("debootstrap"):
        run_step(argv, None if not quiet else work / "debootstrap.log", timeout=1200)
    python = rootfs / "usr/local/bin/python"
    python.parent.mkdir(parents=True, exist_ok=True)
    python.unlink(missing_ok=True)
    python.symlink_to("/usr/bin/python3")
    shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
    # The real slim image keeps no downloaded packages or package lists (~100 MB here).
    for leftover in (
        *rootfs.glob("var/cache/apt/*.bin"),
        *rootfs.glob("var/cache/apt/archives/*.deb"),
    ):
        leftover.unlink()
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)
    partial = tarball.with_suffix(".partial")
    with timings.step("rootfs tarball"):
        run_step(["tar", "-C", str(rootfs), "-cf", str(partial), "."], None, timeout=600)
    partial.rename(tarball)
    shutil.rmtree(work)


def ensure_base(timings: Timings, quiet: bool = False, cache_dir: Path = CACHE_DIR) -> str:
    """The Dockerfile's base in podman's store: kept if present, else imported from the cached
    tarball, else bootstrapped. Returns what was done: present, imported or bootstrapped."""
    require("podman", "runc")
    name = base_image()
    if subprocess.run([*PODMAN, "image", "exists", name], check=False).returncode == 0:
        return "present"
    tarball = rootfs_tarball(cache_dir)
    done = "imported"
    if not tarball.is_file():
        make_rootfs(tarball, timings, quiet)
        done = "bootstrapped"
    changes = [arg for change in BASE_CHANGES for arg in ("--change", change)]
    with timings.step("import"):
        run_step([*PODMAN, "import", "--quiet", *changes, str(tarball), name], None, timeout=600)
    return done


def build(
    timings: Timings,
    tag: str = SERVING_TAG,
    target: str | None = None,
    log_path: Path | None = None,
) -> None:
    """``podman build`` of the unchanged Dockerfile (its last stage unless ``target``)."""
    argv = [*PODMAN, "build", "--network=host", "--pull=never", "-f", str(DOCKERFILE), "-t", tag]
    if target:
        argv += ["--target", target]
    with timings.step(f"build {target or 'serving'}"):
        run_step([*argv, str(ROOT)], log_path, timeout=3600)


def inspect(tag: str) -> dict:
    """``podman image inspect`` of ``tag``."""
    result = subprocess.run(
        [*PODMAN, "image", "inspect", tag], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ImageError(f"no image {tag}: run `python -m scripts.image build` first")
    return json.loads(result.stdout)[0]


@dataclass
class Container:
    """A running container of the serving image, reached on the host's loopback."""

    name: str
    server: ServerProcess
    ready_seconds: float

    @property
    def url(self) -> str:
        return self.server.url

    def log(self) -> str:
        return self.server.log()

    def exec(self, *argv: str) -> subprocess.CompletedProcess:
        """A command inside the container (as the image's user)."""
        return subprocess.run(
            [*PODMAN, "exec", self.name, *argv], capture_output=True, text=True, timeout=30
        )

    def terminate(self, timeout: float = STOP_TIMEOUT) -> tuple[float, int | None]:
        """SIGTERM to the container's process: (seconds until it exited, its exit code, or
        None if it still ran after ``timeout``)."""
        started = time.monotonic()
        subprocess.run([*PODMAN, "kill", "--signal", "TERM", self.name], capture_output=True)
        try:
            code: int | None = self.server.wait_exit(timeout)
        except subprocess.TimeoutExpired:
            code = None
        return round(time.monotonic() - started, 2), code


def run_argv(tag: str, name: str, port: int, version_dir: Path, env: dict[str, str]) -> list[str]:
    """``podman run`` as Cloud Run runs the service (the image's own user and command)."""
    mount = f"{MODELS_MOUNT}/{version_dir.name}"
    settings = {**CLOUD_RUN_ENV, **env, "PORT": str(port), "MODEL_URI": mount}
    return [
        *PODMAN,
        "run",
        "--rm",
        f"--name={name}",
        "--network=host",
        *ULIMITS,
        "--read-only",
        "--read-only-tmpfs=false",
        "--tmpfs=/tmp:rw,nosuid,nodev,mode=1777",
        f"--volume={version_dir.resolve()}:{mount}:ro",
        *(f"--env={key}={value}" for key, value in settings.items()),
        tag,
    ]


@contextlib.contextmanager
def serving_container(
    version_dir: Path,
    log_path: Path,
    tag: str = SERVING_TAG,
    env: dict[str, str] | None = None,
    ready_timeout: float = READY_TIMEOUT,
) -> Iterator[Container]:
    """The serving image running on a free port, yielded once ``/v2/health/ready`` answers
    200; removed on exit. ``ready_seconds`` counts from ``podman run``."""
    require("podman", "runc")
    port = free_port()
    name = f"digitrun-{os.getpid()}-{port}"
    started = time.monotonic()
    server = ServerProcess(
        run_argv(tag, name, port, version_dir, env or {}), dict(os.environ), port, log_path
    )
    try:
        server.wait_ready(ready_timeout)
        yield Container(name, server, round(time.monotonic() - started, 2))
    finally:
        subprocess.run([*PODMAN, "rm", "--force", "--time=0", name], capture_output=True)
        server.stop()


def problem_lines(log: str) -> list[str]:
    """The log's ERROR / CRITICAL / traceback lines."""
    return [line for line in log.splitlines() if PROBLEM.search(line)]


def newest_version(base: Path) -> Path:
    """The newest complete version (with a manifest) under ``base``."""
    versions = sorted(p.parent for p in base.glob("*/manifest.json"))
    if not versions:
        raise ImageError(f"no published version under {base}: run `make train` or pass --model")
    return versions[-1]


def confident_digits(version_dir: Path, mnist_path: str | None, classes: int = 10) -> list:
    """Real test digits, one per class (up to ``classes``), that the version's own model
    gets right with probability >= 0.9, so a PNG's resampling cannot flip them: (uint8
    28x28 image, label) pairs. MNIST from ``mnist_path``, else Keras' download."""
    import numpy as np  # noqa: PLC0415 (only for a run: `build` needs the stdlib alone)

    from function.contract.spec import SPEC  # noqa: PLC0415
    from function.runtime.litert import LiteRTModel  # noqa: PLC0415

    if mnist_path:
        with np.load(mnist_path) as data:
            images, labels = data["x_test"][:1000], data["y_test"][:1000]
    else:
        import keras  # noqa: PLC0415

        (_, _), (images, labels) = keras.datasets.mnist.load_data()
        images, labels = images[:1000], labels[:1000]
    model = LiteRTModel(version_dir / SERVED_FILE)
    probabilities = model.predict(SPEC.input.scale(images))
    picked: dict[int, object] = {}
    for image, label, p in zip(images, labels, probabilities, strict=True):
        sure = p.argmax() == label and p.max() >= 0.9
        if sure and len(picked) < classes and int(label) not in picked:
            picked[int(label)] = image
    return [(picked[label], label) for label in sorted(picked)]


def check_serving(
    version_dir: Path,
    digits: list[tuple],
    log_path: Path,
    tag: str = SERVING_TAG,
) -> dict:
    """Run the serving image and check it as the test does: the report (figures, answers
    per protocol, and the failures). ``digits`` are (uint8 28x28 image, label) pairs."""
    from scripts.demo_requests import PROTOCOLS  # noqa: PLC0415 (numpy, PIL: only for a run)

    labels = [label for _, label in digits]
    report: dict = {"image": tag, "size_mb": round(inspect(tag)["Size"] / 1e6, 1)}
    with serving_container(version_dir, log_path, tag) as container:
        report["ready_seconds"] = container.ready_seconds
        start_log = problem_lines(container.log())
        uid = container.exec("python", "-c", "import os; print(os.getuid())").stdout.strip()
        report["uid"] = uid
        report["answers"] = {
            name: [send(container.url, image) for image, _ in digits]
            for name, send in PROTOCOLS.items()
        }
        report["stop_seconds"], report["exit_code"] = container.terminate()
        full_log = problem_lines(container.log())
    report["labels"] = labels
    failures = report["failures"] = []
    if uid in ("", "0"):
        failures.append(f"the container runs as uid {uid or '?'}, not the image's user")
    wrong = [name for name, answers in report["answers"].items() if answers != labels]
    if wrong or not labels:
        failures.append(f"wrong answers from {wrong or 'every protocol (no digits)'}")
    if start_log or full_log:
        failures.append(f"ERROR lines in the log: {(start_log or full_log)[:3]}")
    if report["exit_code"] != 0:
        failures.append(
            f"SIGTERM: exit code {report['exit_code']} after {report['stop_seconds']} s"
            f" (not a clean stop within {STOP_TIMEOUT:.0f} s)"
        )
    return report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.image",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build_parser = sub.add_parser("build", help="stand-in base if missing, then podman build")
    build_parser.add_argument("--target", choices=["train"], help="a stage other than the last")
    build_parser.add_argument("--tag", help=f"default {SERVING_TAG} ({TRAIN_TAG} for train)")
    for name in ("test", "run"):
        test_parser = sub.add_parser(name, help="build, run as Cloud Run does, and check")
        test_parser.add_argument("--tag", default=SERVING_TAG)
        test_parser.add_argument(
            "--model",
            type=Path,
            help="a published version directory (default: the newest under ./models)",
        )
        test_parser.add_argument(
            "--digits", type=int, default=10, help="test digits to send (one per class)"
        )
        test_parser.add_argument("--no-build", action="store_true", help="use the tag as is")
        test_parser.add_argument("--report", type=Path, help="also write the report as JSON")
    return parser.parse_args(argv)


def print_timings(timings: Timings) -> None:
    for name, seconds in timings.steps.items():
        print(f"  {name:<22} {seconds:8.1f} s")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    timings = Timings()
    try:
        if args.command == "build":
            with timings.step("base image"):
                print(f"base {base_image()}: {ensure_base(timings)}")
            tag = args.tag or (TRAIN_TAG if args.target else SERVING_TAG)
            build(timings, tag, args.target)
            print(f"{tag}: {inspect(tag)['Size'] / 1e6:.0f} MB")
            print_timings(timings)
            return 0
        version = (args.model or newest_version(ROOT / "models")).resolve()
        if not (version / "manifest.json").is_file():
            raise ImageError(f"{version} is not a published version (no manifest.json)")
        try:
            digits = confident_digits(version, os.environ.get("MNIST_PATH"), args.digits)
        except Exception as exc:  # a missing file, or Keras' download failing offline
            raise ImageError(f"no test digits ({exc}): set MNIST_PATH to an mnist.npz") from exc
        if not args.no_build:
            with timings.step("base image"):
                ensure_base(timings)
            build(timings, args.tag)
        with timings.step("run and check"):
            report = check_serving(version, digits, CACHE_DIR / "container.log", args.tag)
        report["timings"] = timings.steps
    except (ImageError, subprocess.TimeoutExpired, RuntimeError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    print(f"{'protocol':<32} " + " ".join(f"{label:>3}" for label in report["labels"]))
    for name, answers in report["answers"].items():
        print(f"{name:<32} " + " ".join(f"{answer:>3}" for answer in answers))
    print(f"image {report['image']}: {report['size_mb']} MB")
    print(f"start to ready: {report['ready_seconds']} s (podman run → /v2/health/ready 200)")
    print(f"SIGTERM → exit {report['exit_code']} in {report['stop_seconds']} s")
    print_timings(timings)
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    if report["failures"]:
        print(f"error: {'; '.join(report['failures'])}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
