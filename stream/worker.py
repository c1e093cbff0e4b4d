"""Run the Faust worker: make sure the topics exist, then hand over to Faust."""

from __future__ import annotations

import asyncio
import gc
import logging
import logging.config
import signal
import time

import faust
from redis.asyncio import Redis

from stream.app import create_app, streams_enabled, validator
from stream.logs import log_config
from stream.settings import Settings
from stream.sinks.prometheus import serve_metrics
from stream.topics import PartitionMismatch, TopicError, ensure_topics

log = logging.getLogger(__name__)

STARTUP_DEADLINE_S = 120.0  # how long a worker waits for Kafka before giving up


class KafkaUnreachable(TopicError):
    """Kafka did not answer within the start-up deadline."""


async def wait_for_topics(settings: Settings, deadline_s: float = STARTUP_DEADLINE_S) -> None:
    """Create missing topics, retrying while Kafka is not reachable yet.

    Raises ``PartitionMismatch`` at once (waiting would not help) and ``KafkaUnreachable``
    once ``deadline_s`` has passed; either carries the one line a person needs.
    """
    # aiokafka logs each failed connect as an ERROR; here they all mean "not up yet", which
    # this loop says once (the errors stay visible at --loglevel debug).
    client_log = logging.getLogger("aiokafka")
    level = client_log.level
    if not log.isEnabledFor(logging.DEBUG):
        client_log.setLevel(logging.CRITICAL)
    try:
        await _create_topics(settings, deadline_s)
    finally:
        client_log.setLevel(level)


async def _create_topics(settings: Settings, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    delay, said = 0.5, False
    while True:
        try:
            await ensure_topics(settings, strict=True)
            return
        except PartitionMismatch:
            raise
        except TopicError as exc:
            if time.monotonic() + delay > end:
                raise KafkaUnreachable(
                    f"Kafka at {settings.kafka} did not answer for {deadline_s:.0f} s: "
                    "start it (dojo-pulse infra up) or set DOJO_KAFKA"
                ) from exc
            if not said:  # one line for a person; each attempt's error only for debugging
                log.warning("waiting for Kafka at %s (up to %.0f s)", settings.kafka, deadline_s)
                said = True
            log.debug("Kafka not ready: %s", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


# A worker allocates several containers per event (decoded bundles, batches, outputs) while
# holding a large live heap (states, the decode cache). At CPython's default thresholds
# (700, 10, 10) that meant a young collection every few hundred events and frequent full
# ones, each walking the whole heap: time lost and event-loop stalls. Garbage here is
# rarely cyclic, so collecting far less often costs little memory.
GC_THRESHOLDS = (50_000, 20, 50)


def run_worker(
    settings: Settings, *, loglevel: str = "warn", kafka_wait_s: float = STARTUP_DEADLINE_S
) -> None:
    """Serve /metrics, create missing topics and run every agent until a signal stops the worker.

    Raises ``TopicError`` if Kafka stays away for ``kafka_wait_s`` or the topics' partition
    counts are not ``DOJO_PARTITIONS``, ``MetricsPortError`` if /metrics cannot listen.
    """
    gc.set_threshold(*GC_THRESHOLDS)
    logging.config.dictConfig(log_config(loglevel))
    # Served from the start, so a scrape sees a live worker even while it waits for Kafka.
    server = serve_metrics(settings.worker_web_host, settings.worker_web_port)
    try:
        _run(settings, loglevel, kafka_wait_s)
    finally:
        server.shutdown()
        server.server_close()


def _run(settings: Settings, loglevel: str, kafka_wait_s: float) -> None:
    # A subscription to a missing topic is never revisited by Faust's assignor, so the
    # topics must exist before the consumer joins the group.
    asyncio.run(wait_for_topics(settings, kafka_wait_s))
    if not streams_enabled(settings):
        asyncio.run(validate_alone(settings))
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust makes only the last level
    app = create_app(settings)
    worker = faust.Worker(
        app,
        loglevel=loglevel,
        logging_config=log_config(loglevel),  # Faust sets logging up again: keep ours
        quiet=True,
        redirect_stdouts=False,
    )
    # Faust's terminal spinner turns on DEBUG for the root logger (to spin on every record),
    # so each Kafka send and fetch built a log record nobody reads: ~5 % of a busy worker.
    worker.spinner = None
    worker.execute_from_commandline()


async def validate_alone(settings: Settings) -> None:
    """Run only the validate stage (``DOJO_AGENTS=validate``) until SIGTERM or SIGINT."""
    redis = Redis.from_url(settings.redis_url)
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await validator(settings, redis).run()
    except asyncio.CancelledError:
        log.info("validate stage stopped")
    finally:
        await redis.aclose()
