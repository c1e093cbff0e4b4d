"""How far each agent has folded, and whether it is alive: three Redis hashes keyed by agent.

The hashes are ``Keys.folded``, ``Keys.folded_at`` and ``Keys.seen_at``.

Commits move only at checkpoints, a second or more apart, so they show when work was made
durable, not how fast it is done. These counters show the work itself, for the panel's
``/metrics`` (``dojo_agent_messages_folded``) and for ``bench/``. Like the pipeline
counters they are for watching: a message read again after a crash is counted again.

Beside the counts each agent writes two wall-clock times (epoch seconds): when it last
folded a message (or started, if it has not folded yet), and when it last checked in.
An agent checks in at every flush, folded or not, and its worker calls ``flush`` at least
once a second, so a check-in older than a few seconds means the worker is gone; the live
feed turns these into ``/healthz``'s worker state and the panel's banner.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from stream.models.keys import Keys
from stream.sinks.prometheus import FOLDED, LAST_FOLD

FLUSH_EVERY_S = 0.25  # one Redis write per agent at most this often


class Progress:
    """Counts one agent's folded messages and reports them, and its check-in, now and then."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        agent: str,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.agent = agent
        self.clock = clock
        self.wall = wall
        self.pending = 0
        self.flushed_at = clock()
        self.folded_at = wall()  # "idle since": a fresh agent is not behind yet
        # This process's own counts, for the worker's /metrics (present at 0 from the start).
        self.folded_here = FOLDED.labels(agent=agent)
        self.last_fold_here = LAST_FOLD.labels(agent=agent)

    def add(self, messages: int) -> None:
        self.pending += messages
        if messages:
            self.folded_at = self.wall()
            self.folded_here.inc(messages)

    async def flush(self, *, force: bool = False) -> None:
        """Check in and add what was counted, if due (or ``force``); kept if Redis fails."""
        if not force and self.clock() - self.flushed_at < FLUSH_EVERY_S:
            return
        count, self.pending = self.pending, 0
        self.flushed_at = self.clock()
        self.last_fold_here.set(self.folded_at)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                if count:
                    pipe.hincrby(self.keys.folded, self.agent, count)
                pipe.hset(self.keys.folded_at, self.agent, repr(self.folded_at))
                pipe.hset(self.keys.seen_at, self.agent, repr(self.wall()))
                await pipe.execute()
        except (RedisError, OSError):
            self.pending += count


@dataclass(frozen=True)
class AgentTimes:
    """Per agent, in epoch seconds: the last fold (or start) and the last check-in."""

    folded_at: dict[str, float]
    seen_at: dict[str, float]


async def folded(redis: Redis, keys: Keys) -> dict[str, int]:
    """Messages folded so far, per agent (empty when Redis is unreachable)."""
    with contextlib.suppress(RedisError, OSError):
        raw = await redis.hgetall(keys.folded)
        return {_text(k): int(v) for k, v in raw.items()}
    return {}


async def agent_times(redis: Redis, keys: Keys) -> AgentTimes:
    """The agents' last folds and check-ins (Redis errors reach the caller: no data is news)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.folded_at)
        pipe.hgetall(keys.seen_at)
        folded_raw, seen_raw = await pipe.execute()
    return AgentTimes(_seconds(folded_raw), _seconds(seen_raw))


def _seconds(raw: dict[bytes | str, bytes | str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in raw.items():
        with contextlib.suppress(ValueError):
            seconds = float(value)
            if math.isfinite(seconds):
                out[_text(key)] = seconds
    return out


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
