"""LOADTEST.md: the capacity report the runner writes (``--capacity-report``) from its run
and any earlier runs named with ``--compare`` (e.g. the same ramp with two Locust workers),
the plots copied beside it (``docs/loadtest/``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from loadtest import report
from loadtest.explain import comparison_text, machine_note

ASSETS = Path("docs") / "loadtest"
COMPARED_PLOTS = {"latency_vs_users": "latency against users", "timeline": "the run over time"}

COLD_START = (
    " Against a Cloud Run service scaled to zero, a ramp's first step carries the cold "
    "start: it shows at the start of the timeline plot, as a first p99 far above the rest."
)

SEVERAL_MACHINES = """## When one load generator is not enough: Locust on several machines

One Locust process uses one core; on this machine kind it tops out near 2,300-4,000 req/s
with `FastHttpUser` (less while the server shares its cores). Past that, Locust's own
master/worker mode spreads the users: the master runs the shape, gathers the statistics,
writes the CSV/HTML and judges the gates (the accuracy counts ride on the workers'
reports); each worker runs users. `python -m loadtest --workers N` (or `--processes N`) does
it on loopback; on several machines run the same two commands, from a checkout of this
repository with `.venv`:

```bash
# the master (TCP 5557 reachable from the workers)
LOADTEST_SHAPE=ramp LOADTEST_RESULT=result.json .venv/bin/locust -f loadtest/locustfile.py \\
  --master --headless --expect-workers 4 --host "$URL" --csv run --html run.html
# each worker (one per core)
.venv/bin/locust -f loadtest/locustfile.py --worker --master-host "$MASTER" --host "$URL"
```

- **Workers as a Cloud Run job**: an image holding the repository and `.venv`, a job with
  `--tasks N --parallelism N` running the worker command; the master on a small VM (or GKE
  pod) the job reaches through Direct VPC egress on its internal address. Each task's
  service account needs `roles/run.invoker` on a private service: every worker fetches its
  own ID token from the metadata server (`LOADTEST_ID_TOKEN=auto`).
- **On GKE**: the master as a Deployment with a Service on port 5557, the workers as a
  Deployment scaled to N replicas (`kubectl scale`), both from the same image; Workload
  Identity gives the workers their ID tokens.
- Size it at about one worker per 2,000 req/s wanted, one per core, and keep the workers'
  CPU under 90 % (Locust warns when a worker exceeds it; its timings are then inflated).
"""


def copy_plots(
    summary: dict[str, Any], source: Path, assets: Path, label: str, keys: tuple = ()
) -> dict:
    """The run's PNGs (those of ``keys``, else all) copied into ``assets`` as
    ``<label>-<name>``; their new names."""
    assets.mkdir(parents=True, exist_ok=True)
    copied = {}
    for key, name in summary["plots"].items():
        if keys and key not in keys:
            continue
        target = f"{label}-{name}"
        shutil.copyfile(source / name, assets / target)
        copied[key] = target
    return copied


def compared_section(run: dict[str, Any], plots: dict[str, str], prefix: str) -> str:
    lines = [
        f"### {run['mode']}, shape `{run['shape']['name']}` ({run['when']})",
        "",
        f"`{run['command']}`",
        "",
        report.capacity_sentence(run),
        "",
        f"Machine: {machine_note(run['machine'])}",
    ]
    for key, title in COMPARED_PLOTS.items():
        if key in plots:
            lines += ["", f"![{title}]({prefix}{plots[key]})"]
    return "\n".join(lines)


def write(path: Path, summary: dict[str, Any], folder: Path, compare: list[Path]) -> Path:
    """LOADTEST.md at ``path`` for the run in ``folder`` and the runs in ``compare``."""
    assets = path.parent / ASSETS
    prefix = os.path.relpath(assets, path.parent) + "/"
    main = dict(summary, plots=copy_plots(summary, folder, assets, "run"))
    others = []
    for index, summary_path in enumerate(compare, start=1):
        run = json.loads(summary_path.read_text())
        label = f"compare{index}"
        plots = copy_plots(run, summary_path.parent, assets, label, tuple(COMPARED_PLOTS))
        others.append((run, plots))
    body = report.summary_markdown(main, prefix).split("\n", 1)[1]
    parts = [
        "# Load-test capacity report",
        f"Written by `{summary['command']}` (the compared runs first, each with its own "
        f"command below); run them again to refresh. Plots in `{ASSETS}/`.",
        "## Capacity on this machine\n\n" + report.capacity_sentence(summary) + COLD_START,
        report.comparison_section([summary, *(run for run, _ in others)]),
        comparison_text(summary, [run for run, _ in others]),
        "## The run\n" + body,
    ]
    if others:
        parts.append("## Compared runs")
        parts += [compared_section(run, plots, prefix) for run, plots in others]
    parts.append(SEVERAL_MACHINES)
    parts = [part for part in parts if part]
    path.write_text("\n\n".join(parts).rstrip() + "\n")
    return path
