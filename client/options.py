"""The command line: every flag, its environment fallback and its default, in one table.

A flag given on the command line wins over its environment variable. The modes ``--png``,
``--digit``, ``--batch`` and ``--digits`` exclude each other; with none, ``--digit 0``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.auth import MODES
from client.errors import UsageError
from client.protocols import ALL, SENDERS
from function.web.paths import MODEL_ROUTE_NAME

MODE_FLAGS = ("png", "digit", "batch", "digits")
DEFAULT_TIMEOUT = 30.0  # seconds: room for a cold start of a scaled-to-zero service


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"{value} is not >= 1")
    return value


def _index(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"{value} is not >= 0")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"{value} is not > 0")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(f"{value} is not in 0..1")
    return value


def _id_token_mode(text: str) -> str:
    if text not in MODES:
        raise ValueError(f"{text!r} is not one of {', '.join(MODES)}")
    return text


@dataclass(frozen=True)
class Flag:
    dest: str
    env: str
    convert: Callable[[str], Any]
    default: Any
    metavar: str
    help: str

    @property
    def option(self) -> str:
        return "--" + self.dest.replace("_", "-")


PROTOCOL_CHOICES = "|".join([*SENDERS, ALL])
FLAGS = (
    Flag("url", "DIGITRUN_URL", str, None, "URL", "base URL of the service (required)"),
    Flag("png", "DIGITRUN_PNG", Path, None, "FILE", "send this PNG (or JPEG) file"),
    Flag("digit", "DIGITRUN_DIGIT", _index, None, "INDEX", "send test digit INDEX (default 0)"),
    Flag("batch", "DIGITRUN_BATCH", _positive_int, None, "N", "send test digits 0..N-1 batched"),
    Flag("digits", "DIGITRUN_DIGITS", _positive_int, None, "N", "accuracy on N test digits"),
    Flag("min_accuracy", "DIGITRUN_MIN_ACCURACY", _fraction, 0.0, "F",
         "exit 1 when a protocol's accuracy is under F (default 0: none)"),
    Flag("protocol", "DIGITRUN_PROTOCOL", str, ALL, "NAME",
         f"{PROTOCOL_CHOICES}, or a comma-separated list (default all)"),
    Flag("data", "MNIST_PATH", str, None, "NPZ", "MNIST .npz (x_test/y_test); default: "
         "the bundled 500-digit sample"),
    Flag("model", "DIGITRUN_MODEL", str, MODEL_ROUTE_NAME, "NAME",
         f"model name in the paths (default {MODEL_ROUTE_NAME})"),
    Flag("timeout", "DIGITRUN_TIMEOUT", _positive_float, DEFAULT_TIMEOUT, "SECONDS",
         f"deadline of each request (default {DEFAULT_TIMEOUT:g})"),
    Flag("id_token", "DIGITRUN_ID_TOKEN", _id_token_mode, "auto", "|".join(MODES),
         "send a Google ID token; auto (default): when one can be had, https only"),
    Flag("token", "DIGITRUN_TOKEN", str, None, "TOKEN",
         "send this ID token (prefer the environment variable)"),
    Flag("audience", "DIGITRUN_AUDIENCE", str, None, "AUDIENCE",
         "the ID token's audience (default: the URL's scheme://host)"),
)  # fmt: skip


SETTINGS = ("min_accuracy", "protocol", "data", "model", "timeout", "id_token", "token", "audience")


@dataclass(frozen=True)
class Options:
    url: str
    mode: str  # one of MODE_FLAGS
    value: Any  # the mode's value: a path, an index or a count
    min_accuracy: float
    protocol: str
    data: str | None
    model: str
    timeout: float
    id_token: str
    token: str | None
    audience: str | None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m client",
        description="Send MNIST digits or a PNG to a digitrun endpoint through each protocol.",
        epilog="exit codes: 0 answered (and at or above the floor), 1 an accuracy under "
        "--min-accuracy, 2 unusable flags, URL or files, 3 the endpoint failed",
    )
    for flag in FLAGS:
        parser.add_argument(
            flag.option,
            dest=flag.dest,
            type=_argument_type(flag.convert),
            metavar=flag.metavar,
            help=f"{flag.help} [env {flag.env}]",
        )
    return parser


def _argument_type(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """``convert`` with its ValueError's message shown by argparse."""

    def checked(text: str) -> Any:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return checked


def parse_options(argv: list[str] | None, env: Mapping[str, str]) -> Options:
    """The options from ``argv`` (None: ``sys.argv``), falling back on ``env``."""
    given = vars(build_parser().parse_args(argv))
    modes = [name for name in MODE_FLAGS if given[name] is not None]
    values = {flag.dest: _value(flag, given[flag.dest], env) for flag in FLAGS}
    if not modes:  # none on the command line: the environment's, else one digit
        modes = [name for name in MODE_FLAGS if values[name] is not None]
    if len(modes) > 1:
        raise UsageError(
            f"choose one of --png, --digit, --batch, --digits (got {', '.join(modes)})"
        )
    mode = modes[0] if modes else "digit"
    if not values["url"]:
        raise UsageError("no URL: give --url or set DIGITRUN_URL")
    settings = {key: values[key] for key in SETTINGS}
    value = values[mode] if values[mode] is not None else 0
    return Options(url=values["url"], mode=mode, value=value, **settings)


def _value(flag: Flag, given: Any, env: Mapping[str, str]) -> Any:
    if given is not None:
        return given
    raw = env.get(flag.env, "").strip()
    if not raw:
        return flag.default
    try:
        return flag.convert(raw)
    except ValueError as exc:
        raise UsageError(f"{flag.env}={raw!r} is not valid for {flag.option}: {exc}") from None
