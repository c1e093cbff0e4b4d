"""Is today's visitor figure whole? Not when the day's visitor salt had to be made anew.

The collector keeps one salt per UTC day in Redis. If Redis lost it and no collector still
held it, a new salt was made mid-day and set ``Keys.salt_reset(day)`` to the epoch second it
was made: from then on a returning visitor gets a second id, so the day's visitors may be
over-counted. ``GET /api/visitors/day`` tells the panel (which notes it beside the figure),
and ``/metrics`` shows ``dojo_visitors_day_broken``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live_feed.auth import refuse_unless_admin
from stream.models.keys import Keys

DAY_S = 86_400


def utc_day(now: float) -> str:
    """The UTC date (``YYYY-MM-DD``) of epoch second ``now``, as the collector names salts."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class VisitorDay:
    """One UTC day's visitor figure: broken or whole, and since when it is broken."""

    day: str
    broken: bool
    since: int | None  # epoch second the new salt was made; None when whole or unreadable

    def asdict(self) -> dict[str, Any]:
        """The JSON form served on ``/api/visitors/day``."""
        return {"day": self.day, "broken": self.broken, "salt_lost_at": self.since}


async def visitor_day(redis: Redis, keys: Keys, now: float) -> VisitorDay:
    """Whether ``now``'s UTC day had its salt made anew, and when (raises RedisError)."""
    day = utc_day(now)
    raw = await redis.get(keys.salt_reset(day))
    if raw is None:
        return VisitorDay(day, broken=False, since=None)
    return VisitorDay(day, broken=True, since=_second_of(raw, day))


def _second_of(raw: bytes | str, day: str) -> int | None:
    # The flag is the collector's, but Redis is shared: anything that is not an epoch second
    # of the day itself still flags the day, only without a time to show.
    try:
        second = int(raw.decode("ascii") if isinstance(raw, bytes) else raw)
    except (UnicodeDecodeError, ValueError):
        return None
    start = int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    return second if start <= second < start + DAY_S else None


async def visitors_day(request: Request) -> Response:
    """``GET /api/visitors/day``: today's (UTC) visitor figure, whole or broken since when."""
    if (refused := await refuse_unless_admin(request)) is not None:
        return refused
    state = await visitor_day(request.app.state.redis, request.app.state.keys, time.time())
    return JSONResponse(state.asdict(), headers={"cache-control": "no-store"})
