"""Processes of the local stack, shared by ``make run``, the tests and the benchmark: the
GCS emulator and the function (or any server), each started as a child process, waited for
with a bounded timeout, and stopped on exit. One ``free_port``, one server launcher."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
READY_PATH = "/v2/health/ready"
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    """Wait until ``port`` accepts connections; fail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def stop(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


@contextlib.contextmanager
def gcs_emulator(data_dir: Path, bucket: str, port: int | None = None) -> Iterator[str]:
    """gcp-storage-emulator persisting to ``data_dir`` with ``bucket``; yields its URL."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            str(BIN / "gcp-storage-emulator"),
            "-d",
            str(data_dir),
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--default-bucket",
            bucket,
            "-q",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, timeout=20)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment plus ``extra``, with the project importable."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def functions_framework_command(port: int, source: str, asgi: bool = True) -> list[str]:
    """``functions-framework`` serving ``source``'s ``serve`` on 127.0.0.1:``port``."""
    mode = ["--asgi"] if asgi else []
    return [
        str(BIN / "functions-framework"),
        *mode,
        "--target=serve",
        f"--source={source}",
        f"--port={port}",
        "--host=127.0.0.1",
    ]


def function_command(port: int) -> list[str]:
    """The container's start command (Dockerfile CMD), as a plain process on ``port``."""
    return functions_framework_command(port, "function/main.py")


def wait_http(
    url: str,
    timeout: float,
    method: str = "GET",
    body: bytes | None = None,
    process: subprocess.Popen | None = None,
) -> None:
    """Poll ``url`` until it answers 200, for at most ``timeout`` seconds (and no longer
    than ``process`` lives)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        request = urllib.request.Request(
            url, data=body, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


class ServerProcess:
    """One server process on 127.0.0.1:``port``: started at once, its output in
    ``log_path`` (discarded when None, this terminal when ``inherit``), stopped by SIGTERM."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        port: int,
        log_path: Path | None = None,
        inherit: bool = False,
        cpu: str | None = None,
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = log_path.open("wb") if log_path is not None else None
        output = None if inherit else (self._log or subprocess.DEVNULL)
        self.process = subprocess.Popen(
            ["taskset", "-c", cpu, *argv] if cpu is not None else argv,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=None if inherit else subprocess.STDOUT,
            # A pinned benchmark server runs in its own session: the terminal's Ctrl-C
            # reaches only the benchmark, which then stops the server itself.
            start_new_session=cpu is not None,
        )

    def wait_ready(
        self,
        timeout: float,
        path: str = READY_PATH,
        method: str = "GET",
        body: bytes | None = None,
    ) -> float:
        """Seconds until ``path`` answered 200; RuntimeError (with the log) on exit or timeout."""
        started = time.monotonic()
        try:
            wait_http(f"{self.url}{path}", timeout, method, body, self.process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}:\n{self.log()}") from None
        return time.monotonic() - started

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        """The exit code, once the process has ended by itself."""
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._close_log()

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM (SIGKILL after ``timeout``); the exit code."""
        stop(self.process, timeout)
        self._close_log()
        return self.process.returncode

    def log(self) -> str:
        """Everything the process wrote so far (empty when its output is not kept)."""
        if self.log_path is None:
            return ""
        if self._log is not None and not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def json_lines(self) -> list[dict]:
        """The JSON objects in the log (other lines, e.g. gunicorn's, are skipped)."""
        lines = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    lines.append(json.loads(line))
        return lines

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()


def start_function(
    env: dict[str, str],
    port: int | None = None,
    log_path: Path | None = None,
    inherit: bool = False,
    cpu: str | None = None,
) -> ServerProcess:
    """The function's container command (Dockerfile CMD) as a plain process on
    ``port`` (a free one when None); wait for it with :meth:`ServerProcess.wait_ready`."""
    port = port or free_port()
    return ServerProcess(function_command(port), env, port, log_path, inherit, cpu)


@contextlib.contextmanager
def function_server(env: dict[str, str], port: int, timeout: float = 60) -> Iterator[str]:
    """The function serving on ``port`` (logs on this terminal); yields its base URL once
    ``/v2/health/ready`` answers 200."""
    server = start_function(env, port, inherit=True)
    try:
        server.wait_ready(timeout)
        yield server.url
    finally:
        server.stop()
