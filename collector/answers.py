"""The one shape of every error answer of the collector and the site API."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

RETRY_AFTER_S = 2


def error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    """``{"error": code, "detail": detail}`` with ``status``."""
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def unavailable(detail: str) -> Response:
    """503 that tells the beacon when to retry."""
    return error(503, "unavailable", detail, {"Retry-After": str(RETRY_AFTER_S)})
