"""What the load goes to: a given URL, or the local stack started here (the GCS emulator
keeping its bucket under ``.run/gcs`` like ``make run``, the newest published version of the
architecture reused or, when there is none, one trained with ``python -m model train`` and
published there, and the function serving it), stopped when the run ends."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loadtest import say
from scripts.local_stack import ROOT, child_env, gcs_emulator, start_function

BUCKET = "digitrun-local"  # make run's bucket: its published versions are reused
PREFIX = "models"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Target:
    url: str
    metrics_url: str | None
    model: str | None = None  # the model URI, when the stack was started here
    server_log: Path | None = None
    server_pid: int | None = None  # the server's master, when the stack was started here


def published(arch: str, base: str) -> str | None:
    """The newest complete version under ``base`` that :func:`train` would publish now
    (``arch``, and the quantization ``train`` serves by default), if any."""
    from model.arguments import quantization_from_env  # noqa: PLC0415
    from model.publish import newest_version  # noqa: PLC0415 (storage client, local stack only)

    return newest_version(base, arch, quantization_from_env())


def train(arch: str, base: str, data: str | None, env: dict[str, str]) -> str:
    """``python -m model train``, published to ``base``; the new version's URI."""
    command = [sys.executable, "-m", "model", "train", "--arch", arch, "--publish", base]
    if data:
        command += ["--data", data]
    say(f"== no published {arch} model: training one ({' '.join(command[1:])})")
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"training failed (exit {done.returncode})")
    return done.stdout.strip().splitlines()[-1]


@contextlib.contextmanager
def local_stack(
    state: Path, arch: str, data: str | None, workers: int, log_dir: Path
) -> Iterator[Target]:
    """The emulator, a published model and the function on a free loopback port."""
    with gcs_emulator(state / "gcs", BUCKET) as emulator:
        os.environ["STORAGE_EMULATOR_HOST"] = emulator
        env = child_env(STORAGE_EMULATOR_HOST=emulator)
        base = f"gs://{BUCKET}/{PREFIX}"
        uri = published(arch, base) or train(arch, base, data, env)
        say(f"== serving {uri} (emulator {emulator})")
        log = log_dir / "server.log"
        server = start_function(
            child_env(STORAGE_EMULATOR_HOST=emulator, MODEL_URI=uri, WORKERS=str(workers)),
            log_path=log,
        )
        try:
            server.wait_ready(START_TIMEOUT)
            yield Target(server.url, f"{server.url}/metrics", uri, log, server.process.pid)
        finally:
            server.stop()


@contextlib.contextmanager
def target(
    host: str | None,
    metrics_url: str | None,
    state: Path,
    arch: str,
    data: str | None,
    workers: int,
    log_dir: Path,
) -> Iterator[Target]:
    """``host`` as given, else the local stack."""
    if host:
        host = host.rstrip("/")
        yield Target(host, metrics_url or f"{host}/metrics")
        return
    with local_stack(state, arch, data, workers, log_dir) as started:
        yield Target(
            started.url, metrics_url or started.metrics_url, started.model, started.server_log
        )
