"""Running Locust headless: one process, Locust's ``--processes N`` (a master forking N
workers), or an explicit master and N worker processes on loopback — the same commands that
spread the load over several machines (see LOADTEST.md). The master's output is shown and
kept; each worker's goes to its own log."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loadtest import say
from scripts.local_stack import BIN, ROOT, free_port, stop

LOCUSTFILE = "loadtest/locustfile.py"
SPARE_SECONDS = 90.0  # start-up, worker connection and shutdown, beyond the shape's length


@dataclass(frozen=True)
class LocustRun:
    host: str
    out: Path
    seconds: float  # how long the shape runs
    workers: int = 0  # explicit worker processes (0: none)
    processes: int = 0  # Locust's own --processes (0: none)
    quiet: bool = False

    @property
    def prefix(self) -> Path:
        return self.out / "locust"

    def common(self) -> list[str]:
        return [str(BIN / "locust"), "-f", LOCUSTFILE, "--host", self.host]

    def master(self, port: int | None) -> list[str]:
        """The headless master (or single process) command, writing CSV and HTML."""
        command = [
            *self.common(),
            "--headless",
            "--csv",
            str(self.prefix),
            "--csv-full-history",
            "--html",
            str(self.out / "locust.html"),
        ]
        if self.processes:
            command += ["--processes", str(self.processes)]
        if port is not None:
            command += [
                "--master",
                "--master-bind-host=127.0.0.1",
                f"--master-bind-port={port}",
                f"--expect-workers={self.workers}",
                "--expect-workers-max-wait=60",
            ]
        return command

    def worker(self, port: int) -> list[str]:
        return [*self.common(), "--worker", "--master-host=127.0.0.1", f"--master-port={port}"]


def _relay(process: subprocess.Popen, log: Path, quiet: bool) -> None:
    with log.open("w") as kept:
        for line in process.stdout:
            kept.write(line)
            if not quiet:
                sys.stdout.write(line)
                sys.stdout.flush()


@contextlib.contextmanager
def _workers(run: LocustRun, port: int, env: dict[str, str]) -> Iterator[list]:
    processes = []
    try:
        for index in range(run.workers):
            log = (run.out / f"locust-worker-{index + 1}.log").open("w")
            processes.append(
                subprocess.Popen(
                    run.worker(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
                )
            )
            log.close()
        yield processes
    finally:
        for process in processes:
            stop(process, timeout=20)


def run_locust(run: LocustRun, env: dict[str, str]) -> int:
    """Locust's exit code (0 when every gate held); a run past its time is stopped."""
    run.out.mkdir(parents=True, exist_ok=True)
    port = free_port() if run.workers else None
    with contextlib.ExitStack() as stack:
        if port is not None:
            stack.enter_context(_workers(run, port, env))
        master = subprocess.Popen(
            run.master(port),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        relay = threading.Thread(
            target=_relay, args=(master, run.out / "locust.log", run.quiet), daemon=True
        )
        relay.start()
        try:
            code = master.wait(timeout=run.seconds + SPARE_SECONDS)
        except subprocess.TimeoutExpired:
            say("== Locust ran past its time: stopping it")
            stop(master)
            code = 1
        relay.join(timeout=10)
    return code
