"""Reference: a no-model handler in functions-framework's Flask mode (the framework's cost)."""

import functions_framework
from flask import Request


@functions_framework.http
def serve(request: Request) -> tuple[dict, int]:
    return {"prediction": 7}, 200
