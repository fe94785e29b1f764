"""Entry point of the serving function: ``serve``.

    functions-framework --asgi --target=serve --source=function/main.py

Importing this module is the service's start-up (it happens once, in the gunicorn master,
before the workers fork): it downloads the version MODEL_URI names, verifies every file
against its manifest and opens the model. If any of that fails, it writes one log line and
exits non-zero, so the server never starts and never reports ready.

Under gunicorn (the container's command) the workers' connections hand every request to the
service's :class:`function.web.entry.Entry` (:func:`configure_workers`), so even the paths
and methods functions-framework would answer itself get the service's JSON answers; ``serve``
is what functions-framework calls when it runs the function without gunicorn (``--debug``).
"""

import gc
import sys
from pathlib import Path

# The start-up makes ~95,000 objects of which a few hundred are ever garbage: no collection
# runs until it is done (30-80 ms less to start), then they are frozen out of every later
# collection (and their pages stay shared with the forked workers).
gc.disable()

# functions-framework loads this file by path (as module "main") and puts only function/
# on sys.path: put the repository root there too so that `function` imports as a package.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import functions_framework.aio  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402

from function.config import Settings  # noqa: E402
from function.observability import mode  # noqa: E402
from function.startup import build_app, log_startup_failure  # noqa: E402
from function.web.entry import Entry  # noqa: E402
from function.web.server_options import configure_workers  # noqa: E402

try:
    _settings = Settings.from_env()
    # prometheus_client reads its mode when imported: decide it first.
    mode.prepare(_settings.workers, _settings.metrics, _settings.metrics_port)
    _app = build_app(_settings)
    configure_workers(_settings, Entry(_app, _settings.body_timeout_seconds))
except Exception as exc:
    log_startup_failure(exc)
    raise SystemExit(1) from None
gc.freeze()
gc.enable()


@functions_framework.aio.http
async def serve(request: Request) -> Response:
    """Every request, on every path: functions-framework routes them all here."""
    return await _app.handle(request)
