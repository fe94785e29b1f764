"""Locust load test of a digitrun endpoint (local or Cloud Run): the users and their tasks.

    locust -f loadtest/locustfile.py --headless -u 8 -r 8 -t 30s --host https://...
    python -m loadtest --shape ramp            # the runner: local stack, report, plots

Each user (a ``FastHttpUser``) sends real MNIST test digits through every protocol the
service speaks, in the weighted mix of ``loadtest/traffic.py`` (``LOADTEST_MIX``), and checks
every answer: status 200, shapes, probabilities in 0..1 summing to 1, the prediction being
the most probable class; the predicted digits are compared with the true labels (accuracy
under load per request kind). When Locust quits, the SLO gates of ``loadtest/gates.py``
(failure ratio, p95, p99, req/s, accuracy; ``LOCUST_*`` variables) set the exit code: 1
when one breaks. ``LOADTEST_SHAPE`` picks a load profile (``loadtest/shapes.py``); without
it, ``-u/-r/-t`` drive the run. Digits come from ``LOADTEST_DATA`` / ``MNIST_PATH``, else
the sample in ``loadtest/data/``. An ``https://`` host gets a Google ID token when the
environment has credentials (``LOADTEST_ID_TOKEN``, ``loadtest/auth.py``).
``LOADTEST_RESULT`` names a JSON file for the verdict and the figures (the runner's input).
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import ClassVar

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # `locust -f` imports this file alone; its siblings live in ROOT
    sys.path.insert(0, ROOT)

from locust import FastHttpUser, events  # noqa: E402

from loadtest import auth, checks, results, shapes, traffic  # noqa: E402
from loadtest.accuracy import Tally  # noqa: E402
from loadtest.digits import load_digits  # noqa: E402

DIGITS = load_digits()
WEIGHTS = traffic.weights(os.environ.get("LOADTEST_MIX"))
ACTIVE = [kind for kind in traffic.KINDS if WEIGHTS[kind.key] > 0]
POOLS = {kind.key: traffic.prepare(kind, DIGITS.images, DIGITS.labels) for kind in ACTIVE}
TALLY = Tally()
TOKENS: dict[str, auth.TokenSource] = {}


def send(user: FastHttpUser, kind: traffic.Kind) -> None:
    """One request of ``kind`` with a random prepared digit (or batch), checked."""
    prepared = random.choice(POOLS[kind.key])
    headers = {**prepared.headers, **TOKENS["host"].headers()} if TOKENS else prepared.headers
    with user.client.post(
        kind.path, data=prepared.body, headers=headers, name=kind.name, catch_response=True
    ) as response:
        TALLY.sent()
        if response.status_code != 200:
            response.failure(f"status {response.status_code}")
            return
        try:
            predicted = kind.decode(response.content, response.headers or {}, kind.size)
        except checks.BadAnswerError as exc:
            response.failure(str(exc))
            return
        TALLY.add(kind.name, predicted, prepared.labels)


def task_for(kind: traffic.Kind):
    def task(user: FastHttpUser) -> None:
        send(user, kind)

    task.__name__ = kind.key
    return task


class DigitUser(FastHttpUser):
    """A client of every protocol, weighted by the traffic mix."""

    wait_time = shapes.think_time()
    tasks: ClassVar = {task_for(kind): WEIGHTS[kind.key] for kind in ACTIVE}


@events.init.add_listener
def on_init(environment, **_kwargs) -> None:
    """Get the ID token (if any) in every process, once the host is known."""
    from client.errors import UsageError  # noqa: PLC0415

    if environment.host:
        try:
            TOKENS["host"] = auth.TokenSource(environment.host)
        except UsageError as exc:  # --id-token always, and no token to be had
            raise SystemExit(f"loadtest: {exc}") from None


results.install(events, TALLY)

if shapes.selected() is not None:
    LoadShape = shapes.selected()
