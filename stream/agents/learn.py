"""learn_online: dojo.events -> engagement scores, recommendations, segments (river models).

The learners share one checkpointed state per worker (``stream.learning``). After each take
the agent sends the new engagement scores to ``dojo.scores.engagement`` and leaves the
touched visitors' recommendations and segments in Redis for the site's API; its snapshot
feeds three live channels.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from redis.exceptions import RedisError

from stream.agents.aggregate import Aggregator, now_ms
from stream.learning import LearningState
from stream.serving import store_for_visitors


class Learner(Aggregator):
    """The aggregator of the learning state: sends its outputs, fans its snapshot out."""

    scores_topic: Any = None

    async def after_fold(self) -> None:
        """Send the scores of this take; store what the site's API will serve."""
        if not self.rollup.slots:
            return
        state: LearningState = self.rollup.slots[0].state
        scores, recs, segments, popular = state.drain(now_ms())
        for record in scores:
            await self.out.send(key=record["visitor_id"].encode(), value=orjson.dumps(record))
        # The site's API falls back to popular items when Redis misses a visitor.
        with contextlib.suppress(RedisError, OSError):
            await store_for_visitors(self.redis, recs, segments, popular)

    async def emit(self, merged: Any, at: int) -> None:
        """One live channel per learner."""
        for channel, data in merged.snapshot(at).items():
            await self.publisher.publish(channel, data, at)
