"""What the live feed answers while Redis, the store behind every view, cannot be reached.

Every REST view reads Redis; a Redis error that reaches Starlette would answer 500, which
says "our bug" to a client and to monitoring. Redis being away is an outage to wait out, so
the app maps the error here, once, to 503 with ``Retry-After``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

RETRY_AFTER_S = 2


async def store_unavailable(request: Request, exc: Exception) -> Response:
    """503 with a JSON body and ``Retry-After`` for a request whose Redis call failed."""
    return JSONResponse(
        {"error": "unavailable", "detail": "The live feed cannot reach its store; retry shortly."},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S), "cache-control": "no-store"},
    )
