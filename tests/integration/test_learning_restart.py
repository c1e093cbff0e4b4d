"""Online models survive a worker crash: after a restart they go on from their checkpoint."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import redis

from dojo_pulse.simulation import generate
from stream.models.keys import Keys
from stream.settings import Settings
from tests.integration.conftest import Proc, group_lag, wait_for
from tests.integration.test_ground_truth import produce

pytestmark = pytest.mark.integration


def channel(settings: Settings, name: str) -> dict[str, Any]:
    raw = redis.Redis.from_url(settings.redis_url).get(Keys.of(settings).snapshot(name))
    return {} if raw is None else orjson.loads(raw)


def test_models_resume_from_their_checkpoint(
    stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    settings = stack_settings
    now = int(time.time() * 1000)
    requests, _ = generate(5, rate=60, duration_s=120, start_ms=now - 125_000)
    requests = list(requests)
    first = start(["worker"], settings)
    asyncio.run(produce(settings, requests[: len(requests) // 2]))
    # Raw first: only once the validate agent is through is the clean topic complete.
    for topic in (settings.topic_raw, settings.topic_events):
        wait_for(lambda t=topic: asyncio.run(group_lag(settings, t)) == 0 or not first.alive(), 120,
                 f"the first worker to checkpoint everything of {topic}")  # fmt: skip
    assert first.alive(), first.output()
    caught_up = int(time.time() * 1000)
    wait_for(
        lambda: channel(settings, "recommendations").get("ts", 0) > caught_up, 30, "a snapshot"
    )
    before = channel(settings, "recommendations")["data"]
    assert before["n"] > 50, "the recommender must have checked many predictions"
    first.stop(signal.SIGKILL)
    redis.Redis.from_url(settings.redis_url).delete(Keys.of(settings).snapshot("recommendations"))

    second = start(["worker"], settings)
    # Only a trickle after the restart: a model rebuilt from zero could not reach ``before``.
    asyncio.run(produce(settings, requests[len(requests) // 2 : len(requests) // 2 + 3]))
    wait_for(lambda: bool(channel(settings, "recommendations")) or not second.alive(), 120,
             "the restarted worker's first snapshot")  # fmt: skip
    assert second.alive(), second.output()
    after = channel(settings, "recommendations")["data"]
    assert after["n"] >= before["n"]
    assert after["items"] >= before["items"]
    engagement = channel(settings, "engagement")["data"]
    assert engagement["active_sessions"], "live sessions come back with the checkpoint"
