"""Admin token checks for every route; the token is compared in constant time, never logged."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stream.settings import Settings

COOKIE = "dojo_token"
HEADER = "x-dojo-token"


def token_matches(settings: Settings, candidate: str | None) -> bool:
    """True if ``candidate`` is the admin token."""
    expected = settings.admin_token.reveal()
    if not candidate or not expected:
        return False
    return hmac.compare_digest(candidate.encode("utf-8"), expected.encode("utf-8"))


def presented_token(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The token a request presents in a header or cookie (never the query: URLs get logged)."""
    bearer = headers.get("authorization", "")
    scheme, _, value = bearer.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if headers.get(HEADER):
        return headers[HEADER]
    return cookies.get(COOKIE) or None


def same_origin(headers: Mapping[str, str]) -> bool:
    """False if a browser says the request comes from another site (WebSocket hijacking)."""
    origin = headers.get("origin")
    if not origin:
        return True  # non-browser clients send no Origin
    return urlsplit(origin).netloc == headers.get("host", "")


def refuse_unless_admin(request: Request) -> Response | None:
    """A 401 response (counted) if ``request`` lacks the admin token, else None."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    if token_matches(request.app.state.settings, presented_token(headers, request.cookies)):
        return None
    request.app.state.metrics.auth_failures.inc()
    return JSONResponse({"detail": "admin token required"}, status_code=401)
