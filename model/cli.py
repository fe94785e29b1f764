"""``python -m model train|evaluate|list|check|clean``: a thin shell over plain functions.

Every flag has an environment-variable fallback (``model.arguments``; listed in the README).
Errors reach the user as one line on stderr and a non-zero exit code, never as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from function.contract.errors import StorageError
from function.contract.manifest import SERVED_FILE
from function.contract.quantization import NONE
from function.errors import DigitrunError
from model.arguments import EXIT_USAGE, build_parser
from model.native_logs import quiet_native_logs

EXIT_ERROR = 1
EXIT_STORAGE = 3
EXIT_INTERRUPTED = 130
DEBUG_ENV = "DIGITRUN_DEBUG"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
__all__ = ["EXIT_USAGE", "build_parser", "main"]


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
        quantize=args.quantize,
    )
    result = run(config)
    metrics = result.manifest.metrics
    print(
        f"arch: {config.arch}  fit: {result.fit_seconds:.1f} s  "
        f"test accuracy: {metrics.test_accuracy:.4f}  test loss: {metrics.test_loss:.4f}"
    )
    quantization = result.manifest.quantization
    if quantization is None:
        print(f"served: {result.manifest.served_file} (float)")
    else:
        print(
            f"served: {result.manifest.served_file} ({quantization.mode})  test accuracy: "
            f"{quantization.test_accuracy:.4f}  argmax agreement with the float model: "
            f"{quantization.argmax_agreement:.2%}"
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
    role = "served" if report.quantized is None else "float"  # the int8 file's line follows
    print(
        f"accuracy ({SERVED_FILE}, {role}, {report.images} test images): "
        f"{report.accuracy:.4f}  manifest: {report.manifest_accuracy:.4f}  -> OK"
    )
    if report.quantized is not None:
        print(
            f"accuracy ({report.quantized.mode}, served): {report.quantized.test_accuracy:.4f}  "
            f"argmax agreement: {report.quantized.argmax_agreement:.2%}  -> OK (as recorded)"
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
            accuracy = info.manifest.served_accuracy
            mode = info.manifest.quantized
            status = "complete" if mode == NONE else f"complete, serves {mode}"
            print(f"{info.name:<27} {info.manifest.arch:<5} {accuracy:>8.4f}  {status}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from model.release import check_release  # noqa: PLC0415

    manifest = check_release(args.uri, args.min_accuracy)
    mode = manifest.quantized
    served = manifest.arch if mode == NONE else f"{manifest.arch}, {mode}"
    print(
        f"release OK: {manifest.version} ({served}) test accuracy "
        f"{manifest.served_accuracy:.4f} >= {args.min_accuracy:.4f}"
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
