"""``GET /api/experiments/assign``: the variants of the visitor asking, for the site's pages.

Identified exactly like ``POST /collect`` (today's salt, address, user agent): there is no
parameter naming a visitor, and nothing is stored to remember the answer; the same visitor
gets the same variant all day because assignment is a hash (``stream.experiments.assignment``).
Experiments whose unit is the session need the beacon's ``session`` id. Definitions are the
published ``experiment`` content, read from the store at most every ``REFRESH_S`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import sqlalchemy
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from collector.answers import error, unavailable
from collector.origins import from_site
from collector.resources import Collector
from collector.salt import SaltUnavailable
from collector.visitor import visitor_of
from stream.content.queries import Reader
from stream.experiments.assignment import KEY, Plan, assign
from stream.experiments.definition import running_plans
from stream.ingest.contract import ID_PATTERN
from stream.settings import Settings
from stream.store import StoreError, open_store

REFRESH_S = 5.0
PARAMS = frozenset({"experiment", "session"})


class LiveExperiments:
    """The running experiments' plans, reloaded from the store when older than ``REFRESH_S``."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.engine: sqlalchemy.Engine | None = None
        self.plans: dict[str, Plan] = {}
        self.loaded = -REFRESH_S
        self.lock = asyncio.Lock()

    async def current(self) -> dict[str, Plan]:
        """The plans live now (``StoreError`` when the store cannot be read)."""
        async with self.lock:
            now = self.clock()
            if now - self.loaded >= REFRESH_S:
                self.plans = await asyncio.to_thread(self._load, int(now * 1000))
                self.loaded = now
            return self.plans

    def _load(self, now_ms: int) -> dict[str, Plan]:
        if self.engine is None:
            self.engine = open_store(self.settings)
        return running_plans(Reader(self.engine).published("experiment"), now_ms)


def assign_route(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint, holding its own cache of the running experiments."""
    live = LiveExperiments(settings)

    async def assign_variants(request: Request) -> Response:
        c: Collector = request.state.collector
        if not from_site(request.headers, c.settings.site_origins, c.settings.originless):
            return error(403, "origin", "This API answers only the site's own pages.")
        query = request.query_params
        extra = sorted(set(query) - PARAMS)
        if extra:
            return error(
                400, "bad_query", f"unknown parameter {extra[0][:40]!r}: experiment, session"
            )
        key, session = query.get("experiment"), query.get("session")
        if key is not None and KEY.fullmatch(key) is None:
            return error(400, "bad_query", "experiment must be 1-64 of a-z 0-9 _ -")
        if session is not None and ID_PATTERN.fullmatch(session) is None:
            return error(400, "bad_query", "session must be 8-64 of A-Z a-z 0-9 _ -")
        try:
            plans = await live.current()
            visitor = visitor_of(request, c.settings, await c.salts.get(c.clock()))
        except (StoreError, sqlalchemy.exc.SQLAlchemyError):
            return unavailable("Experiments are unavailable right now; retry shortly.")
        except (SaltUnavailable, RedisError, OSError):
            return unavailable("Experiments are unavailable right now; retry shortly.")
        units = {"visitor": visitor} | ({"session": session} if session else {})
        headers = {"Cache-Control": "private, no-store"}  # per visitor: never shared or reused
        if key is None:
            return JSONResponse({"variants": assign(plans.values(), units)}, headers=headers)
        if key not in plans:
            return error(404, "unknown_experiment", f"no running experiment {key!r}")
        variant = assign([plans[key]], units).get(key)
        return JSONResponse({"experiment": key, "variant": variant}, headers=headers)

    return assign_variants
