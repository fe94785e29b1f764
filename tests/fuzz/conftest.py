"""The fuzz tests start a real server with the serving tests' fixtures; the property tests
call the App in-process with the protocol tests' fixtures."""

from tests.function.conftest import start_server  # noqa: F401 (fixture)
from tests.protocols.conftest import (  # noqa: F401 (fixtures)
    app,
    client,
    ctx,
    ids,
    model,
    settings,
)
