"""Processes of the local stack: the GCS emulator (and, later, the function), each started
as a child process, waited for with a bounded timeout, and stopped on exit."""

from __future__ import annotations

import contextlib
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


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
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


@contextlib.contextmanager
def function_server(env: dict[str, str], port: int, timeout: float = 60) -> Iterator[str]:
    """The function serving on ``port`` (logs on this terminal); yields its base URL once
    ``/v2/health/ready`` answers 200."""
    process = subprocess.Popen(function_command(port), cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/v2/health/ready", timeout, process=process)
        yield url
    finally:
        stop(process)
