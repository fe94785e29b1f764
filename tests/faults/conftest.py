"""Fault tests: the real gcp-storage-emulator as a child process that a test stops
(SIGTERM), restarts on the same port and data, or pauses (SIGSTOP/SIGCONT); publishers in
child processes killed at chosen moments; real servers (the serving tests' fixtures)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from scripts.local_stack import ROOT, child_env, free_port, gcs_emulator
from tests.conftest import BUCKET
from tests.function.conftest import manifest, start_server  # noqa: F401 (fixtures)


class Emulator:
    """gcp-storage-emulator persisting to ``data_dir``: stop, start again, pause, resume."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._stack: contextlib.ExitStack | None = None
        self.pid: int | None = None

    def start(self) -> None:
        stack = contextlib.ExitStack()
        stack.enter_context(gcs_emulator(self.data_dir, BUCKET, self.port))
        self._stack = stack
        (self.pid,) = [child.pid for child in psutil.Process().children() if self._mine(child)]

    def _mine(self, process: psutil.Process) -> bool:
        try:
            argv = process.cmdline()
        except psutil.Error:  # exited (or a zombie) meanwhile: not the running emulator
            return False
        return "gcp-storage-emulator" in " ".join(argv) and str(self.port) in argv

    def stop(self) -> None:
        """SIGTERM (the way ``gcs_emulator`` ends it), waited for."""
        if self._stack is not None:
            self.resume()
            self._stack.close()
            self._stack = self.pid = None

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.pid is not None:
            os.kill(self.pid, signal.SIGCONT)


@pytest.fixture
def gcs(tmp_path: Path) -> Iterator[Emulator]:
    """A running emulator with bucket ``digitrun-test``, stopped at the end."""
    emulator = Emulator(tmp_path / "gcs")
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


PUBLISHER = """
import sys, time
from pathlib import Path
from function.contract.manifest import Manifest
from model.publish import publish_version

directory = Path(sys.argv[1])
manifest = Manifest.parse((directory / "manifest.json").read_bytes())
print("ready", flush=True)
started = time.monotonic()
print(publish_version(directory, manifest, sys.argv[2]), flush=True)
print(f"seconds {time.monotonic() - started:.4f}", flush=True)
"""


def start_publisher(directory: Path, base_uri: str, **env: str) -> subprocess.Popen:
    """``publish_version(directory, its manifest, base_uri)`` in a child process; it prints
    ``ready`` just before publishing (read it with :func:`wait_ready`)."""
    return subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(directory), base_uri],
        cwd=ROOT,
        env=child_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_ready(publisher: subprocess.Popen, timeout: float = 30) -> None:
    """Block until the publisher printed ``ready`` (at most ``timeout`` seconds)."""
    ready, _, _ = select.select([publisher.stdout], [], [], timeout)
    line = publisher.stdout.readline() if ready else ""
    if line.strip() != "ready":
        publisher.kill()
        raise AssertionError(f"publisher not ready: {line!r} {publisher.communicate()[1]}")
