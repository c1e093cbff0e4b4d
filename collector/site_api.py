"""The site's public API: recommendations and personalisation for the visitor asking.

No admin token (the site calls it from visitors' browsers, limited to the site's
origins like ``POST /collect``) and no personal data out: answers hold content items and
a segment label only. The visitor is always the one making the request, identified
exactly as ``POST /collect`` identifies it (today's salt, address, user agent): there is
no parameter naming a visitor, so nobody can read another visitor's list.
"""

from __future__ import annotations

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from collector.answers import error, unavailable
from collector.origins import from_site
from collector.resources import Collector
from collector.salt import SaltUnavailable
from collector.visitor import visitor_of
from stream.learning.items import item_paths
from stream.learning.serving import recommendations_for, segment_for

MAX_N = 20
NEWCOMER = {
    "segment": None,
    "label": "newcomer",
    "blocks": ["upcoming-dojos", "what-is-a-coder-dojo", "beginner-resources"],
}


class BadQuery(ValueError):
    """A query parameter the API cannot use."""


def _refused(request: Request) -> Response | None:
    """The answer for a request this API does not serve, or None to go on."""
    c: Collector = request.state.collector
    if not from_site(request.headers, c.settings.site_origins, c.settings.originless):
        return error(403, "origin", "This API answers only the site's own pages.")
    if "visitor" in request.query_params:
        # Refused rather than ignored, so a page still sending it learns why its answers
        # changed instead of silently showing the asker's own list.
        return error(
            400,
            "bad_query",
            "visitor= is no longer accepted: the answer is always for the visitor asking",
        )
    return None


async def _visitor(request: Request) -> str:
    c: Collector = request.state.collector
    return visitor_of(request, c.settings, await c.salts.get(c.clock()))


def _count(request: Request) -> int:
    raw = request.query_params.get("n", "5")
    # isascii: str.isdigit() also takes other scripts' digits, which int() then reads.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_N:
        raise BadQuery(f"n must be an integer from 1 to {MAX_N}")
    return int(raw)


def _answer(body: object, status: int = 200) -> Response:
    # Per-visitor answers must not be shared by caches between visitors.
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "private, max-age=30"})


async def recommendations(request: Request) -> Response:
    """``GET /api/recommendations?n=5``: up to n items for the visitor asking."""
    c: Collector = request.state.collector
    refused = _refused(request)
    if refused is not None:
        return refused
    try:
        n = _count(request)
        visitor = await _visitor(request)
        items, source = await recommendations_for(
            c.redis, c.keys, visitor, item_paths(c.settings.item_paths)
        )
    except BadQuery as bad:
        return error(400, "bad_query", str(bad))
    except (SaltUnavailable, RedisError, OSError):
        return unavailable("Recommendations are unavailable right now; retry shortly.")
    return _answer({"items": items[:n], "source": source})


async def personalize(request: Request) -> Response:
    """``GET /api/personalize``: the asking visitor's segment and suggested blocks."""
    c: Collector = request.state.collector
    refused = _refused(request)
    if refused is not None:
        return refused
    try:
        visitor = await _visitor(request)
        segment = await segment_for(c.redis, c.keys, visitor)
    except (SaltUnavailable, RedisError, OSError):
        return unavailable("Personalisation is unavailable right now; retry shortly.")
    return _answer(segment or NEWCOMER)
