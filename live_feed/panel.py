"""The admins' panel page, its login/logout and the security headers every response carries."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from live_feed.auth import COOKIE, token_matches

STATIC_DIR = Path(__file__).parent / "static"
MAX_FORM_BYTES = 4096
COOKIE_MAX_AGE_S = 12 * 3600

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


async def login(request: Request) -> Response:
    """Check the posted token and keep it in an HttpOnly, SameSite=Strict cookie."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return Response("form too large", status_code=413)
    token = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0]
    if not token_matches(request.app.state.settings, token):
        request.app.state.metrics.auth_failures.inc()
        return RedirectResponse("/?login=failed", status_code=303)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    """Forget the token cookie."""
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


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
