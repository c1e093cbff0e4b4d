"""How far each agent has folded: clean messages per agent, in one Redis hash.

Commits move only at checkpoints, a second or more apart, so they show when work was made
durable, not how fast it is done. These counters show the work itself, for the panel's
``/metrics`` (``dojo_agent_messages_folded``) and for ``bench/``. Like the pipeline
counters they are for watching: a message read again after a crash is counted again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

FOLDED_KEY = "dojo:stats:folded"
FLUSH_EVERY_S = 0.25  # one Redis write per agent at most this often


class Progress:
    """Counts one agent's folded messages and adds them to the shared hash now and then."""

    def __init__(
        self, redis: Redis, agent: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.redis = redis
        self.agent = agent
        self.clock = clock
        self.pending = 0
        self.flushed_at = clock()

    def add(self, messages: int) -> None:
        self.pending += messages

    async def flush(self, *, force: bool = False) -> None:
        """Add what was counted to Redis, if due (or ``force``); kept for later if Redis fails."""
        if not self.pending or (not force and self.clock() - self.flushed_at < FLUSH_EVERY_S):
            return
        count, self.pending = self.pending, 0
        self.flushed_at = self.clock()
        try:
            await self.redis.hincrby(FOLDED_KEY, self.agent, count)
        except (RedisError, OSError):
            self.pending += count


async def folded(redis: Redis) -> dict[str, int]:
    """Messages folded so far, per agent (empty when Redis is unreachable)."""
    with contextlib.suppress(RedisError, OSError):
        raw = await redis.hgetall(FOLDED_KEY)
        return {_text(k): int(v) for k, v in raw.items()}
    return {}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
