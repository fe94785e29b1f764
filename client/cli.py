"""``python -m client``: a thin command line over :mod:`client.runner`.

Prints the answers on stdout; an error is one line on stderr and a non-zero exit code (see
:mod:`client.errors`). Flags and their environment variables: :mod:`client.options`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from client import report
from client.auth import credentials
from client.digits import Digits, digit_png, load_digits
from client.errors import EXIT_BELOW_FLOOR, EXIT_OK, ClientError, UsageError
from client.options import Options, parse_options
from client.png import image_type
from client.protocols import Inputs, Sender
from client.runner import Endpoint, Result, select_senders, send, under_floor
from client.transport import base_url, session

PROG = "python -m client"
MAX_IMAGE_BYTES = 4 * 1024 * 1024  # the service's default body limit


def main(
    argv: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The command line; its exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        options = parse_options(argv, os.environ if env is None else env)
        return run(options, out, err)
    except ClientError as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return exc.exit_code


def run(options: Options, out: TextIO, err: TextIO) -> int:
    """Send what ``options`` say; print the answers; the exit code."""
    base = base_url(options.url)
    senders = select_senders(options.protocol, png_file=options.mode == "png")
    digits = None if options.mode == "png" else load_digits(options.data)
    auth = credentials(options.id_token, base, options.audience, options.token)
    with session(auth) as http:
        endpoint = Endpoint(base, options.model, options.timeout, auth, http)
        if digits is None:
            return send_file(endpoint, senders, Path(options.value), out)
        return send_digits(endpoint, senders, digits, options, out, err)


def read_image(path: Path) -> bytes:
    """The PNG (or JPEG) file's bytes; a UsageError when it is not one."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read --png {path}: {exc.strerror or exc}") from None
    if image_type(data) is None:
        raise UsageError(f"--png {path} is not a PNG (or JPEG) file")
    if len(data) > MAX_IMAGE_BYTES:
        raise UsageError(f"--png {path} is {len(data)} bytes: the service takes at most 4 MiB")
    return data


def send_file(endpoint: Endpoint, senders: list[Sender], path: Path, out: TextIO) -> int:
    """A PNG file through the protocols that take images."""
    image = read_image(path)
    write(out, [f"{path} → {endpoint.url} · {endpoint.auth.note}"])
    results = [send(endpoint, sender, [image]) for sender in senders]
    write(out, report.one_image(results, None))
    return EXIT_OK


def send_digits(
    endpoint: Endpoint,
    senders: list[Sender],
    digits: Digits,
    options: Options,
    out: TextIO,
    err: TextIO,
) -> int:
    """Labelled test digits through each protocol; exit 1 when one is under the floor."""
    first, count = (options.value, 1) if options.mode == "digit" else (0, options.value)
    chosen = digits.select(first, count)
    what = f"test digit {chosen.describe()} (label {int(chosen.labels[0])})"
    if options.mode != "digit":
        what = f"{count} test digits {chosen.describe()}"
    write(out, [f"{what} → {endpoint.url} · {endpoint.auth.note}"])
    results = send_each(endpoint, senders, chosen)
    labels = chosen.labels
    if options.mode == "digit":
        write(out, report.one_image(results, int(labels[0])))
    elif options.mode == "batch":
        write(out, report.per_request(results, labels))
    else:
        write(out, report.summary(results, labels, options.min_accuracy))
    below = under_floor(results, labels, options.min_accuracy)
    if below:
        err.write(f"{PROG}: {report.floor_failure(below, labels, options.min_accuracy)}\n")
        return EXIT_BELOW_FLOOR
    return EXIT_OK


def send_each(endpoint: Endpoint, senders: list[Sender], digits: Digits) -> list[Result]:
    """The digits through each sender, as pixels or as PNG files (encoded once)."""
    pngs: list[bytes] | None = None
    results = []
    for sender in senders:
        inputs: Inputs = digits.images
        if sender.takes_png:
            pngs = pngs or [digit_png(image) for image in digits.images]
            inputs = pngs
        results.append(send(endpoint, sender, inputs))
    return results


def write(out: TextIO, lines: list[str]) -> None:
    out.write("".join(f"{line}\n" for line in lines))
    out.flush()
