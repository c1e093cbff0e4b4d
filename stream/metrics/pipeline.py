"""Counters of the ingest pipeline (valid, dead-lettered by reason) for the live panel.

Totals are kept in a Redis hash shared by every worker, so the panel shows the whole
pipeline however many workers run; the ``pipeline`` snapshot is published at most
``max_hz`` times a second. These counters are for watching, not for accounting: after a
crash, redelivered messages may be counted again (the topics themselves stay exact).

Redis losing the hash must not send the totals back to zero: every flush reads the totals
back, and the flush that finds the hash gone (checked in the same script call) first
writes back the totals this worker last read, then adds its counts; the minute counts
this worker made in the last hours are added back too. With one worker the totals stay
exact; with several, increments other workers made between this worker's last read and
the loss are missing (at most a take each).

Per closed minute and raw partition the counts also go to history
(``stream.metrics.pipeline_minutes``), through ``drain_minutes``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from stream.metrics.pipeline_minutes import PipelineMinutes
from stream.models.keys import Keys
from stream.sinks.prometheus import ACCEPTED, DEAD_LETTERED
from stream.sinks.publish import SnapshotPublisher
from stream.sketches.tally import Tally

# KEYS: the totals hash, the processed counter. ARGV[1]: how many (field, total) pairs follow
# to restore if the hash is gone; then those pairs; then the events processed now; then the
# (field, count) pairs to add. Answers {1 if it restored, the totals as HGETALL}.
ADD_SCRIPT = """
local k = tonumber(ARGV[1])
local restored = 0
if k > 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  local processed = 0
  for j = 0, k - 1 do
    local field, total = ARGV[2 + 2 * j], ARGV[3 + 2 * j]
    redis.call('HSET', KEYS[1], field, total)
    if field == 'valid' or field == 'dead_lettered' then processed = processed + tonumber(total) end
  end
  redis.call('SET', KEYS[2], processed, 'NX')
  restored = 1
end
local i = 3 + 2 * k
redis.call('INCRBY', KEYS[2], ARGV[2 + 2 * k])
while i < #ARGV do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
return {restored, redis.call('HGETALL', KEYS[1])}
"""
# Keys.ingest_minute holds a received minute's valid and dead counts (crawlers left out).
MINUTE_TTL_S = 3 * 3600
MINUTE_MS = 60_000


def dead_share(counts: dict[bytes, bytes]) -> float:
    """Share of a minute's items that were dead-lettered (0 when nothing arrived)."""
    valid, dead = int(counts.get(b"valid", 0)), int(counts.get(b"dead", 0))
    return dead / (valid + dead) if valid + dead else 0.0


