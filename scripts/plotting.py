"""matplotlib for the tools that draw PNG reports (bench, load test, soak): imported when a
plot is drawn, not when a tool loads (~0.3 s), on the file-only backend (no display)."""

from __future__ import annotations

import functools
from types import ModuleType


@functools.cache
def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend (chosen once, before pyplot loads)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt
