"""Where cost stops paying: the connection count beyond which latency grows and throughput
does not (the knee), the most connections that keep the p99 promise (the ceiling), the
Cloud Run ``concurrency`` per vCPU the two imply, and the batch size beyond which images/s
stops growing. Pure functions over the sweeps' numbers."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

P99_RISE = 2.0  # p99 more than doubles ...
RPS_GAIN = 0.10  # ... while req/s gains less than 10%: past the knee


@dataclass(frozen=True)
class Point:
    """One point of the connection sweep."""

    connections: int
    rps: float
    p99_ms: float


@dataclass(frozen=True)
class Knee:
    """The knee: the last connection count worth having, and the step past it (None when
    no step of the sweep even doubled p99: the knee lies at or beyond the last point).
    ``strict`` is False when no step met the gain test (a noisy sweep) and the knee is the
    step that doubled p99 for the least req/s instead."""

    at: Point
    past: Point | None
    strict: bool = True

    @property
    def concurrency_per_vcpu(self) -> int:
        """The Cloud Run ``concurrency`` per vCPU it implies (the server ran on one core)."""
        return self.at.connections


def gain(before: float, after: float) -> float:
    """The relative gain from ``before`` to ``after`` (0.1 = +10%; anything from 0 is
    infinite)."""
    return (after - before) / before if before > 0 else float("inf")


def connection_knee(
    points: Sequence[Point], p99_rise: float = P99_RISE, rps_gain: float = RPS_GAIN
) -> Knee:
    """The first connection count c (in ascending order) whose next step multiplies p99 by
    more than ``p99_rise`` while adding less than ``rps_gain`` of req/s. When no step adds
    that little, the step that multiplied p99 by more than ``p99_rise`` for the smallest
    gain (``strict`` False); when no step even did that, the last point (no knee)."""
    ordered = sorted(points, key=lambda p: p.connections)
    if not ordered:
        raise ValueError("no points")
    steep = [
        (here, there)
        for here, there in itertools.pairwise(ordered)
        if there.p99_ms > p99_rise * here.p99_ms
    ]
    for here, there in steep:
        if gain(here.rps, there.rps) < rps_gain:
            return Knee(here, there)
    if steep:
        here, there = min(steep, key=lambda step: gain(step[0].rps, step[1].rps))
        return Knee(here, there, strict=False)
    return Knee(ordered[-1], None)


def promise_ceiling(points: Sequence[Point], p99_limit_ms: float) -> Point | None:
    """The most connections up to which every point of the sweep keeps p99 within
    ``p99_limit_ms`` (None when even the fewest break it)."""
    ceiling = None
    for point in sorted(points, key=lambda p: p.connections):
        if point.p99_ms > p99_limit_ms:
            break
        ceiling = point
    return ceiling


def plateau(by_size: Mapping[int, float], min_gain: float = RPS_GAIN) -> int:
    """The smallest size from which no larger size adds ``min_gain`` or more (images/s): where
    batching stops paying."""
    sizes = sorted(by_size)
    if not sizes:
        raise ValueError("no points")
    for i, size in enumerate(sizes):
        if all(gain(by_size[size], by_size[later]) < min_gain for later in sizes[i + 1 :]):
            return size
    return sizes[-1]  # unreachable: the last size always qualifies


def knee_prose(knee: Knee) -> str:
    """The knee in a sentence or two, with the concurrency it implies."""
    at = knee.at
    if knee.past is None:
        return (
            f"No knee up to {at.connections} connections: p99 never grew more than "
            f"{P99_RISE:.0f}x in one step, ending at {at.rps:,.0f} req/s, p99 "
            f"{at.p99_ms:.1f} ms."
        )
    past = knee.past
    rule = (
        ""
        if knee.strict
        else f" (no step stayed under +{RPS_GAIN:.0%} req/s while p99 grew more than "
        f"{P99_RISE:.0f}x: this is the step that bought the least req/s for it)"
    )
    return (
        f"The knee is at **{at.connections} connections**: there one core serves "
        f"{at.rps:,.0f} req/s with p99 {at.p99_ms:.1f} ms; at {past.connections} it serves "
        f"{past.rps:,.0f} req/s ({gain(at.rps, past.rps):+.0%}) while p99 grows "
        f"{past.p99_ms / at.p99_ms:.1f}x to {past.p99_ms:.1f} ms — past the knee extra "
        f"connections mostly queue{rule}."
    )


def concurrency_prose(knee: Knee, ceiling: Point | None, p99_limit_ms: float) -> str:
    """The Cloud Run ``concurrency`` per vCPU the knee and the p99 promise's ceiling imply:
    from the knee (one core's throughput reached) up to the ceiling (the most connections
    that keep the promise)."""
    promise = f"the p99 promise of ≤ {p99_limit_ms:g} ms"
    if ceiling is None:
        return f"No connection count of the sweep keeps {promise}."
    lowest = knee.concurrency_per_vcpu
    if knee.past is None and ceiling.connections >= lowest:
        return (
            f"Every connection count of the sweep keeps {promise}: it sets no upper bound on "
            f"Cloud Run `concurrency`; {ceiling.connections} per vCPU is the highest measured "
            f"here."
        )
    if ceiling.connections <= lowest:
        return (
            f"That implies a Cloud Run `concurrency` of about **{ceiling.connections} per "
            f"vCPU**: {ceiling.connections} connections are the most that keep {promise} "
            f"(p99 {ceiling.p99_ms:.1f} ms there); requests beyond it are better sent to "
            f"another instance than queued on this one."
        )
    return (
        f"Cloud Run `concurrency` per vCPU therefore belongs between **{lowest} and "
        f"{ceiling.connections}**: {lowest} is where one core's throughput is reached (fewer "
        f"leave it idle between requests), {ceiling.connections} the most connections "
        f"measured that keep {promise} (p99 {ceiling.p99_ms:.1f} ms, {ceiling.rps:,.0f} "
        f"req/s there). Up to the ceiling a burst queues on this core within the promise; "
        f"past it, it is better sent to another instance."
    )


def plateau_prose(batch: Mapping[str, Mapping[int, float]], roof: str) -> str:
    """Where each encoding's images/s stops growing, and how close it gets to the roof."""
    parts = []
    roof_points = batch.get(roof, {})
    for series, by_size in batch.items():
        if series == roof or not by_size:
            continue
        size = plateau(by_size)
        best = max(by_size, key=lambda s: by_size[s])
        roof_best = roof_points.get(best)
        share = f", {by_size[best] / roof_best:.0%} of bare LiteRT" if roof_best else ""
        parts.append(
            f"{series} gains less than {RPS_GAIN:.0%} beyond batch {size} (best "
            f"{by_size[best]:,.0f} images/s at {best}{share})"
        )
    return "; ".join(parts) + "." if parts else ""
