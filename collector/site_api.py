"""The site's public API: recommendations and personalisation for the visitor asking.

No admin token (the site calls it from visitors' browsers, CORS-limited to the site's
origins) and no personal data out: answers hold content items and a segment label only.
Without ``visitor=`` the visitor is the one making the request, identified exactly as
``POST /collect`` identifies it (today's salt, address, user agent), so the site never
needs to learn or store an id.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from collector.salt import SaltUnavailable
from collector.visitor import visitor_id
from stream.serving import recommendations_for, segment_for

if TYPE_CHECKING:
    from collector.app import Collector

VISITOR = re.compile(r"[0-9a-f]{8,64}")
MAX_N = 20
NEWCOMER = {
    "segment": None,
    "label": "newcomer",
    "blocks": ["upcoming-dojos", "what-is-a-coder-dojo", "beginner-resources"],
}


class BadQuery(ValueError):
    """A query parameter the API cannot use."""


async def _visitor(request: Request) -> str:
    given = request.query_params.get("visitor")
    if given is not None:
        if VISITOR.fullmatch(given) is None:
            raise BadQuery("visitor must be 8-64 lowercase hex characters")
        return given
    c: Collector = request.state.collector
    salt = await c.salts.get(c.clock())
    ip = request.client.host if request.client else ""
    return visitor_id(salt, c.settings.site_id, ip, request.headers.get("user-agent", ""))


def _count(request: Request) -> int:
    raw = request.query_params.get("n", "5")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_N:
        raise BadQuery(f"n must be an integer from 1 to {MAX_N}")
    return int(raw)


def _answer(body: object, status: int = 200) -> Response:
    # Per-visitor answers must not be shared by caches between visitors.
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "private, max-age=30"})


async def recommendations(request: Request) -> Response:
    """``GET /api/recommendations?visitor=ID&n=5``: up to n items for this visitor."""
    from collector.app import error, unavailable

    c: Collector = request.state.collector
    try:
        n = _count(request)
        visitor = await _visitor(request)
        items, source = await recommendations_for(c.redis, visitor)
    except BadQuery as bad:
        return error(400, "bad_query", str(bad))
    except (SaltUnavailable, RedisError, OSError):
        return unavailable("Recommendations are unavailable right now; retry shortly.")
    return _answer({"items": items[:n], "source": source})


async def personalize(request: Request) -> Response:
    """``GET /api/personalize?visitor=ID``: the visitor's segment and suggested blocks."""
    from collector.app import error, unavailable

    c: Collector = request.state.collector
    try:
        visitor = await _visitor(request)
        segment = await segment_for(c.redis, visitor)
    except BadQuery as bad:
        return error(400, "bad_query", str(bad))
    except (SaltUnavailable, RedisError, OSError):
        return unavailable("Personalisation is unavailable right now; retry shortly.")
    return _answer(segment or NEWCOMER)
