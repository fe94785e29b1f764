"""The observability tests start real servers with the serving tests' fixtures."""

from tests.function.conftest import (  # noqa: F401 (fixtures)
    digits,
    manifest,
    reference,
    start_server,
)
