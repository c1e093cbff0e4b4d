"""The daily visitor salt: one random secret per UTC day, kept in Redis, gone after 48 h.

Every collector replica must hash a visitor the same way on the same day, so the salt
lives in Redis (created with ``SET NX``: the first replica wins, the others read it).
It expires 48 hours after its day began, which leaves the previous day's salt long
enough for late requests around midnight and then makes yesterday's ids unlinkable.

Redis may lose the salt mid-day (a flush, a restart without its files). A new salt then
would give every returning visitor a second id and inflate the day's visitors, so a
replica that still holds the day's salt writes it back (``SET NX`` again: all replicas
agree on one). Only if no replica holds it (all restarted while Redis was lost) is a new
one made mid-day; then the day's visitor figure is flagged: ``Keys.salt_reset(day)``
holds when it happened and the collector counts it on ``/metrics``. The salt record is
``<hex>.<epoch second it was made>``, so a replacement is told from the day's first salt.
To forget everyone now, overwrite the day's salt (``SET ... KEEPTTL``) with new random
hex: deleting it would only make the replicas write the cached one back.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from stream.models.keys import Keys

log = logging.getLogger(__name__)

SALT_LIFETIME_S = 48 * 3600
SALT_BYTES = 32
# A replica re-reads the salt this often, so a salt replaced by hand (to forget everyone
# now) stops being used within seconds rather than at midnight.
CACHE_SECONDS = 5.0
# A salt made this long after its day began, while the day already had traffic, replaced a
# lost one (the day's first request normally makes it within seconds of midnight).
RESET_GRACE_S = 300
DAY_S = 86_400


class SaltUnavailable(Exception):
    """The salt store (Redis) could not be reached; no visitor id can be made."""


def salt_day(now: float) -> str:
    """The UTC date (``YYYY-MM-DD``) whose salt applies at epoch second ``now``."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def salt_key(keys: Keys, now: float) -> str:
    """The Redis key holding the salt for the UTC day of ``now``."""
    return keys.salt(salt_day(now))


def salt_expires_at(now: float) -> int:
    """Epoch second at which the salt of ``now``'s day is deleted (48 h after day start)."""
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(day.timestamp()) + SALT_LIFETIME_S


def day_start(now: float) -> int:
    """Epoch second at which ``now``'s UTC day began."""
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(day.timestamp())


def reset_key(keys: Keys, now: float) -> str:
    """The Redis key that flags ``now``'s day: its salt was made again mid-day."""
    return keys.salt_reset(salt_day(now))


@dataclass(frozen=True)
class Salt:
    """One day's salt and the epoch second it was made (0: stored before that was kept).

    ``reset_at`` is what Redis said when it was read: the epoch second the day's salt was
    found lost and made anew (None: it never was). It is not part of the stored record.
    """

    hex: str
    made_at: int
    reset_at: int | None = field(default=None, compare=False)

    def record(self) -> str:
        return f"{self.hex}.{self.made_at}"

    @classmethod
    def parse(cls, raw: bytes | str) -> Salt:
        text = raw.decode() if isinstance(raw, bytes) else raw
        hex_part, _, made = text.partition(".")
        return cls(hex_part, int(made) if made.isdigit() else 0)


async def fetch_salt(
    redis: aioredis.Redis,
    keys: Keys,
    now: float,
    keep: Salt | None = None,
    on_reset: Callable[[], None] = lambda: None,
) -> Salt:
    """The salt of ``now``'s UTC day; if Redis has none, ``keep`` (written back) or a new one.

    A new salt made after ``RESET_GRACE_S`` into a day that had traffic, while yesterday's
    salt is gone too (so Redis lost its keys: they live 48 h), sets the day's reset flag and
    calls ``on_reset`` (raises SaltUnavailable if Redis cannot be reached). A ``keep`` written
    back brings its day's flag back too (``keep.reset_at``): a second loss of Redis must not
    erase that the day's visitors were over-counted.
    """
    key = salt_key(keys, now)
    offer = keep if keep is not None else Salt(secrets.token_hex(SALT_BYTES), int(now))
    try:
        async with redis.pipeline(transaction=True) as pipe:
            # EXAT pins the deletion to the day's start, whenever the key was created.
            pipe.set(key, offer.record(), nx=True, exat=salt_expires_at(now))
            pipe.get(key)
            pipe.exists(salt_key(keys, now - 86_400))
            pipe.get(keys.snapshot("traffic"))
            pipe.get(reset_key(keys, now))
            made, value, yesterday, traffic, flag = await pipe.execute()
        if value is None:  # the key expired between SET and GET: only for days already gone
            raise SaltUnavailable("the salt for this day has already expired")
        salt = replace(Salt.parse(value), reset_at=_epoch_second(flag))
        lost = made and keep is None and not yesterday
        reset_at = None
        if lost and replaced_a_lost_salt(salt, traffic, now):
            reset_at = salt.made_at
            on_reset()
            log.warning("daily salt lost and made anew: today's visitors may be over-counted")
        elif made and keep is not None and salt.reset_at is None:
            reset_at = keep.reset_at  # Redis lost the flag with the salt: put both back
        if reset_at is not None:
            await redis.set(reset_key(keys, now), reset_at, nx=True, exat=salt_expires_at(now))
            salt = replace(salt, reset_at=reset_at)
    except (RedisError, OSError) as exc:
        raise SaltUnavailable(f"cannot read the daily salt: {type(exc).__name__}") from exc
    return salt


