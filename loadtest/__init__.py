"""Load testing with Locust: ``python -m loadtest`` (the runner) and ``loadtest/locustfile.py``.

- ``locustfile.py``: the user (``FastHttpUser``) and its weighted tasks, wired into Locust
- ``traffic.py``, ``checks.py``: the request kinds (bodies, names, weights); checking answers
- ``digits.py``, ``sample.py``, ``data/``: the digits sent (a file, or the shipped sample)
- ``accuracy.py``, ``steps.py``, ``results.py``: accuracy under load, load steps, the verdict
- ``shapes.py``, ``gates.py``: load profiles by name; SLO thresholds and their defaults
- ``auth.py``: Google ID tokens for a private Cloud Run service
- ``cli.py``, ``runner.py``, ``stack.py``, ``distributed.py``: the runner's flags, the run,
  the local stack, Locust's processes
- ``metrics.py``, ``analysis.py``, ``machine.py``: the service's histogram, reading the
  run, CPU sharing
- ``report.py``, ``explain.py``, ``plots.py``, ``capacity_report.py``: the summary, the
  plots, LOADTEST.md
"""

import sys


def say(text: str) -> None:
    """One progress line of the runner."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
