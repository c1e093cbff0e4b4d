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
from stream.topics import TopicError, ensure_topics

log = logging.getLogger(__name__)

STARTUP_DEADLINE_S = 120.0  # how long a worker waits for Kafka before giving up


async def wait_for_topics(settings: Settings, deadline_s: float = STARTUP_DEADLINE_S) -> None:
    """Create missing topics, retrying while Kafka is not reachable yet."""
    end = time.monotonic() + deadline_s
    delay = 0.5
    while True:
        try:
            await ensure_topics(settings)
            return
        except TopicError as exc:
            if time.monotonic() + delay > end:
                raise
            log.warning("waiting for Kafka at %s: %s", settings.kafka, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


# A worker allocates several containers per event (decoded bundles, batches, outputs) while
# holding a large live heap (states, the decode cache). At CPython's default thresholds
# (700, 10, 10) that meant a young collection every few hundred events and frequent full
# ones, each walking the whole heap: time lost and event-loop stalls. Garbage here is
# rarely cyclic, so collecting far less often costs little memory.
GC_THRESHOLDS = (50_000, 20, 50)


def run_worker(settings: Settings, *, loglevel: str = "warn") -> None:
    """Create missing topics and run every agent until a signal stops the worker."""
    gc.set_threshold(*GC_THRESHOLDS)
    logging.config.dictConfig(log_config(loglevel))
    # A subscription to a missing topic is never revisited by Faust's assignor, so the
    # topics must exist before the consumer joins the group.
    asyncio.run(wait_for_topics(settings))
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
