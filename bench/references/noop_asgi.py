"""Reference: a no-model handler in functions-framework's ASGI mode (the framework's cost)."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response


@functions_framework.aio.http
async def serve(request: Request) -> Response:
    await request.body()
    return Response(b'{"prediction":7}', media_type="application/json")
