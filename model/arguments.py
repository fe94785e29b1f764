"""The command line of ``python -m model``: its subcommands and their flags.

Every flag has an environment-variable fallback (listed in the README); a value from the
environment goes through the flag's own type and validation, like one typed on the line.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from function.contract.quantization import INT8, QUANTIZATIONS
from model.architectures import ARCHS

EXIT_USAGE = 2
# What ``train`` serves unless told otherwise: int8 passed its gates on both architectures
# here and answers faster (the figures are in BENCHMARKS.md); ``none`` serves the float file.
DEFAULT_QUANTIZATION = INT8
DESCRIPTION = "python -m model train|evaluate|list|check|clean: the training job's commands"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def quantization_from_env() -> str:
    """What ``train`` serves when no ``--quantize`` is given: ``DIGITRUN_QUANTIZE``, else
    the default (callers that run ``train`` without the flag reuse versions by it)."""
    return str(_env("DIGITRUN_QUANTIZE", DEFAULT_QUANTIZATION))


def _env(name: str, default: str | int | None = None) -> str | int | None:
    """The environment's value as a string: argparse then applies the flag's own type
    (and its validation) to it, exactly as to a value given on the command line."""
    raw = os.environ.get(name)
    return raw if raw else default


def _positive(kind: Callable[[str], Any], zero: bool = False) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"must be {'>=' if zero else '>'} 0, not {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _choice(values: Sequence[str]) -> Callable[[str], str]:
    """``choices`` that hold for environment defaults too (argparse checks ``choices`` on
    the command line only, but applies ``type`` to a string default as well)."""

    def parse(text: str) -> str:
        if text not in values:
            raise argparse.ArgumentTypeError(
                f"invalid choice: {text!r} (choose from {', '.join(values)})"
            )
        return text

    return parse


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line: train, evaluate, list, check, clean."""
    parser = _Parser(prog="python -m model", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(sub.add_parser("train", help="train, track in MLflow, export, publish a version"))
    _add_evaluate(sub.add_parser("evaluate", help="verify a published version and re-measure it"))
    _add_list(sub.add_parser("list", help="the versions under a bucket prefix or directory"))
    _add_check(sub.add_parser("check", help="release gate: a complete version, accurate enough"))
    _add_clean(sub.add_parser("clean", help="remove incomplete version folders (no manifest)"))
    return parser


def _add_train(train: argparse.ArgumentParser) -> None:
    train.add_argument(
        "--data",
        default=_env("MNIST_PATH"),
        help="MNIST .npz in Keras' layout [env MNIST_PATH; default: Keras download]",
    )
    train.add_argument(
        "--arch",
        type=_choice(ARCHS),
        metavar="{" + ",".join(ARCHS) + "}",
        default=_env("DIGITRUN_ARCH", "mlp"),
        help="architecture [env DIGITRUN_ARCH; default mlp]",
    )
    train.add_argument(
        "--epochs",
        type=_positive(int),
        default=_env("DIGITRUN_EPOCHS", None),
        help="epochs [env DIGITRUN_EPOCHS; default per arch: mlp 10, cnn 8]",
    )
    train.add_argument(
        "--batch-size",
        type=_positive(int),
        default=_env("DIGITRUN_BATCH_SIZE", None),
        help="batch size [env DIGITRUN_BATCH_SIZE; default 128]",
    )
    train.add_argument(
        "--dropout",
        type=_fraction,
        default=_env("DIGITRUN_DROPOUT", None),
        help="dropout rate [env DIGITRUN_DROPOUT; default mlp 0.2, cnn 0.25]",
    )
    train.add_argument(
        "--learning-rate",
        type=_positive(float),
        default=_env("DIGITRUN_LEARNING_RATE", None),
        help="Adam learning rate [env DIGITRUN_LEARNING_RATE; mlp 1e-3, cnn 3e-3]",
    )
    train.add_argument(
        "--seed",
        type=int,
        default=_env("DIGITRUN_SEED", 0),
        help="random seed; a seed gives the same model [env DIGITRUN_SEED; 0]",
    )
    train.add_argument(
        "--limit",
        type=_positive(int),
        default=_env("DIGITRUN_LIMIT", None),
        help="train on the first N examples only [env DIGITRUN_LIMIT]",
    )
    _add_served(train)


def _add_served(train: argparse.ArgumentParser) -> None:
    """What ``train`` publishes, and where."""
    train.add_argument(
        "--quantize",
        type=_choice(QUANTIZATIONS),
        metavar="{" + ",".join(QUANTIZATIONS) + "}",
        default=_env("DIGITRUN_QUANTIZE", DEFAULT_QUANTIZATION),
        help="int8 serves a quantization of the model, published only if its test accuracy "
        "drops by at most 0.1 point and its argmax agrees with the float model on >= 99.8%% "
        "of the test images; none serves the float file [env DIGITRUN_QUANTIZE; default "
        "int8: it passes both gates on both architectures and answers faster]",
    )
    train.add_argument(
        "--publish",
        default=_env("DIGITRUN_PUBLISH_URI", "models"),
        help="gs://BUCKET/PREFIX or a directory to publish the version under "
        "[env DIGITRUN_PUBLISH_URI; default ./models]",
    )


def _add_evaluate(evaluate: argparse.ArgumentParser) -> None:
    evaluate.add_argument("uri", help="gs://BUCKET/PREFIX/VERSION or a version directory")
    evaluate.add_argument(
        "--data",
        default=_env("MNIST_PATH"),
        help="MNIST .npz [env MNIST_PATH; default: Keras download]",
    )


def _add_list(listing: argparse.ArgumentParser) -> None:
    listing.add_argument(
        "uri",
        nargs="?",
        default=_env("DIGITRUN_PUBLISH_URI", "models"),
        help="gs://BUCKET/PREFIX or a directory [env DIGITRUN_PUBLISH_URI; default ./models]",
    )


def _add_check(check: argparse.ArgumentParser) -> None:
    check.add_argument("uri", help="gs://BUCKET/PREFIX/VERSION or a version directory")
    check.add_argument(
        "--min-accuracy",
        type=_fraction_inclusive,
        default=_env("DIGITRUN_MIN_ACCURACY", "0.98"),
        help="the release floor on the manifest's test accuracy "
        "[env DIGITRUN_MIN_ACCURACY; default 0.98]",
    )


def _add_clean(clean: argparse.ArgumentParser) -> None:
    _add_list(clean)
    clean.add_argument(
        "--grace-seconds",
        type=_positive(float, zero=True),
        default=_env("DIGITRUN_CLEAN_GRACE_SECONDS", "3600"),
        help="keep folders written to this recently: a publish may still be under way "
        "[env DIGITRUN_CLEAN_GRACE_SECONDS; default 3600]",
    )
    clean.add_argument("--dry-run", action="store_true", help="only list what would go")


def _fraction_inclusive(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], not {text}")
    return value
