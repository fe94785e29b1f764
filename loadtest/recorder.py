"""Marking Locust's statistics whenever the user count changes (in Locust's master, or its
only process); ``loadtest/steps.py`` turns the marks into load steps."""

from __future__ import annotations

import time
from typing import Any

import gevent

from loadtest.steps import Mark, steps_of

SAMPLE_SECONDS = 0.5


class StepRecorder:
    """Marks the statistics whenever the user count changes (sampled every 0.5 s)."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.marks: list[Mark] = []
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._loop)

    def _loop(self) -> None:
        while True:
            self.sample()
            gevent.sleep(SAMPLE_SECONDS)

    def sample(self, force: bool = False) -> None:
        runner = self.environment.runner
        users = runner.user_count if runner is not None else 0
        if force or not self.marks or users != self.marks[-1].users:
            total = self.environment.stats.total
            self.marks.append(
                Mark(
                    time.time(),
                    users,
                    total.num_requests,
                    total.num_failures,
                    dict(total.response_times),
                )
            )

    def finish(self) -> list[dict[str, Any]]:
        """Stop sampling; the steps with users (a last mark closes the last step)."""
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        self.sample(force=True)
        return steps_of(self.marks)
