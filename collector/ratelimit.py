"""Per-client request limits: a one-minute window per client address, shared through Redis.

The client is its address (behind trusted proxies, the forwarded one), never the user
agent, which the client chooses freely; IPv6 clients are limited per /64, the block one
subscriber gets. Redis only ever sees a keyed hash of it under the daily salt.

Several collector processes share one limit without a Redis round trip per request:
each process leases tokens from the window's count in Redis (a Lua script grants at most
what is left, so the sum of all leases never exceeds the limit) and spends them locally.
A lease starts at one token and doubles up to ``per_minute // LEASE_SHARE``, so a visitor
sending a beacon or two costs a round trip or two, and a flood costs a handful per minute.
Tokens leased and not spent are lost at the window's end: the limit can only err towards
refusing, never towards letting more through.

When Redis cannot answer, ``fail="closed"`` refuses the request (the collector answers
503, which the beacon retries) and ``fail="open"`` lets it through unchecked; both count.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import math
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from collector.visitor import keyed_hash
from stream.models.keys import Keys

log = logging.getLogger(__name__)

WINDOW_S = 60
LEASE_SHARE = 20  # largest lease is 1/20 of the limit: at most that is lost per process
MAX_CLIENTS = 100_000  # leases kept per window before the table is dropped (bounds memory)
IPV6_PREFIX = 64
MAX_ADDRESS_CHARS = 64  # a canonical IPv6 text is at most 45; longer is no address at all

# KEYS[1] window count; ARGV: wanted, limit, ttl. Grants min(wanted, limit - used).
CLAIM = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - used)
if grant <= 0 then return 0 end
redis.call('INCRBY', KEYS[1], grant)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return grant
"""


@dataclass(frozen=True)
class Verdict:
    """Whether one request may pass and, if not, in how many seconds it may."""

    allowed: bool
    retry_after: int = 0
    failed: bool = False  # Redis could not be asked; ``allowed`` is the fail policy


ALLOWED = Verdict(True)  # the common answer, made once


def client_bucket(salt: str, site: str, address: str) -> str:
    """The limiter's key for ``address``: IPv6 by /64, hashed under the daily salt."""
    if len(address) <= MAX_ADDRESS_CHARS:
        return _cached_bucket(salt, site, address)
    return _bucket(salt, site, address)


# Every request of a client asks for the same bucket; kept per process, in memory only, and
# keyed by the salt too, so a new day (or a salt replaced to forget everyone) starts afresh.
@functools.lru_cache(maxsize=MAX_CLIENTS // 8)
def _cached_bucket(salt: str, site: str, address: str) -> str:
    return _bucket(salt, site, address)


def _bucket(salt: str, site: str, address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        subject = address  # not an address (a test client, a unix socket): limit it as is
    else:
        subject = (
            str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
            if parsed.version == 6
            else str(parsed)
        )
    return keyed_hash(salt, "rate-limit", site, subject)


def window_key(keys: Keys, client: str, now: float) -> str:
    """The Redis key counting ``client``'s requests in the window holding ``now``."""
    return keys.rate_limit(int(now // WINDOW_S), client)


@dataclass
class _Lease:
    tokens: int = 0
    next_size: int = 1
    exhausted: bool = False  # Redis granted nothing: the window's limit is spent
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class RateLimiter:
    """Judges requests per client and window against ``per_minute``, shared through Redis."""

    def __init__(
        self, redis: aioredis.Redis, keys: Keys, per_minute: int, fail: str = "closed"
    ) -> None:
        if fail not in ("open", "closed"):
            raise ValueError(f"fail must be 'open' or 'closed', got {fail!r}")
        self._redis = redis
        self._keys = keys
        self._per_minute = per_minute
        self._fail_open = fail == "open"
        self._max_lease = max(1, per_minute // LEASE_SHARE)
        self._claim = redis.register_script(CLAIM)
        self._window = -1
        self._leases: dict[str, _Lease] = {}
        self._failing = False  # logged once per outage, not once per request
        self.failures = 0  # requests Redis could not judge
        self.failed_open = 0  # of those, let through unchecked (fail="open")

    async def hit(self, client: str, now: float) -> Verdict:
        """Count one request by ``client`` at epoch second ``now`` and judge it."""
        window = int(now // WINDOW_S)
        if window != self._window or len(self._leases) >= MAX_CLIENTS:
            # Leases of a past window are worthless; dropping live ones only loses tokens.
            self._window, self._leases = window, {}
        lease = self._leases.setdefault(client, _Lease())
        async with lease.lock:  # one claim at a time per client; the others wait for it
            if lease.tokens == 0 and not lease.exhausted:
                try:
                    granted = await self._claim(
                        keys=[window_key(self._keys, client, now)],
                        # Two windows, so the key outlives its window even with clock skew
                        # between replicas, then disappears by itself.
                        args=[lease.next_size, self._per_minute, 2 * WINDOW_S],
                    )
                except (RedisError, OSError) as exc:
                    return self._failed(exc)
                if self._failing:
                    self._failing = False
                    log.warning("rate limit is checked again")
                lease.tokens = int(granted)
                lease.exhausted = lease.tokens == 0
                lease.next_size = min(2 * lease.next_size, self._max_lease)
            if lease.tokens > 0:
                lease.tokens -= 1
                return ALLOWED
        window_end = (window + 1) * WINDOW_S
        return Verdict(False, max(1, math.ceil(window_end - now)))

    def _failed(self, exc: BaseException) -> Verdict:
        self.failures += 1
        if not self._failing:
            self._failing = True
            policy = "letting requests through" if self._fail_open else "refusing requests"
            log.warning("rate limit cannot be checked (%s), %s", type(exc).__name__, policy)
        if self._fail_open:
            self.failed_open += 1
            return Verdict(True, failed=True)
        return Verdict(False, failed=True)
