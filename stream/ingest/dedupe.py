"""Duplicate detection across requests, worker restarts and replicas; Redis holds a cache of it.

Each accepted ``event_id`` is claimed with ``SET key position NX GET EX ttl``; the claims of
one take go in one server-side script call (one command to encode and parse instead of one
per event, which cost more than the validation itself). The value is
the position of the raw message that claimed it, so a message read again after a crash
(Kafka redelivers what was not committed) finds its *own* claim and is not mistaken for a
duplicate: nothing is lost, nothing counted twice. Redis going away blocks the agent with
retries instead of letting duplicates through; Kafka keeps the backlog meanwhile.

Redis may also lose what it held (a flush, a restart without its files, an append-only file
that missed its last second). The truth of which ids were accepted, and by which raw message,
is in ``dojo.events``, so the claims are only a cache of it. A ledger hash beside them holds
a generation and a count of claim calls; the claim script checks it in the same call, at no
extra round trip. A missing ledger, or a count lower than this process last saw (Redis went
back in time), means claims may be gone: they are restored from the accepted events of the
dedupe window before anything is judged, then the ledger is sealed again.

A take in flight when claims are lost is covered by the order claim -> send -> confirm ->
commit: ``confirm`` runs once Kafka holds the take's outputs and, if the ledger moved since
the take's claims, claims them again (they are now in Kafka, so any later rebuild finds them
too). Another replica's rebuild that read ``dojo.events`` before this take landed therefore
still sees the take's ids claimed before the raw messages are committed.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from stream.models.keys import Keys

log = logging.getLogger(__name__)

# The claim loop shared by the scripts. ARGV[1]: the key prefix, ARGV[2]: ttl in seconds,
# ARGV[3]: event ids, ARGV[4]: their owners (both space-separated: ids are [A-Za-z0-9_-],
# positions "partition:offset"). One character per id, "1" where that owner holds the key
# (claimed now, or by the same position before), else "0". Four arguments and one string
# back, instead of two arguments and one reply element per event: redis-py encodes and
# parses each of those in Python, which had cost more than the claims. The scripts build
# their keys, so they need one Redis node (this product's); Redis Cluster would want them
# declared as KEYS.
_CLAIM_LOOP = """
local owners = {}
for owner in string.gmatch(ARGV[4], '%S+') do owners[#owners + 1] = owner end
local owned, i = {}, 0
for id in string.gmatch(ARGV[3], '%S+') do
  i = i + 1
  local previous = redis.call('SET', ARGV[1] .. id, owners[i], 'NX', 'GET', 'EX', ARGV[2])
  owned[i] = (previous == false or previous == owners[i]) and '1' or '0'
end
"""
# ARGV[5]: the ledger key, ARGV[6]: the generation this process last saw, ARGV[7]: the count
# it last saw. Answers {generation, count, flags}, or {"", 0, ""} when claims may be lost.
CLAIM_SCRIPT = (
    """
local gen = redis.call('HGET', ARGV[5], 'gen')
if not gen then return {'', 0, ''} end
local seen = tonumber(redis.call('HGET', ARGV[5], 'n') or '0')
if gen == ARGV[6] and seen < tonumber(ARGV[7]) then return {'', 0, ''} end
local n = redis.call('HINCRBY', ARGV[5], 'n', 1)
"""
    + _CLAIM_LOOP
    + "return {gen, n, table.concat(owned)}"
)
# Same ARGV as CLAIM_SCRIPT with the take's own generation and count: "" if the ledger is
# as the take left it, else the take's ids are claimed again and their flags answered.
CONFIRM_SCRIPT = (
    """
local gen = redis.call('HGET', ARGV[5], 'gen')
local seen = tonumber(redis.call('HGET', ARGV[5], 'n') or '0')
if gen == ARGV[6] and seen >= tonumber(ARGV[7]) then return '' end
"""
    + _CLAIM_LOOP
    + "return table.concat(owned)"
)
# ARGV[1]: prefix, ARGV[2]: ids, ARGV[3]: owners, ARGV[4]: seconds left for each (all
# space-separated). Answers how many ids another position already held (accepted twice).
RESTORE_SCRIPT = """
local owners, ttls = {}, {}
for owner in string.gmatch(ARGV[3], '%S+') do owners[#owners + 1] = owner end
for ttl in string.gmatch(ARGV[4], '%S+') do ttls[#ttls + 1] = ttl end
local clashes, i = 0, 0
for id in string.gmatch(ARGV[2], '%S+') do
  i = i + 1
  local previous = redis.call('SET', ARGV[1] .. id, owners[i], 'NX', 'GET', 'EX', ttls[i])
  if previous ~= false and previous ~= owners[i] then clashes = clashes + 1 end
end
return clashes
"""
OWNED = ord("1")
RETRY_MAX_S = 10.0

# (event id, owner position, seconds its claim has left): one accepted event to claim again.
Accepted = tuple[str, str, int]
T = TypeVar("T")


class Claims(Protocol):
    """Anything that can claim event ids for a source position (Redis in production)."""

    async def claim(self, claims: Sequence[tuple[str, str]]) -> list[bool]: ...


class ConfirmedClaims(Claims, Protocol):
    """Claims that may be lost, so a take confirms them once Kafka holds its outputs."""

    async def confirm(self) -> None: ...


class AcceptedEvents(Protocol):
    """Where the events accepted within the dedupe window can be read again, in chunks."""

    def chunks(self) -> AsyncIterator[Sequence[Accepted]]: ...


@dataclass(frozen=True)
class _Take:
    ids: str
    owners: str
    owned: bytes
    gen: bytes
    n: int


class RedisClaims:
    """Claims event ids in Redis for ``ttl_s`` seconds; restores them from ``accepted`` if lost."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        ttl_s: int,
        accepted: AcceptedEvents,
        *,
        retry_s: float = 1.0,
    ) -> None:
        self._redis = redis
        self._prefix = keys.dedupe_prefix
        self._ledger = keys.dedupe_ledger
        self._ttl_s = ttl_s
        self._accepted = accepted
        self._retry_s = retry_s
        self._claim = redis.register_script(CLAIM_SCRIPT)
        self._confirm = redis.register_script(CONFIRM_SCRIPT)
        self._restore = redis.register_script(RESTORE_SCRIPT)
        self._gen = b""  # the ledger as this process last saw it
        self._n = 0
        self._last: _Take | None = None
        self.rebuilds = 0

    async def claim(self, claims: Sequence[tuple[str, str]]) -> list[bool]:
        """For each (event id, position): True if that position owns the id.

        A position owns an id it claimed first, or claimed before and is reading again.
        If the store lost claims, they are restored from Kafka first.
        """
        if not claims:
            return []
        ids = " ".join(event_id for event_id, _ in claims)
        owners = " ".join(position for _, position in claims)
        while True:
            take = await self._retrying(lambda: self._claim_once(ids, owners, len(claims)))
            if take is not None:
                self._last = take
                return [flag == OWNED for flag in take.owned]
            await self._retrying(self.rebuild)

    async def confirm(self) -> None:
        """Claim the last take's ids again if the store lost claims since that take claimed them.

        Call once Kafka holds the take's outputs and before its input is committed.
        """
        take, self._last = self._last, None
        if take is None:
            return
        again = await self._retrying(lambda: self._confirm_once(take))
        if again:
            # Owned at claim time, held by another position now: another replica accepted
            # the same id while this take was in flight across the loss. Both are in Kafka.
            twice = sum(1 for was, now in zip(take.owned, again, strict=True) if was > now)
            log.warning("dedupe store lost claims mid-take: re-claimed %d ids", len(again))
            if twice:
                log.error("dedupe: %d events were accepted twice around a store loss", twice)

    async def rebuild(self) -> None:
        """Claim again every id accepted within the window, then seal the ledger."""
        self.rebuilds += 1
        began = time.monotonic()
        log.warning("dedupe store lost its claims; restoring them from the accepted events")
        restored = clashes = 0
        async for chunk in self._accepted.chunks():
            clashes += await self._restore_chunk(chunk)
            restored += len(chunk)
        gen = secrets.token_hex(8).encode()
        await self._redis.hset(self._ledger, mapping={"gen": gen, "n": 0})
        self._gen, self._n = gen, 0
        log.warning(
            "dedupe store restored: %d claims (%d held by another position) in %.1f s",
            restored,
            clashes,
            time.monotonic() - began,
        )

    async def _claim_once(self, ids: str, owners: str, count: int) -> _Take | None:
        args: list[bytes | str | int] = [
            self._prefix, self._ttl_s, ids, owners, self._ledger, self._gen, self._n
        ]  # fmt: skip
        gen, n, owned = await self._claim(keys=[], args=args)
        if not gen:
            return None
        if len(owned) != count:  # a broken reply must never pass as "not a duplicate"
            raise RedisError(f"claim script answered {len(owned)} flags for {count} ids")
        self._gen, self._n = gen, int(n)
        return _Take(ids, owners, owned, gen, int(n))

    async def _confirm_once(self, take: _Take) -> bytes:
        args: list[bytes | str | int] = [
            self._prefix, self._ttl_s, take.ids, take.owners, self._ledger, take.gen, take.n
        ]  # fmt: skip
        again: bytes = await self._confirm(keys=[], args=args)
        if again and len(again) != len(take.owned):
            raise RedisError(f"confirm script answered {len(again)} flags")
        return again

    async def _restore_chunk(self, chunk: Sequence[Accepted]) -> int:
        ids = " ".join(event_id for event_id, _, _ in chunk)
        owners = " ".join(owner for _, owner, _ in chunk)
        ttls = " ".join(str(left) for _, _, left in chunk)
        return int(await self._restore(keys=[], args=[self._prefix, ids, owners, ttls]))

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await call()
            except (RedisError, OSError) as exc:
                attempt += 1
                # Waiting loses nothing: the raw message stays uncommitted in Kafka.
                log.warning(
                    "dedupe store unavailable (attempt %d): %s", attempt, type(exc).__name__
                )
                await asyncio.sleep(min(self._retry_s * attempt, RETRY_MAX_S))
