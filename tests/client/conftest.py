"""The client's live tests start the real function with the serving tests' fixtures."""

from tests.function.conftest import (  # noqa: F401 (fixtures)
    manifest,
    reference,
    start_server,
)
