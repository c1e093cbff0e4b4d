"""keep_history: dojo.history.minutes -> the store (minute rows, their hours and days).

The historian is a downstream consumer of the closed-minute records the metric agents,
the validate stage and the learner send. One worker at a time holds the topic (group
``<app id>.history``, fail-over like ``learn_online``); it writes each channel's minute
once its parts are in, commits only what the store holds, and prunes by retention about
once an hour (``stream.history.historian``). A store newer than this release stops the
worker with one line.
"""

from __future__ import annotations

import asyncio
import logging

import faust
from redis.asyncio import Redis

from stream.history.historian import AGENT, Historian, keep
from stream.models.keys import Keys
from stream.runtime.minutes_out import TOPIC as MINUTES_TOPIC
from stream.runtime.progress import Progress
from stream.settings import Settings
from stream.store import StoreError, open_store
from stream.store.history import Retention

log = logging.getLogger(__name__)


def keep_history(app: faust.App, settings: Settings, redis: Redis) -> None:
    """Run the historian's bid with ``app``'s worker; a store it cannot use stops the worker."""
    progress = Progress(redis, Keys.of(settings), AGENT)
    retention = Retention.from_settings(settings)
    topic = settings.topic(MINUTES_TOPIC)

    async def keep_minutes() -> None:
        try:
            engine = await asyncio.to_thread(open_store, settings)
        except StoreError as exc:
            log.error("keep_history: %s", exc)
            await app.crash(exc)
            raise
        try:
            await keep(
                settings.kafka, settings.history_group, topic,
                lambda consumer: Historian(consumer, topic, engine, retention, progress),
            )  # fmt: skip
        except Exception as exc:
            log.exception("keep_history: stopped by an unexpected error")
            await app.crash(exc)
            raise
        finally:
            engine.dispose()

    app.task(keep_minutes)
