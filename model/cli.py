"""``python -m model train|evaluate|list|check|clean``: a thin shell over plain functions.

Every flag has an environment-variable fallback (listed in the README). Errors reach the
user as one line on stderr and a non-zero exit code, never as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from function.contract.errors import StorageError
from function.errors import DigitrunError
from model.architectures import ARCHS
from model.native_logs import quiet_native_logs

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_STORAGE = 3
EXIT_INTERRUPTED = 130
DEBUG_ENV = "DIGITRUN_DEBUG"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


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


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line: train, evaluate, list, check, clean."""
    parser = _Parser(prog="python -m model", description=__doc__.splitlines()[0])
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
        choices=ARCHS,
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


def cmd_train(args: argparse.Namespace) -> int:
    from model.training import TrainConfig, progress_verbosity, run  # noqa: PLC0415 (heavy)

    config = TrainConfig(
        arch=args.arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        dropout=args.dropout,
        learning_rate=args.learning_rate,
        seed=args.seed,
        limit=args.limit,
        data=args.data,
        publish=args.publish,
        verbose=progress_verbosity(),
    )
    result = run(config)
    metrics = result.manifest.metrics
    print(
        f"arch: {config.arch}  fit: {result.fit_seconds:.1f} s  "
        f"test accuracy: {metrics.test_accuracy:.4f}  test loss: {metrics.test_loss:.4f}"
    )
    registered = (result.manifest.mlflow or {}).get("registered_model")
    print(f"mlflow run: {result.run_id}  registered: {registered} v{result.registry_version}")
    print(f"version: {result.manifest.version}")
    print(result.uri)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from model.evaluate import evaluate_version  # noqa: PLC0415 (heavy)

    report = evaluate_version(args.uri, args.data)
    print(f"verified: {report.files} files, every sha256 matches the manifest")
    print(
        f"accuracy (LiteRT, {report.images} test images): {report.accuracy:.4f}  "
        f"manifest: {report.manifest_accuracy:.4f}  -> OK"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from model.publish import list_versions  # noqa: PLC0415

    versions = list_versions(args.uri)
    if not versions:
        print(f"no versions under {args.uri}")
        return 0
    print(f"{'VERSION':<27} {'ARCH':<5} {'ACCURACY':>8}  STATUS")
    for info in versions:
        if info.manifest is None:
            print(f"{info.name:<27} {'-':<5} {'-':>8}  INCOMPLETE ({info.problem})")
        else:
            accuracy = info.manifest.metrics.test_accuracy
            print(f"{info.name:<27} {info.manifest.arch:<5} {accuracy:>8.4f}  complete")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from model.release import check_release  # noqa: PLC0415

    manifest = check_release(args.uri, args.min_accuracy)
    print(
        f"release OK: {manifest.version} ({manifest.arch}) test accuracy "
        f"{manifest.metrics.test_accuracy:.4f} >= {args.min_accuracy:.4f}"
    )
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    from model.cleanup import clean_incomplete  # noqa: PLC0415

    leftovers = clean_incomplete(args.uri, args.grace_seconds, args.dry_run)
    for leftover in leftovers:
        state = "removed" if leftover.removed else f"kept ({leftover.reason})"
        print(f"{leftover.name}  {leftover.files} files  {state}")
    removed = sum(leftover.removed for leftover in leftovers)
    print(f"{removed} incomplete version folders removed under {args.uri}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "list": cmd_list,
    "check": cmd_check,
    "clean": cmd_clean,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; map every error to one line on stderr and an exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train" and args.arch not in ARCHS:  # choices skip env defaults
        parser.error(f"argument --arch: invalid choice: {args.arch!r} (choose from mlp, cnn)")
    level = os.environ.get("LOG_LEVEL", "WARNING").upper()
    if level not in LOG_LEVELS:
        parser.error(f"LOG_LEVEL={level!r} is not one of {', '.join(LOG_LEVELS)}")
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    quiet = contextlib.nullcontext() if level == "DEBUG" else quiet_native_logs()
    try:
        with quiet:
            return COMMANDS[args.command](args)
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    except DigitrunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence: one line, no traceback
        if os.environ.get(DEBUG_ENV):
            raise
        print(
            f"error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR
