"""learn_online: every partition of dojo.events -> engagement scores, recommendations, segments.

The river models do not merge, so ONE worker holds them at a time, reading every partition
(``stream.runtime.holder``: group ``<app id>.learn``, fail-over when the holder dies). About
once a second the holder sends each session's newest engagement score to
``dojo.scores.engagement``, leaves the touched visitors' recommendations and segments in
Redis for the site's API, and publishes four live channels. What it recommends is limited to
the published catalogue, followed from ``dojo.content`` (``learn_online_catalogue``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from functools import partial

import faust
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio import Redis
from redis.exceptions import RedisError

from stream.agents.learn_online_catalogue import follow_catalogue
from stream.learning.catalogue import Catalogue
from stream.learning.items import item_paths
from stream.learning.serving import store_for_visitors
from stream.learning.state import LearningState
from stream.metrics.pipeline import MINUTE_MS, dead_share
from stream.models.keys import Keys
from stream.runtime.aggregate import now_ms
from stream.runtime.budget import Budget
from stream.runtime.checkpoint_log import CheckpointLog
from stream.runtime.holder import Held, Holder, hold
from stream.runtime.minutes_out import TOPIC as MINUTES_TOPIC
from stream.runtime.minutes_out import minute_record
from stream.runtime.progress import Progress
from stream.settings import Settings
from stream.sinks.publish import SnapshotPublisher

log = logging.getLogger(__name__)

AGENT = "learn_online"
SERVE_EVERY_S = 1.0
SCORES_EVERY_S = 1.0


class LearnerOutputs:
    """What the held learning state sends: scores, served recommendations, snapshots, alerts."""

    def __init__(
        self, settings: Settings, producer: AIOKafkaProducer, redis: Redis,
        publisher: SnapshotPublisher,
    ) -> None:  # fmt: skip
        self.producer = producer
        self.redis = redis
        self.publisher = publisher
        self.keys = publisher.keys
        self.scores_topic = settings.topic("scores.engagement")
        self.alerts_topic = settings.topic("alerts")
        self.history_topic = settings.topic(MINUTES_TOPIC)
        self.budget = Budget()
        self.last_served = self.last_scored = 0.0
        self.serve_cost = 0.0  # seconds the last refresh took

    async def after_fold(self, state: LearningState) -> None:
        """Send the newest scores; store what the site's API will serve (both paced)."""
        # Scores go out about once a second, each session's newest: in a backlog a session's
        # batches arrive within moments, and only its last score is worth a message.
        if time.monotonic() - self.last_scored >= SCORES_EVERY_S:
            self.last_scored = time.monotonic()
            for record in state.drain_scores():
                await self.producer.send(
                    self.scores_topic, orjson.dumps(record), key=record["visitor_id"].encode()
                )
        # Ranking the catalogue costs; refresh what the API serves about once a second, less
        # often when a backlog touches so many visitors that it would take more than its share.
        due = time.monotonic() - self.last_served >= self.budget.gap(self.serve_cost, SERVE_EVERY_S)
        if not due or not state.stale():
            return
        began = time.perf_counter()
        recs, segments, popular = state.serve(now_ms())
        # The site's API falls back to popular items when Redis misses a visitor.
        with contextlib.suppress(RedisError, OSError):
            await store_for_visitors(self.redis, self.keys, recs, segments, popular)
        self.serve_cost = time.perf_counter() - began
        self.last_served = time.monotonic()

    async def emit(self, state: LearningState, at: int) -> bool:
        """Judge the minutes that closed, send alerts, publish one channel per learner.

        True when the anomaly detector learned (the state needs a checkpoint)."""
        alerts = state.watch(at, await self._dead_shares(state, at))
        for alert in alerts:
            await self.producer.send(
                self.alerts_topic, orjson.dumps(alert), key=alert["metric"].encode()
            )
        for channel, data in state.snapshot(at).items():
            if channel == "alerts":  # the backup scheduler writes a part of it too
                await self.publisher.publish_part(channel, AGENT, data, at)
            else:
                await self.publisher.publish(channel, data, at)
        for start, tally in state.quality.drain():  # one learner: part 0
            key, value = minute_record("learning", start, 0, tally)
            await self.producer.send(self.history_topic, value, key=key)
        return bool(alerts) or bool(state.minutes.last_closed)

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


def learn_online(
    app: faust.App, settings: Settings, redis: Redis, held: Held | None = None
) -> None:
    """Run the learner's bid with ``app``'s worker; an unexpected error stops the worker.

    ``held`` is told whether this worker holds the learners (the validate stage reads it).
    """
    items = item_paths(settings.item_paths)
    keys = Keys.of(settings)
    publisher = SnapshotPublisher(redis, keys)
    catalogue = Catalogue()

    def make(consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> Holder:
        return Holder(
            consumer,
            settings.topic_events,
            CheckpointLog(
                settings.kafka, settings.topic_learn_checkpoints, AGENT.encode(), producer
            ),
            partial(LearningState, items, catalogue),
            partial(LearningState.from_bytes, site_items=items, catalogue=catalogue),
            LearnerOutputs(settings, producer, redis, publisher),
            Progress(redis, keys, AGENT),
            held=held,
        )

    async def learn() -> None:
        try:
            await hold(
                settings.kafka, settings.learn_group, settings.topic_events,
                settings.learn_session_timeout_s, make,
            )  # fmt: skip
        except Exception as exc:
            log.exception("learn_online: stopped by an unexpected error")
            await app.crash(exc)
            raise

    async def follow() -> None:
        try:
            await follow_catalogue(settings, catalogue)
        except Exception as exc:
            log.exception("follow_catalogue: stopped by an unexpected error")
            await app.crash(exc)
            raise

    app.task(learn)
    app.task(follow)
