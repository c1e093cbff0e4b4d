"""The admins' panel page, its login/logout and the security headers every response carries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from live_feed.auth import Gate, client_of, refuse_unless_admin
from live_feed.session import COOKIE
from live_feed.term import school_term
from stream.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"
MAX_FORM_BYTES = 4096

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


async def index(request: Request) -> Response:
    """The panel page; it shows a token form itself when the feed refuses it."""
    return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-store"})


async def config(request: Request) -> Response:
    """``GET /api/config``: what the panel takes from the settings (the dates of "this term")."""
    if (refused := await refuse_unless_admin(request)) is not None:
        return refused
    settings: Settings = request.app.state.settings
    first, last = school_term(datetime.now(UTC).date(), settings.term_start, settings.term_end)
    body = {"term": {"start": first.isoformat(), "end": last.isoformat()}}
    return JSONResponse(body, headers={"cache-control": "no-store"})


async def login(request: Request) -> Response:
    """Check the posted token (throttled) and open a session in an HttpOnly, strict cookie."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return Response("form too large", status_code=413)
    token = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0]
    gate: Gate = request.app.state.gate
    verdict = gate.token(gate.settings.admin_token, token, client_of(request))
    if verdict.status == 429:
        return PlainTextResponse(
            f"Too many failed sign-ins. Try again in {verdict.retry_after_s} s.\n",
            status_code=429,
            headers={"retry-after": str(verdict.retry_after_s)},
        )
    if not verdict.allowed:
        return RedirectResponse("/?login=failed", status_code=303)
    try:
        cookie = await gate.sessions.open()
    except (RedisError, OSError):
        return _unavailable("signing in")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=gate.sessions.ttl_s,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    """End the session in Redis (so a copy of the cookie dies too), then forget the cookie."""
    cookie = request.cookies.get(COOKIE)
    if cookie:
        gate: Gate = request.app.state.gate
        try:
            await gate.sessions.close(cookie)
        except (RedisError, OSError):
            return _unavailable("signing out")  # the cookie stays: it could not be revoked
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response


def _unavailable(what: str) -> Response:
    return PlainTextResponse(
        f"The session store is unavailable; {what} did not happen. Try again shortly.\n",
        status_code=503,
        headers={"retry-after": "5"},
    )


class SecurityHeaders:
    """ASGI middleware adding a strict CSP and friends to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
