"""Bundles: how session batches travel on dojo.events."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from stream.ingest.bundles import MAX_BUNDLE_BYTES, Decoded, batches_of, pack, partition_of, unpack
from stream.models import EventBundle


def batch(session: str, n: int = 1, url: str = "/") -> dict[str, Any]:
    events = [
        {"event_id": f"evt_{session}_{i:04d}", "type": "page_view", "ts": 1, "session_id": session,
         "url": url, "props": {}, "referrer": ""}
        for i in range(n)
    ]  # fmt: skip
    return {"session_id": session, "visitor_id": "v", "device": "desktop", "received_at": 1,
            "events": events, "source_partition": 0, "source_offset": 7, "source_index": 0}  # fmt: skip


@given(st.lists(st.text(min_size=8, max_size=64), max_size=40), st.integers(1, 16))
def test_every_batch_lands_once_in_its_sessions_partition(sessions: list[str], parts: int) -> None:
    batches = [batch(s) for s in sessions]
    packed = pack(batches, parts)
    seen = []
    for partition, blob in packed:
        got = unpack(blob)
        assert got is not None
        assert all(partition_of(b["session_id"], parts) == partition for b in got)
        seen += got
    assert sorted(orjson.dumps(b) for b in seen) == sorted(orjson.dumps(b) for b in batches)


def test_a_session_keeps_its_partition_and_its_order() -> None:
    batches = [batch("session_a", url=f"/{i}") for i in range(5)] + [batch("session_b")]
    packed = dict(pack(batches, 4))
    here = unpack(packed[partition_of("session_a", 4)])
    assert here is not None
    assert [b["events"][0]["url"] for b in here if b["session_id"] == "session_a"] == [
        "/0", "/1", "/2", "/3", "/4",
    ]  # fmt: skip
    assert partition_of("session_a", 4) == partition_of("session_a", 4) < 4


def test_big_takes_split_under_the_size_cap_in_order() -> None:
    batches = [batch(f"session_{i:04d}", n=40, url="/" + "x" * 400) for i in range(200)]
    packed = pack(batches, 1)
    assert len(packed) > 1
    assert all(len(blob) <= MAX_BUNDLE_BYTES for _, blob in packed)
    assert batches_of(orjson.loads(blob) for _, blob in packed) == batches


def test_unpack_refuses_what_is_not_a_bundle() -> None:
    assert unpack(b"not json") is None
    assert unpack(b"[1, 2]") is None
    assert unpack(orjson.dumps({"batches": [{"session_id": "x"}]})) is None
    assert unpack(orjson.dumps(batch("session_a"))) is None  # a bare batch is not a bundle
    assert unpack(orjson.dumps({"batches": []})) == []


def test_the_record_reads_a_packed_bundle() -> None:
    [(_, blob)] = pack([batch("session_a", n=2)], 1)
    record = EventBundle.loads(blob)
    assert [e.event_id for e in record.batches[0].events] == [
        "evt_session_a_0000",
        "evt_session_a_0001",
    ]


def test_decoded_bundles_are_shared_and_bounded() -> None:
    decoded = Decoded(size=2)
    [(_, blob)] = pack([batch("session_a")], 1)
    first = decoded.batches(0, 10, blob)
    assert first is not None
    assert decoded.batches(0, 10, blob) is first  # a second agent gets the same objects
    assert decoded.batches(0, 11, b"junk") is None  # unreadable stays unreadable
    decoded.batches(1, 10, blob)
    assert decoded.batches(0, 10, blob) == first  # evicted, decoded again, same content
    assert decoded.decoded == 4
