"""What the CLI prints: one line per answer, per request or per protocol."""

from __future__ import annotations

import numpy as np

from client.runner import Result, accuracy

NAME = 12  # column width of the protocol name


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def versions(result: Result) -> str:
    return ", ".join(v or "?" for v in result.model_versions)


def one_image(results: list[Result], label: int | None) -> list[str]:
    """One image through each protocol: digit (✓/✗ against the label), confidence,
    latency, model version."""
    lines = [f"{'protocol':<{NAME}} digit  confidence  latency    model version"]
    for result in results:
        (exchange,) = result.exchanges
        digit = int(exchange.prediction.digits[0])
        mark = "" if label is None else ("✓" if digit == label else "✗")
        confidence = float(exchange.prediction.confidences[0])
        lines.append(
            f"{result.sender.name:<{NAME}} {digit} {mark:<3}  {confidence:<10.4f}  "
            f"{milliseconds(exchange.seconds):<9}  {exchange.model_version or '?'}"
        )
    return lines


def per_request(results: list[Result], labels: np.ndarray) -> list[str]:
    """A batch: each request's answers, how many are right, its latency."""
    lines = [f"{'protocol':<{NAME}} request  images  correct  latency    answers"]
    for result in results:
        count = len(result.exchanges)
        for number, exchange in enumerate(result.exchanges, 1):
            digits = exchange.prediction.digits
            expected = labels[exchange.first : exchange.first + len(digits)]
            right = int(np.sum(digits == expected))
            answers = " ".join(str(int(d)) for d in digits[:32])
            more = " ..." if len(digits) > 32 else ""
            lines.append(
                f"{result.sender.name:<{NAME}} {f'{number}/{count}':<7}  {len(digits):<6}  "
                f"{f'{right}/{len(digits)}':<7}  {milliseconds(exchange.seconds):<9}  "
                f"{answers}{more}"
            )
    served = sorted({v or "?" for result in results for v in result.model_versions})
    lines.append(f"model version: {', '.join(served)}")
    return lines


def summary(results: list[Result], labels: np.ndarray, floor: float) -> list[str]:
    """Accuracy per protocol, against ``floor``; latency median and max over its requests."""
    width = max(9, 2 * len(str(len(labels))) + 1)  # "correct": right/total
    lines = [
        f"{'protocol':<{NAME}} accuracy  {'correct':<{width}}  requests  latency p50 / max    "
        "model version"
    ]
    for result in results:
        score = accuracy(result, labels)
        right = int(np.sum(result.digits == labels))
        latencies = result.latencies
        timing = f"{milliseconds(float(np.median(latencies)))} / {milliseconds(max(latencies))}"
        verdict = "" if floor <= 0 else ("  ok" if score >= floor else "  UNDER THE FLOOR")
        lines.append(
            f"{result.sender.name:<{NAME}} {score:<8.3f}  {f'{right}/{len(labels)}':<{width}}  "
            f"{len(latencies):<8}  {timing:<19}  {versions(result)}{verdict}"
        )
    return lines


def floor_failure(results: list[Result], labels: np.ndarray, floor: float) -> str:
    """The one line naming the protocols under the floor."""
    below = ", ".join(f"{r.sender.name} {accuracy(r, labels):.3f}" for r in results)
    return f"accuracy under the floor {floor:g} on {len(labels)} digits: {below}"
