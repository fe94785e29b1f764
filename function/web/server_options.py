"""Options of the HTTP server functions-framework runs the function in (gunicorn with
uvicorn workers), where its command line offers none.

functions-framework names the worker class ``uvicorn_worker.UvicornWorker`` and passes no
server options; that class reads ``CONFIG_KWARGS`` when gunicorn forks a worker, after
``main.py`` ran in the master. Setting it there is the one place for them.
"""

from __future__ import annotations


def configure_workers() -> None:
    """No ``server: uvicorn`` header on any answer (uvicorn's own 400s included)."""
    from uvicorn_worker import UvicornWorker  # noqa: PLC0415 (only in the server)

    UvicornWorker.CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "server_header": False}
