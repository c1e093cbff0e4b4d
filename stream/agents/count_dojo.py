"""count_dojo: reads dojo.events, folds each partition into ``DojoState``, joins the catalogue.

Writes the live channel ``dojo`` and three topics: dojo.metrics.registrations,
dojo.metrics.attendance and dojo.metrics.resources (``stream.metrics.dojo_board``); closed
minutes go to history like every metric. The catalogue comes from ``dojo.content``, read
whole by every worker (no consumer group: each needs every item). When an upcoming event
passes 80 % of its places a notice goes to ``dojo.alerts`` at most once (claimed in Redis
before it is sent, so neither a second worker nor a restart repeats it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from stream.ingest.bundles import Decoded
from stream.metrics.dojo import DojoState
from stream.metrics.dojo_board import board, notices, past_events
from stream.metrics.dojo_catalogue import Catalogue
from stream.metrics.dojo_forecast import Forecaster
from stream.runtime.aggregate import Aggregator, Metric, register
from stream.runtime.crew import Crew
from stream.settings import Settings
from stream.sinks.publish import SnapshotPublisher
from stream.topics import DOJO_SECTIONS, content_topic, describe

log = logging.getLogger(__name__)

REFIT_EVERY_S = 60.0  # the forecasts learn from past events: new ones appear rarely
NOTICE_TTL_S = 180 * 86_400  # a notice claim outlives any event's registration period
RECENT_NOTICES = 20


def count_dojo(settings: Settings) -> Metric:
    """The dojo metric: folded by ``stream.runtime.aggregate``."""
    return Metric("count_dojo", "dojo", DojoState, DojoState.from_bytes)


class DojoAggregator(Aggregator):
    """The aggregator with the catalogue joined in, three topics out and capacity notices."""

    catalogue: Catalogue
    sections: dict[str, faust.TopicT]
    alerts: faust.TopicT
    model: Forecaster
    fitted: tuple[int, float]  # catalogue version and time of the last fit
    recent: list[dict[str, Any]]

    async def emit(self, merged: Any, at: int) -> None:
        """Publish the joined board live, send new notices, and now and then the topics."""
        version, when = self.fitted
        if version != self.catalogue.version or time.monotonic() - when >= REFIT_EVERY_S:
            self.model = Forecaster.fit(past_events(merged, self.catalogue, at))
            self.fitted = (self.catalogue.version, time.monotonic())
        data = board(merged, self.catalogue, self.model, at)
        for event_id, notice in notices(data["registrations"]["events"], at):
            # Claimed first, so two workers never both send it; the send is awaited to its
            # acknowledgement, so only a crash within those milliseconds loses a notice.
            if await self._claim(event_id):
                sent = await self.alerts.send(key=b"capacity", value=orjson.dumps(notice))
                await sent
                self.recent = [notice, *self.recent][:RECENT_NOTICES]
        await self.publisher.publish(self.metric.channel, {**data, "notices": self.recent}, at)
        if time.monotonic() - self.last_topic >= 5.0:
            self.last_topic = time.monotonic()
            for name, topic in self.sections.items():
                await topic.send(key=b"snapshot", value=orjson.dumps({"ts": at, **data[name]}))

    async def _claim(self, event_id: str) -> bool:
        key = self.keys.dojo_notice(event_id)
        try:
            return bool(await self.redis.set(key, b"1", nx=True, ex=NOTICE_TTL_S))
        except (RedisError, OSError):
            return False  # not sent now; the next snapshot tries again


async def _partitions(settings: Settings, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka, request_timeout_ms=10_000)
    try:
        await admin.start()
        return (await describe(admin)).get(topic, 0)
    finally:
        await admin.close()


async def follow_catalogue(settings: Settings, catalogue: Catalogue) -> None:
    """Keep ``catalogue`` up to date from every partition of ``dojo.content``, for ever."""
    topic = content_topic(settings)
    while True:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False)
        try:
            count = await _partitions(settings, topic)
            if not count:  # published content makes the topic; look again shortly
                await asyncio.sleep(5.0)
                continue
            await consumer.start()
            assigned = [TopicPartition(topic, p) for p in range(count)]
            consumer.assign(assigned)
            await consumer.seek_to_beginning(*assigned)
            async for message in consumer:
                catalogue.apply(message.key, message.value)
        except KafkaError as exc:
            log.warning("count_dojo: catalogue not readable (%s); retrying", type(exc).__name__)
            await asyncio.sleep(5.0)
        finally:
            with contextlib.suppress(KafkaError):
                await consumer.stop()


def attach(
    app: faust.App, settings: Settings, source: faust.TopicT, publisher: SnapshotPublisher,
    redis: Redis, *, crew: Crew, decoded: Decoded, history: faust.TopicT,
) -> DojoAggregator:  # fmt: skip
    """Register count_dojo: its fold, checkpoints, snapshots and the catalogue follower."""

    def raw(name: str) -> faust.TopicT:
        return app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw")

    sections = {name: raw(f"metrics.{name}") for name in DOJO_SECTIONS}
    agg = DojoAggregator(
        app, count_dojo(settings), sections["registrations"], publisher, redis,
        settings.partitions, decoded, crew.budget, history,
    )  # fmt: skip
    agg.catalogue, agg.model, agg.fitted, agg.recent = Catalogue(), Forecaster(), (-1, 0.0), []
    agg.sections = sections
    agg.alerts = raw("alerts")
    register(app, agg, source, crew, max_hz=settings.live_max_hz)

    async def catalogue() -> None:
        await follow_catalogue(settings, agg.catalogue)

    app.task(catalogue)
    return agg
