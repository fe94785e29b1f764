"""Load profiles, chosen by name with ``LOADTEST_SHAPE`` (the runner's ``--shape``):

- ``smoke``: ``users`` at once, held for ``duration`` (4 users, 20 s);
- ``ramp``: from 0 up in ``steps`` steps of ``step_users`` users, ``step_seconds`` each,
  to past capacity (10 steps of 10 users, 15 s each);
- ``spike``: ``users`` for a third of ``duration``, then suddenly ``spike_factor`` times as
  many, then back (4 users, x10, 60 s);
- ``soak``: ``users`` reached over a minute, then held for ``duration`` (20 users, 1800 s).

Against a service scaled to zero, the ramp's first step shows the cold start.
Without ``LOADTEST_SHAPE`` the locustfile has no shape: Locust's ``-u/-r/-t`` drive it.
Each parameter has a variable: ``LOADTEST_USERS``, ``LOADTEST_DURATION`` (seconds),
``LOADTEST_STEP_USERS``, ``LOADTEST_STEP_SECONDS``, ``LOADTEST_STEPS``,
``LOADTEST_SPIKE_FACTOR``; ``LOADTEST_THINK_TIME`` (``0``, or ``a:b`` seconds between a
user's requests; default 0: each user sends its next request as soon as it has an answer).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

NAMES = ("smoke", "ramp", "spike", "soak")
DEFAULTS = {
    "smoke": {"users": 4, "duration": 20.0},
    "ramp": {"step_users": 10, "step_seconds": 15.0, "steps": 10},
    "spike": {"users": 4, "duration": 60.0, "spike_factor": 10},
    "soak": {"users": 20, "duration": 1800.0},
}
ENV = {
    "users": "LOADTEST_USERS",
    "duration": "LOADTEST_DURATION",
    "step_users": "LOADTEST_STEP_USERS",
    "step_seconds": "LOADTEST_STEP_SECONDS",
    "steps": "LOADTEST_STEPS",
    "spike_factor": "LOADTEST_SPIKE_FACTOR",
}


@dataclass(frozen=True)
class ShapeConfig:
    name: str
    users: int = 4
    duration: float = 20.0
    step_users: int = 10
    step_seconds: float = 15.0
    steps: int = 10
    spike_factor: int = 10

    @classmethod
    def from_env(cls, name: str, env: Mapping[str, str] | None = None) -> ShapeConfig:
        """The shape's defaults, overridden by the variables that are set."""
        if name not in NAMES:
            raise ValueError(f"LOADTEST_SHAPE {name!r} is not one of {', '.join(NAMES)}")
        env = os.environ if env is None else env
        values: dict[str, float | int] = dict(DEFAULTS[name])
        for item in fields(cls):
            variable = ENV.get(item.name)
            if variable and env.get(variable):
                cast = float if item.type == "float" else int
                values[item.name] = cast(env[variable])
        return cls(name=name, **values)

    @property
    def seconds(self) -> float:
        """How long the shape runs."""
        return self.step_seconds * self.steps if self.name == "ramp" else self.duration

    def users_at(self, elapsed: float) -> int | None:
        """The user count ``elapsed`` seconds in; None once the shape is over."""
        if elapsed >= self.seconds:
            return None
        if self.name == "ramp":
            return self.step_users * (int(elapsed // self.step_seconds) + 1)
        if self.name == "spike":
            third = self.duration / 3
            return self.users * self.spike_factor if third <= elapsed < 2 * third else self.users
        if self.name == "soak":
            ramp = min(60.0, self.duration / 10)
            return max(1, min(self.users, round(self.users * elapsed / ramp)))
        return self.users

    def describe(self) -> str:
        """The profile in words."""
        if self.name == "ramp":
            return (
                f"{self.steps} steps of +{self.step_users} users, {self.step_seconds:g} s each, "
                f"up to {self.step_users * self.steps} users"
            )
        if self.name == "spike":
            return (
                f"{self.users} users, then {self.users * self.spike_factor} for the middle "
                f"third, then {self.users}; {self.duration:g} s"
            )
        if self.name == "soak":
            return f"{self.users} users held for {self.duration:g} s"
        return f"{self.users} users for {self.duration:g} s"


def shape_class(config: ShapeConfig) -> type:
    """A Locust ``LoadTestShape`` running ``config``; users start or stop within a second.
    (Locust is imported here: importing it patches the process for gevent.)"""
    from locust import LoadTestShape  # noqa: PLC0415

    def tick(self: Any) -> tuple[int, float] | None:
        users = config.users_at(self.get_run_time())
        return None if users is None else (users, float(max(users, 1)))

    name = config.name.capitalize() + "Shape"
    return type(name, (LoadTestShape,), {"tick": tick, "config": config, "abstract": False})


def selected(env: Mapping[str, str] | None = None) -> type | None:
    """The shape class ``LOADTEST_SHAPE`` names, or None when it is unset."""
    env = os.environ if env is None else env
    name = env.get("LOADTEST_SHAPE")
    return shape_class(ShapeConfig.from_env(name, env)) if name else None


def think_time(env: Mapping[str, str] | None = None) -> Callable:
    """The users' ``wait_time`` from ``LOADTEST_THINK_TIME`` (``0`` or ``a:b`` seconds)."""
    from locust import between, constant  # noqa: PLC0415

    env = os.environ if env is None else env
    text = env.get("LOADTEST_THINK_TIME", "0")
    low, _, high = text.partition(":")
    return between(float(low), float(high)) if high else constant(float(low))
