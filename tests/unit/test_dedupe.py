"""Duplicate claims in a real Redis: first claim wins, a re-read of the same message keeps its
own, and claims Redis loses are restored from the accepted events before anything is judged."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import orjson
import pytest
from aiokafka import ConsumerRecord
from redis.asyncio import Redis

from stream.ingest.dedupe import Accepted, RedisClaims
from stream.ingest.reclaim import accepted_in
from stream.models.keys import Keys
from stream.settings import Settings

HOUR_S = 3600
KEYS = Keys.of(Settings())


class Listed:
    """Accepted events held in a list, handed out two at a time (as Kafka hands chunks)."""

    def __init__(self, accepted: Sequence[Accepted] = ()) -> None:
        self.accepted = list(accepted)
        self.passes = 0

    async def chunks(self) -> AsyncIterator[Sequence[Accepted]]:
        self.passes += 1
        for n in range(0, len(self.accepted), 2):
            yield self.accepted[n : n + 2]


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


async def test_claims_are_owned_by_their_first_position_only(redis: Redis) -> None:
    claims = RedisClaims(redis, KEYS, ttl_s=HOUR_S, accepted=Listed())
    first = await claims.claim([("evt_dedupe_0", "0:1"), ("evt_dedupe_1", "0:1")])
    again = await claims.claim(
        [("evt_dedupe_0", "0:1"), ("evt_dedupe_1", "1:9"), ("evt_dedupe_2", "1:9")]
    )
    assert first == [True, True]
    # Re-reading 0:1 after a crash still owns its ids; another message does not.
    assert again == [True, False, True]
    assert await redis.get(KEYS.dedupe("evt_dedupe_1")) == b"0:1"
    assert 0 < await redis.ttl(KEYS.dedupe("evt_dedupe_2")) <= HOUR_S
    assert await claims.claim([]) == []


async def test_a_fresh_store_is_sealed_once_then_claims_cost_one_call(redis: Redis) -> None:
    source = Listed()
    claims = RedisClaims(redis, KEYS, ttl_s=HOUR_S, accepted=source)
    for n in range(3):
        assert await claims.claim([(f"evt_fresh_{n}", f"0:{n}")]) == [True]
    assert source.passes == 1  # the ledger did not exist yet: one (empty) restore, then none
    assert int(await redis.hget(KEYS.dedupe_ledger, "n") or 0) == 3


async def test_a_flushed_store_restores_accepted_ids_before_judging(redis: Redis) -> None:
    accepted = [("evt_gone_00", "0:1", 600), ("evt_gone_01", "0:1", 600), ("evt_gone_02", "3:7", 5)]
    source = Listed(accepted)
    claims = RedisClaims(redis, KEYS, ttl_s=HOUR_S, accepted=source)
    assert await claims.claim([(event_id, owner) for event_id, owner, _ in accepted]) == [True] * 3
    await redis.flushall()
    # The re-sent ids come in a later raw message: duplicates, though Redis forgot them...
    resent = await claims.claim([("evt_gone_00", "1:40"), ("evt_gone_02", "1:40")])
    # ... while the message that accepted them, read again after a crash, still owns them.
    reread = await claims.claim([("evt_gone_01", "0:1"), ("evt_new_0001", "1:40")])
    assert resent == [False, False]
    assert reread == [True, True]
    assert source.passes == 2
    # A restored claim lives as long as it had left, not a whole window again.
    assert 0 < await redis.ttl(KEYS.dedupe("evt_gone_02")) <= 5


async def test_redis_going_back_in_time_is_a_loss_too(redis: Redis) -> None:
    source = Listed([("evt_back_00", "2:2", 600)])
    claims = RedisClaims(redis, KEYS, ttl_s=HOUR_S, accepted=source)
    assert await claims.claim([("evt_back_00", "2:2")]) == [True]
    assert await claims.claim([("evt_back_01", "2:3")]) == [True]
    # An append-only file that missed its last second: the ledger is back one claim call,
    # and the claims made since are gone.
    await redis.hincrby(KEYS.dedupe_ledger, "n", -1)
    await redis.delete(KEYS.dedupe("evt_back_00"))
    assert await claims.claim([("evt_back_00", "2:9")]) == [False]
    assert source.passes == 2


async def test_a_take_in_flight_across_a_loss_is_claimed_again_before_commit(
    redis: Redis,
) -> None:
    worker_a = RedisClaims(redis, KEYS, ttl_s=HOUR_S, accepted=Listed())
    assert await worker_a.claim([("evt_flight_0", "0:5"), ("evt_flight_1", "0:5")]) == [True] * 2
    # Redis is flushed while worker A sends its take; worker B rebuilds from a Kafka that
    # does not hold A's take yet, so its rebuild cannot know those ids.
    await redis.flushall()
    worker_b = RedisClaims(redis, KEYS, ttl_s=HOUR_S, accepted=Listed())
    assert await worker_b.claim([("evt_other_00", "1:1")]) == [True]
    await worker_a.confirm()  # Kafka holds A's take now
    assert await worker_b.claim([("evt_flight_1", "1:2")]) == [False]
    assert await redis.get(KEYS.dedupe("evt_flight_0")) == b"0:5"


async def test_confirm_is_one_cheap_check_when_nothing_was_lost(redis: Redis) -> None:
    claims = RedisClaims(redis, KEYS, ttl_s=HOUR_S, accepted=Listed())
    assert await claims.claim([("evt_calm_001", "0:1")]) == [True]
    await redis.delete(KEYS.dedupe("evt_calm_001"))  # not a loss the ledger knows of
    await claims.confirm()
    await claims.confirm()  # nothing pending: nothing to do
    assert await redis.exists(KEYS.dedupe("evt_calm_001")) == 0


def record(value: object, timestamp: int, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    blob = value if isinstance(value, bytes) else orjson.dumps(value)
    return ConsumerRecord(
        "dojo.events", 0, offset, timestamp, 0, None, blob, None, 0, len(blob), []
    )


def bundle(*batches: dict[str, object]) -> dict[str, object]:
    base = {"session_id": "session_0001", "visitor_id": "v", "device": "desktop"}
    return {"batches": [{**base, "received_at": 1, **batch} for batch in batches]}


def events(*ids: object) -> list[dict[str, object]]:
    keys = {"type": "page_view", "ts": 1, "session_id": "session_0001", "url": "/", "props": {}}
    return [{"event_id": event_id, **keys} for event_id in ids]


def test_accepted_events_name_their_raw_message_and_time_left() -> None:
    now_ms, window_ms = 10_000_000, 3_600_000
    value = bundle(
        {"events": events("evt_aaaa_01", "evt_aaaa_02"), "source_partition": 3,
         "source_offset": 41},
        {"events": events("evt_bbbb_01"), "source_partition": 0, "source_offset": 7},
    )  # fmt: skip
    got = accepted_in(record(value, now_ms - 60_000), now_ms, window_ms)
    assert got == [
        ("evt_aaaa_01", "3:41", 3540),
        ("evt_aaaa_02", "3:41", 3540),
        ("evt_bbbb_01", "0:7", 3540),
    ]
    assert accepted_in(record(value, now_ms - window_ms), now_ms, window_ms) == []


@pytest.mark.parametrize(
    "value",
    [
        b"\xff not json",
        b"null",
        orjson.dumps({"batches": "x"}),
        orjson.dumps([1, 2]),
        bundle({"events": events("evt_cccc_01"), "source_partition": "3", "source_offset": 1}),
        bundle({"events": events("evt_cccc_01"), "source_partition": 3}),
        bundle({"events": events("evt cccc 01", 7, None, ["evt_cccc_01"], "x" * 65),
                "source_partition": 3, "source_offset": 1}),
    ],
)  # fmt: skip
def test_hostile_clean_topic_messages_restore_nothing(value: object) -> None:
    now_ms = 10_000_000
    assert accepted_in(record(value, now_ms - 1000), now_ms, 3_600_000) == []
