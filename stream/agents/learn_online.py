"""learn_online: dojo.events -> engagement scores, recommendations, segments (river models).

The learners share one checkpointed state per worker (``stream.learning.state``). About once a
second the agent sends each session's newest engagement score to ``dojo.scores.engagement``
and leaves the touched visitors' recommendations and segments in Redis for the site's API;
its snapshot feeds three live channels.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import faust
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from stream.ingest.bundles import Decoded
from stream.learning.serving import store_for_visitors
from stream.learning.state import LearningState
from stream.metrics.pipeline import MINUTE_MS, dead_share
from stream.runtime.aggregate import Aggregator, Metric, now_ms
from stream.runtime.budget import Budget
from stream.sinks.publish import SnapshotPublisher

SERVE_EVERY_S = 1.0
SCORES_EVERY_S = 1.0


class Learner(Aggregator):
    """The aggregator of the learning state: sends its outputs, fans its snapshot out."""

    def __init__(
        self,
        app: faust.App,
        metric: Metric,
        out: faust.TopicT,
        publisher: SnapshotPublisher,
        redis: Redis,
        partitions: int,
        decoded: Decoded,
        budget: Budget,
        *,
        alerts: faust.TopicT,
    ) -> None:
        super().__init__(app, metric, out, publisher, redis, partitions, decoded, budget)
        self.alerts = alerts  # where anomaly alerts go
        self.last_served = self.last_scored = 0.0
        self.serve_cost = 0.0  # seconds the last refresh took

    async def after_fold(self) -> None:
        """Send the newest scores; store what the site's API will serve (both paced)."""
        state: LearningState | None = self.rollup.shared_state()
        if state is None:
            return
        # Scores go out about once a second, each session's newest: in a backlog a session's
        # batches arrive within moments, and only its last score is worth a message.
        if time.monotonic() - self.last_scored >= SCORES_EVERY_S:
            self.last_scored = time.monotonic()
            for record in state.drain_scores():
                await self.out.send(key=record["visitor_id"].encode(), value=orjson.dumps(record))
        # Ranking the catalogue costs; refresh what the API serves about once a second, less
        # often when a backlog touches so many visitors that it would take more than its share.
        due = time.monotonic() - self.last_served >= self.budget.gap(self.serve_cost, SERVE_EVERY_S)
        if not due or not state.touched:
            return
        began = time.perf_counter()
        recs, segments, popular = state.serve(now_ms())
        # The site's API falls back to popular items when Redis misses a visitor.
        with contextlib.suppress(RedisError, OSError):
            await store_for_visitors(self.redis, self.keys, recs, segments, popular)
        self.serve_cost = time.perf_counter() - began
        self.last_served = time.monotonic()

    async def emit(self, merged: Any, at: int) -> None:
        """Judge the minutes that closed, send alerts, and publish one channel per learner."""
        state: LearningState = merged
        alerts = state.watch(at, await self._dead_shares(state, at))
        if alerts:
            self.rollup.mark_dirty(0)  # the detector learned: checkpoint it
            for alert in alerts:
                await self.alerts.send(key=alert["metric"].encode(), value=orjson.dumps(alert))
        elif state.minutes.last_closed:
            self.rollup.mark_dirty(0)
        for channel, data in state.snapshot(at).items():
            await self.publisher.publish(channel, data, at)

    async def _dead_shares(self, state: LearningState, at: int) -> dict[int, float]:
        """Dead-lettered shares of the minutes about to close, from the ingest counters."""
        first = (
            state.minutes.last_closed + MINUTE_MS
            if state.minutes.last_closed
            else at - 10 * MINUTE_MS
        )
        starts = list(range(first - first % MINUTE_MS, at, MINUTE_MS))[-60:]
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for start in starts:
                    pipe.hgetall(self.keys.ingest_minute(start))
                rows = await pipe.execute()
        except (RedisError, OSError):
            return {}
        return {start: dead_share(row) for start, row in zip(starts, rows, strict=True)}
