"""The validate stage's take: raw records in, bundles and dead letters out, counters kept.

The loop around it (consume, send, wait for Kafka, commit) runs against the real broker in
``tests/integration``; here a take is judged with a claims store held in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis

from stream.agents.validate_events import judge
from stream.ingest.bundles import partition_of, unpack
from stream.ingest.contract import Limits
from stream.metrics.pipeline import PipelineStats
from stream.models.keys import Keys
from stream.settings import Settings
from stream.sinks.publish import SnapshotPublisher
from tests.unit.test_contract import event
from tests.unit.test_ingest import raw


class MemoryClaims:
    """Claims kept in a dict: the same contract as the Redis store, for one process."""

    def __init__(self) -> None:
        self.owner: dict[str, str] = {}

    async def claim(self, claims: Sequence[tuple[str, str]]) -> list[bool]:
        return [self.owner.setdefault(i, position) == position for i, position in claims]


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes | None


async def test_a_take_routes_every_event_once_and_counts_them(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    keys = Keys.of(settings)
    await redis.delete(keys.pipeline)
    stats = PipelineStats(redis, keys, SnapshotPublisher(redis, keys))
    first = event(event_id="evt_first001")
    other = event(event_id="evt_other001", session_id="session_other01")
    records = [
        Record("raw", 0, 0, raw([first, event(event_id="bad"), {"nope": 1}, other])),
        Record("raw", 1, 7, raw([first])),  # the same event again, in a later request
        Record("raw", 0, 1, b"\xff not json"),
    ]
    claims = MemoryClaims()
    judged = await judge(records, claims, Limits(), partitions=4, stats=stats)
    await stats.flush()

    batches = []
    for partition, blob in judged.bundles:
        got = unpack(blob)
        assert got is not None
        assert all(partition_of(b["session_id"], 4) == partition for b in got)
        batches += got
    assert sorted(e["event_id"] for b in batches for e in b["events"]) == [
        "evt_first001",
        "evt_other001",
    ]
    assert {(b["source_partition"], b["source_offset"]) for b in batches} == {(0, 0)}
    letters = [orjson.loads(value) for _, value in judged.letters]
    assert sorted(letter["reason"] for letter in letters) == [
        "duplicate", "malformed", "schema", "schema",
    ]  # fmt: skip
    assert {(d["source_partition"], d["source_offset"]) for d in letters} == {
        (0, 0),
        (1, 7),
        (0, 1),
    }
    totals = {k.decode(): int(v) for k, v in (await redis.hgetall(keys.pipeline)).items()}
    assert (totals["valid"], totals["dead_lettered"]) == (2, 4)

    # Read again after a crash, the same take owns its claims and yields the same outputs.
    again = await judge(records, claims, Limits(), partitions=4)
    assert again.bundles == judged.bundles
    assert again.letters == judged.letters
    await redis.aclose()
