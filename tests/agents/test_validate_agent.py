"""The validate agent through Faust's test context: in-memory channels stand in for topics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import faust
import orjson
from redis.asyncio import Redis

from stream.agents.validate import validate_events
from stream.contract import Limits
from stream.pipeline_stats import STATS_KEY, PipelineStats
from stream.publish import SnapshotPublisher
from stream.settings import Settings
from tests.unit.test_contract import event
from tests.unit.test_ingest import raw


class MemoryClaims:
    """Claims kept in a dict: the same contract as the Redis store, for one process."""

    def __init__(self) -> None:
        self.owner: dict[str, str] = {}

    async def claim(self, claims: Sequence[tuple[str, str]]) -> list[bool]:
        out = []
        for event_id, position in claims:
            out.append(self.owner.setdefault(event_id, position) == position)
        return out


async def drain(receiver: AsyncIterator[Any], count: int) -> list[Any]:
    """Read ``count`` values from a channel's iterator, failing loudly if they never come."""
    values = []
    for _ in range(count):
        got = await asyncio.wait_for(receiver.__anext__(), 10)
        values.append(orjson.loads(got.value))
    return values


async def test_agent_routes_every_event_and_counts_them(settings: Settings) -> None:
    app = faust.App(
        "validate-test", broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False
    )
    source = app.topic("raw", value_serializer="raw")
    clean, dead = app.channel(), app.channel()
    redis = Redis.from_url(settings.redis_url)
    await redis.delete(STATS_KEY)
    agent = validate_events(
        app,
        source,
        clean,
        dead,
        MemoryClaims(),
        PipelineStats(redis, SnapshotPublisher(redis)),
        Limits(),
    )
    # A channel delivers to the iterators that exist when a value is sent: open them first.
    clean_out, dead_out = aiter(clean), aiter(dead)
    first = event(event_id="evt_first001")
    async with agent.test_context() as tested:
        await tested.put(raw([first, event(event_id="bad"), {"nope": 1}]), key=b"s")
        await tested.put(raw([first]), key=b"s")  # the same event again, in a later request
        bundles = await drain(clean_out, 1)
        letters = await drain(dead_out, 3)
    batches = bundles[0]["batches"]
    assert len(batches) == 1
    assert [e["event_id"] for e in batches[0]["events"]] == ["evt_first001"]
    assert batches[0]["source_offset"] == 0
    assert sorted(letter["reason"] for letter in letters) == ["duplicate", "schema", "schema"]
    assert {letter["source_offset"] for letter in letters} == {0, 1}
    totals = {k.decode(): int(v) for k, v in (await redis.hgetall(STATS_KEY)).items()}
    assert totals["valid"] == 1
    assert totals["dead_lettered"] == 3
    await redis.aclose()
