"""The observability tests start real servers with the serving tests' fixtures, and a real
Prometheus (``prometheus``) to scrape them."""

from tests.function.conftest import (  # noqa: F401 (fixtures)
    digits,
    manifest,
    reference,
    start_server,
)
from tests.observability.prom import prometheus  # noqa: F401 (fixture)
