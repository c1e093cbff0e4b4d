"""Every agent runs alone: ``DOJO_AGENTS=<one agent>`` makes a worker that does its work.

A worker whose only agents read Kafka through consumers of their own (the learner, the
historian) once crashed at start: Faust's consumer had no topic to subscribe to. Each
agent here runs alone in its worker (beside a validate-only worker that fills the clean
topic) on a little real traffic, and must show its work and stay up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace

import pytest
import redis

from dojo_pulse.simulation import generate
from stream.models.keys import Keys
from stream.settings import AGENTS, Settings
from tests.integration.conftest import Proc, wait_for
from tests.integration.test_ground_truth import produce

pytestmark = pytest.mark.integration

# What each agent leaves in Redis once it works (the live feed's contract).
SNAPSHOT = {"validate_events": "pipeline", "show_activity": "activity"}


def worked(settings: Settings, agent: str, since: float) -> bool:
    """Whether ``agent`` left its sign: a snapshot, folded messages, or a check-in."""
    keys, client = Keys.of(settings), redis.Redis.from_url(settings.redis_url)
    if agent in SNAPSHOT:
        return client.exists(keys.snapshot(SNAPSHOT[agent])) == 1
    if agent == "keep_history":  # its topic gets records only when minutes close
        seen = client.hget(keys.seen_at, agent)
        return seen is not None and float(seen) > since
    return int(client.hget(keys.folded, agent) or 0) > 0


@pytest.mark.parametrize("agent", list(AGENTS))
def test_a_worker_runs_any_one_agent_alone(
    agent: str, stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    settings = stack_settings
    began = time.time()
    alone = start(["worker"], replace(settings, agents=(agent,)))
    helpers = (
        []
        if agent == "validate_events"
        else [start(["worker"], replace(settings, agents=("validate",)))]
    )
    now = int(began * 1000)
    requests, _ = generate(7, rate=20, duration_s=30, start_ms=now - 60_000)
    asyncio.run(produce(settings, list(requests)))
    wait_for(
        lambda: worked(settings, agent, began) or not alone.alive(), 90, f"{agent} alone to work"
    )
    assert alone.alive(), alone.output()
    assert all(helper.alive() for helper in helpers)
    assert "Crashed" not in alone.output() and "Traceback" not in alone.output()
