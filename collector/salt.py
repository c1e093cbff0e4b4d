"""The daily visitor salt: one random secret per UTC day, kept in Redis, gone after 48 h.

Every collector replica must hash a visitor the same way on the same day, so the salt
lives in Redis (created with ``SET NX``: the first replica wins, the others read it).
It expires 48 hours after its day began, which leaves the previous day's salt long
enough for late requests around midnight and then makes yesterday's ids unlinkable.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError

SALT_LIFETIME_S = 48 * 3600
SALT_BYTES = 32
# A replica re-reads the salt this often, so a salt deleted by hand (to forget everyone
# now) stops being used within seconds rather than at midnight.
CACHE_SECONDS = 5.0
KEY_PREFIX = "dojo:salt:"


class SaltUnavailable(Exception):
    """The salt store (Redis) could not be reached; no visitor id can be made."""


def salt_day(now: float) -> str:
    """The UTC date (``YYYY-MM-DD``) whose salt applies at epoch second ``now``."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def salt_key(now: float) -> str:
    """The Redis key holding the salt for the UTC day of ``now``."""
    return KEY_PREFIX + salt_day(now)


def salt_expires_at(now: float) -> int:
    """Epoch second at which the salt of ``now``'s day is deleted (48 h after day start)."""
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(day.timestamp()) + SALT_LIFETIME_S


async def daily_salt(redis: aioredis.Redis, now: float) -> str:
    """The hex salt for ``now``'s UTC day, created if this is the day's first request."""
    key = salt_key(now)
    try:
        async with redis.pipeline(transaction=True) as pipe:
            # EXAT pins the deletion to the day's start, whenever the key was created.
            pipe.set(key, secrets.token_hex(SALT_BYTES), nx=True, exat=salt_expires_at(now))
            pipe.get(key)
            _, value = await pipe.execute()
    except (RedisError, OSError) as exc:
        raise SaltUnavailable(f"cannot read the daily salt: {type(exc).__name__}") from exc
    if value is None:  # the key expired between SET and GET: only for days already gone
        raise SaltUnavailable("the salt for this day has already expired")
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class _Cached:
    day: str
    salt: str
    fetched_at: float


class SaltCache:
    """Keeps the current salt for a few seconds, and never across a UTC date change."""

    def __init__(self, redis: aioredis.Redis, max_age_s: float = CACHE_SECONDS) -> None:
        self._redis = redis
        self._max_age_s = max_age_s
        self._cached: _Cached | None = None
        # One read at a time: a burst arriving as the cache expires makes one Redis call,
        # not one per request (which would drain the connection pool).
        self._fetching = asyncio.Lock()
        self._attempts = 0
        self._last_failure: str | None = None

    async def get(self, now: float) -> str:
        """The salt for ``now``'s UTC day, from the cache when fresh (raises SaltUnavailable)."""
        day = salt_day(now)
        fresh = self._fresh(day, now)
        if fresh is not None:
            return fresh
        attempts = self._attempts
        async with self._fetching:
            fresh = self._fresh(day, now)  # fetched by whoever held the lock before us
            if fresh is not None:
                return fresh
            if self._attempts != attempts and self._last_failure is not None:
                # Whoever went before us while we waited failed: share that answer rather
                # than queue one more Redis timeout per waiting request.
                raise SaltUnavailable(self._last_failure)
            self._attempts += 1
            try:
                salt = await daily_salt(self._redis, now)
            except SaltUnavailable as exc:
                self._last_failure = str(exc)
                raise
            self._last_failure = None
            self._cached = _Cached(day, salt, now)
            return salt

    def _fresh(self, day: str, now: float) -> str | None:
        cached = self._cached
        if (
            cached is not None
            and cached.day == day
            and 0 <= now - cached.fetched_at < self._max_age_s
        ):
            return cached.salt
        return None
