"""follow_catalogue: dojo.content (compacted) -> the catalogue the learner recommends from.

Every worker that bids for the learner follows the whole topic from its beginning, without
a consumer group: the compacted topic is the catalogue, so a restarted worker reads it anew
instead of checkpointing it. Records are folded in as they come (a publish, an edit of the
live item, a tombstone on unpublish); one that cannot be read withdraws its item and is
counted in the log, never fatal; a broker away at start is waited for.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from stream.learning.catalogue import Catalogue
from stream.settings import Settings
from stream.topics import content_topic

log = logging.getLogger(__name__)

# A topic created after the worker started is found at the next metadata refresh.
METADATA_MAX_AGE_MS = 10_000
RETRY_S = 5.0


async def follow_catalogue(settings: Settings, catalogue: Catalogue) -> None:
    """Fold every ``dojo.content`` record into ``catalogue``, from the first, until cancelled."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
    )
    await _start(consumer)
    try:
        consumer.subscribe([content_topic(settings)])
        unreadable = 0
        async for record in consumer:
            if not catalogue.follow(record.key, record.value):
                unreadable += 1
                log.warning("follow_catalogue: %d unreadable content record(s) ignored", unreadable)
    finally:
        await consumer.stop()


async def _start(consumer: AIOKafkaConsumer) -> None:
    """Start ``consumer``, waiting out a broker that is away: the learner runs on meanwhile."""
    while True:
        try:
            await consumer.start()
            return
        except KafkaError as exc:
            # Until then the catalogue is empty: recommendations are as before content.
            log.warning("follow_catalogue: Kafka unavailable (%s); retrying", type(exc).__name__)
            await asyncio.sleep(RETRY_S)