def _epoch_second(raw: bytes | None) -> int | None:
    text = raw.decode("ascii", "replace") if raw is not None else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 16 else None


def replaced_a_lost_salt(salt: Salt, traffic: bytes | None, now: float) -> bool:
    """Whether a salt just made replaced a lost one: made late, and the day had traffic.

    The traffic snapshot (republished by the worker every few seconds) tells whether the
    day had traffic; missing, unreadable or from another day, it cannot rule it out.
    """
    if salt.made_at - day_start(now) <= RESET_GRACE_S:
        return False
    if traffic is None:
        return True
    try:
        body = orjson.loads(traffic)
        views, ts = body["data"]["today"]["views"], body["ts"]
        if not isinstance(views, int) or salt_day(ts / 1000) != salt_day(now):
            return True
    except (orjson.JSONDecodeError, LookupError, TypeError, ValueError, OverflowError, OSError):
        return True
    return views > 0


async def salt_reset_at(redis: aioredis.Redis, keys: Keys, now: float) -> int | None:
    """When ``now``'s day had its salt made anew (visitors may be over-counted), if it did."""
    raw = await redis.get(reset_key(keys, now))
    return int(raw) if raw is not None else None


async def daily_salt(redis: aioredis.Redis, keys: Keys, now: float) -> str:
    """The hex salt for ``now``'s UTC day, created if this is the day's first request."""
    return (await fetch_salt(redis, keys, now)).hex


@dataclass
class _Cached:
    day: str
    index: int  # the same day as whole days since the epoch
    salt: Salt
    fetched_at: float


class SaltCache:
    """Keeps the current salt for a few seconds, and never across a UTC date change."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        max_age_s: float = CACHE_SECONDS,
        on_reset: Callable[[], None] = lambda: None,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._max_age_s = max_age_s
        self._on_reset = on_reset
        self._cached: _Cached | None = None
        # One read at a time: a burst arriving as the cache expires makes one Redis call,
        # not one per request (which would drain the connection pool).
        self._fetching = asyncio.Lock()
        self._attempts = 0
        self._last_failure: str | None = None

    async def get(self, now: float) -> str:
        """The salt for ``now``'s UTC day, from the cache when fresh (raises SaltUnavailable)."""
        fresh = self._fresh(now)
        if fresh is not None:
            return fresh
        day = salt_day(now)
        attempts = self._attempts
        async with self._fetching:
            fresh = self._fresh(now)  # fetched by whoever held the lock before us
            if fresh is not None:
                return fresh
            if self._attempts != attempts and self._last_failure is not None:
                # Whoever went before us while we waited failed: share that answer rather
                # than queue one more Redis timeout per waiting request.
                raise SaltUnavailable(self._last_failure)
            self._attempts += 1
            held = self._cached.salt if self._cached and self._cached.day == day else None
            try:
                # Holding the day's salt, offer it back: Redis may have lost it.
                salt = await fetch_salt(
                    self._redis, self._keys, now, keep=held, on_reset=self._on_reset
                )
            except SaltUnavailable as exc:
                self._last_failure = str(exc)
                raise
            self._last_failure = None
            self._cached = _Cached(day, int(now // DAY_S), salt, now)
            return salt.hex

    def _fresh(self, now: float) -> str | None:
        cached = self._cached
        # The day compared as a number of whole days since the epoch (UTC days: POSIX time
        # has no leap seconds), not as a formatted date: this runs on every request.
        if (
            cached is not None
            and int(now // DAY_S) == cached.index
            and 0 <= now - cached.fetched_at < self._max_age_s
        ):
            return cached.salt.hex
        return None
