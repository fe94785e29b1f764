"""The sweeps as PNG plots (matplotlib, no display): images/s against batch size, and req/s
and p99 against concurrent connections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bench.knee import Knee, Point
from scripts.plotting import pyplot

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BATCH_PNG = "batch.png"
CONNECTIONS_PNG = "connections.png"


def batch_plot(batch: Mapping[str, Mapping[int, float]], roof: str, path: Path) -> Path:
    """Images/s against batch size, one line per series; ``roof`` dashed."""
    fig, ax = pyplot().subplots(figsize=(7, 4.2), dpi=110)
    for series, by_size in batch.items():
        sizes = sorted(by_size)
        style = "--" if series == roof else "-"
        ax.plot(sizes, [by_size[s] for s in sizes], style, marker="o", label=series)
    ax.set_xscale("log", base=2)
    label_ticks(ax, sorted({s for by_size in batch.values() for s in by_size}))
    ax.set_yscale("log")
    ax.set_xlabel("digits per request (batch size)")
    ax.set_ylabel("images/s (one core)")
    ax.set_title("Images/s against batch size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return save(fig, path)


def connections_plot(points: Sequence[Point], knee: Knee, path: Path) -> Path:
    """Req/s and p99 against concurrent connections (one digit), the knee marked."""
    ordered = sorted(points, key=lambda p: p.connections)
    counts = [p.connections for p in ordered]
    fig, rps_ax = pyplot().subplots(figsize=(7, 4.2), dpi=110)
    rps_ax.plot(counts, [p.rps for p in ordered], "-o", color="tab:blue", label="req/s")
    rps_ax.set_xscale("log", base=2)
    label_ticks(rps_ax, counts)
    rps_ax.set_xlabel("concurrent connections (wrk)")
    rps_ax.set_ylabel("req/s (one core)", color="tab:blue")
    rps_ax.set_ylim(bottom=0)
    p99_ax = rps_ax.twinx()
    p99_ax.plot(counts, [p.p99_ms for p in ordered], "-s", color="tab:red", label="p99 ms")
    p99_ax.set_yscale("log")
    p99_ax.set_ylabel("p99 ms", color="tab:red")
    rps_ax.axvline(knee.at.connections, color="grey", linestyle=":", label="knee")
    rps_ax.set_title("One digit per request: req/s and p99 against connections")
    rps_ax.grid(True, alpha=0.3)
    handles = rps_ax.get_legend_handles_labels()
    more = p99_ax.get_legend_handles_labels()
    rps_ax.legend(handles[0] + more[0], handles[1] + more[1], loc="center right")
    return save(fig, path)


def label_ticks(ax: Axes, values: Sequence[int]) -> None:
    """Ticks at the measured x values, written plainly (1, 8, 32, not powers of 2)."""
    from matplotlib.ticker import NullLocator  # noqa: PLC0415

    ax.set_xticks(list(values), [f"{v:,}" for v in values])
    ax.xaxis.set_minor_locator(NullLocator())


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (its folder made) and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    pyplot().close(fig)
    return path
