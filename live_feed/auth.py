"""Who may use the feed: the admin token in a header, a session cookie, or the metrics token.

Tokens are compared in constant time and never logged; each wrong one counts against its
client's address (``Throttle``), and past the limit no token is compared at all (429).
Session cookies (``session``) are checked in Redis; without Redis nobody is let in (503).
The query string is never read: URLs end up in logs and browser histories.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from redis.exceptions import RedisError
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from live_feed.metrics import LiveMetrics
from live_feed.session import COOKIE, Sessions
from live_feed.throttle import Throttle
from stream.settings import Secret, Settings

HEADER = "x-dojo-token"
RETRY_UNAVAILABLE_S = 5


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: 200 let in, 401 refused, 429 throttled, 503 cannot tell."""

    status: int
    retry_after_s: int = 0

    @property
    def allowed(self) -> bool:
        return self.status == 200


ALLOWED = Verdict(200)
REFUSED = Verdict(401)
UNAVAILABLE = Verdict(503, RETRY_UNAVAILABLE_S)


def token_matches(expected: Secret, candidate: str | None) -> bool:
    """True if ``candidate`` is the ``expected`` token (never true for an empty one)."""
    secret = expected.reveal()
    if not candidate or not secret:
        return False
    return hmac.compare_digest(candidate.encode("utf-8"), secret.encode("utf-8"))


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer`` header (lower-cased header names)."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def presented_token(headers: Mapping[str, str]) -> str | None:
    """The admin token a request presents in a header (API clients; browsers use sessions)."""
    return bearer(headers) or headers.get(HEADER) or None


def same_origin(headers: Mapping[str, str]) -> bool:
    """False if a browser says the request comes from another site (WebSocket hijacking)."""
    origin = headers.get("origin")
    if not origin:
        return True  # non-browser clients send no Origin
    return urlsplit(origin).netloc == headers.get("host", "")


def client_of(connection: HTTPConnection) -> str:
    """The address the throttle counts against (the peer: the live feed trusts no proxy)."""
    return connection.client.host if connection.client else "unknown"


def lowered(connection: HTTPConnection) -> dict[str, str]:
    """The connection's headers with lower-case names."""
    return {k.lower(): v for k, v in connection.headers.items()}


class Gate:
    """Decides each check, counting refusals and throttling wrong tokens."""

    def __init__(
        self,
        settings: Settings,
        sessions: Sessions,
        throttle: Throttle,
        metrics: LiveMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.throttle = throttle
        self.metrics = metrics
        self.clock = clock

    def token(self, expected: Secret, candidate: str, client: str) -> Verdict:
        """Compare a presented token, unless ``client`` (or everybody) must wait."""
        now = self.clock()
        wait = self.throttle.wait_s(client, now)
        if wait > 0:
            self.metrics.auth_throttled.inc()
            return Verdict(429, max(1, math.ceil(wait)))
        if token_matches(expected, candidate):
            return ALLOWED
        self.throttle.failed(client, now)
        return self.refuse()

    async def session(self, cookie: str) -> Verdict:
        """Check a session cookie (503 when Redis cannot say)."""
        try:
            live = await self.sessions.valid(cookie)
        except (RedisError, OSError):
            return UNAVAILABLE
        return ALLOWED if live else self.refuse()

    async def admin(
        self, headers: Mapping[str, str], cookies: Mapping[str, str], client: str
    ) -> Verdict:
        """An admin's check: a header token first, else the session cookie."""
        token = presented_token(headers)
        if token is not None:
            return self.token(self.settings.admin_token, token, client)
        cookie = cookies.get(COOKIE)
        return await self.session(cookie) if cookie else self.refuse()

    def refuse(self) -> Verdict:
        self.metrics.auth_failures.inc()
        return REFUSED


def refusal(verdict: Verdict, detail: str = "admin token required") -> Response:
    """The HTTP answer to a check that did not let the request in."""
    if verdict.status == 429:
        detail = "too many failed attempts; try again later"
    elif verdict.status == 503:
        detail = "sessions unavailable; try again later"
    headers = {"retry-after": str(verdict.retry_after_s)} if verdict.retry_after_s else {}
    return JSONResponse({"detail": detail}, status_code=verdict.status, headers=headers)


async def refuse_unless_admin(request: Request) -> Response | None:
    """The refusal if ``request`` is not an admin's, else None."""
    gate: Gate = request.app.state.gate
    verdict = await gate.admin(lowered(request), request.cookies, client_of(request))
    return None if verdict.allowed else refusal(verdict)


def refuse_unless_metrics_reader(request: Request) -> Response | None:
    """With ``DOJO_METRICS_TOKEN`` set, the refusal unless it is the request's bearer token."""
    gate: Gate = request.app.state.gate
    expected = gate.settings.metrics_token
    if not expected:
        return None  # open by default: the counters hold nothing personal
    token = bearer(lowered(request))
    verdict = gate.token(expected, token, client_of(request)) if token else gate.refuse()
    if verdict.allowed:
        return None
    response = refusal(verdict, "metrics token required")
    response.headers["www-authenticate"] = "Bearer"
    return response