class PipelineStats:
    """Accumulates counts per take and flushes them to Redis in one round trip."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        publisher: SnapshotPublisher,
        *,
        max_hz: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._publisher = publisher
        self._pending: Counter[str] = Counter()
        self._minutes: Counter[tuple[int, str]] = Counter()
        self._add = redis.register_script(ADD_SCRIPT)
        self._seen: dict[bytes, bytes] = {}  # the totals as last read back
        self._mine: Counter[tuple[int, str]] = Counter()  # this worker's recent minute counts
        self._min_gap = 1.0 / max_hz
        self._clock = clock
        self._last_publish = 0.0
        self._unpublished: dict[bytes, bytes] | None = None  # totals newer than the last publish
        self._rate_mark = (clock(), 0)
        self.events_per_s = 0.0
        self.minutes = PipelineMinutes()

    def drain_minutes(self) -> list[tuple[int, int, Tally]]:
        """(raw partition, minute start, tally) of the minutes closed since the last call."""
        return self.minutes.drain()

    def add(
        self, clean: Sequence[dict[str, Any]], dead: Sequence[dict[str, Any]], scrubbed: int,
        source: tuple[int, int, int] | None = None,
    ) -> None:  # fmt: skip
        """Count one raw message's outcome; ``source``: its (partition, offset, received_at)."""
        valid = sum(len(batch["events"]) for batch in clean)
        if source is not None:
            self.minutes.add(*source, valid, [letter["reason"] for letter in dead])
        ACCEPTED.inc(valid)  # this process's own counts, for the worker's /metrics
        self._pending["valid"] += valid
        self._pending["dead_lettered"] += len(dead)
        self._pending["scrubbed"] += scrubbed
        for letter in dead:
            self._pending["reason:" + letter["reason"]] += 1
            DEAD_LETTERED.labels(reason=letter["reason"]).inc()
            minute = letter["received_at"] - letter["received_at"] % MINUTE_MS
            if letter["reason"] != "bot":
                self._minutes[minute, "dead"] += 1
        for batch in clean:
            minute = batch["received_at"] - batch["received_at"] % MINUTE_MS
            self._minutes[minute, "valid"] += len(batch["events"])

    async def flush(self) -> None:
        """Add pending counts to the shared totals; publish a snapshot if one is due.

        Totals added within the publishing gap are published by a later call, with or without
        new counts: the last burst of a quiet spell must reach the panel too.
        """
        if not self._pending:
            if self._unpublished is not None:
                await self._publish(self._unpublished)
            return
        pending, self._pending = self._pending, Counter()
        minutes, self._minutes = self._minutes, Counter()
        processed = pending["valid"] + pending["dead_lettered"]
        restore = [part for pair in self._seen.items() for part in pair]
        added = [part for name, count in pending.items() for part in (name, count)]
        keys = self._keys
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                args = [len(self._seen), *restore, processed, *added]
                await self._add(keys=[keys.pipeline, keys.events_processed], args=args, client=pipe)
                for (minute, name), count in minutes.items():
                    pipe.hincrby(keys.ingest_minute(minute), name, count)
                    pipe.expire(keys.ingest_minute(minute), MINUTE_TTL_S)
                (restored, flat), *_ = await pipe.execute()
            if restored:
                await self._restore_minutes()
        except (RedisError, OSError):
            self._pending.update(pending)  # keep them for the next flush
            self._minutes.update(minutes)
            return
        totals = dict(zip(flat[::2], flat[1::2], strict=True))
        self._seen = totals
        self._remember(minutes)
        now = self._clock()
        since, count = self._rate_mark
        if now - since >= 1.0:
            self.events_per_s = count / (now - since)
            self._rate_mark = (now, processed)
        else:
            self._rate_mark = (since, count + processed)
        self._unpublished = totals
        await self._publish(totals)

    async def _publish(self, totals: dict[bytes, bytes]) -> None:
        now = self._clock()
        if now - self._last_publish >= self._min_gap:
            self._last_publish = now
            self._unpublished = None
            await self._publisher.publish("pipeline", self.snapshot(totals), int(now * 1000))

    def _remember(self, minutes: Counter[tuple[int, str]]) -> None:
        self._mine.update(minutes)
        oldest = int(self._clock() * 1000) - MINUTE_TTL_S * 1000
        for key in [key for key in self._mine if key[0] < oldest]:
            del self._mine[key]

    async def _restore_minutes(self) -> None:
        """Add back this worker's earlier minute counts, lost with the totals."""
        if not self._mine:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for (minute, name), count in self._mine.items():
                pipe.hincrby(self._keys.ingest_minute(minute), name, count)
                pipe.expire(self._keys.ingest_minute(minute), MINUTE_TTL_S)
            await pipe.execute()

    def snapshot(self, totals: dict[bytes, bytes]) -> dict[str, Any]:
        """The ``pipeline`` channel's data from the shared totals."""
        counts = {key.decode(): int(value) for key, value in totals.items()}
        return {
            "valid": counts.get("valid", 0),
            "dead_lettered": counts.get("dead_lettered", 0),
            "scrubbed": counts.get("scrubbed", 0),
            "reasons": {
                name.removeprefix("reason:"): value
                for name, value in sorted(counts.items())
                if name.startswith("reason:")
            },
            "events_per_s": round(self.events_per_s, 1),
        }
