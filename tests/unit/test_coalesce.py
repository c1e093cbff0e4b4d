"""The per-client outbox: bounded memory, rate cap per channel, latest value wins."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from live_feed.coalesce import Outbox
from live_feed.outgoing import Outgoing


def update(channel: str, ts: int, data: Any = None) -> Outgoing:
    return Outgoing.of({"channel": channel, "type": "update", "data": data, "ts": ts})


def control(detail: str) -> Outgoing:
    return Outgoing.of({"type": "error", "detail": detail})


def test_first_message_goes_at_once_then_the_rate_cap_applies() -> None:
    box = Outbox(max_hz=4)
    box.offer(update("traffic", 1))
    assert box.due_in(0.0) == 0.0
    assert [m.ts for m in box.take(0.0)] == [1]
    box.offer(update("traffic", 2))
    assert box.due_in(0.1) == pytest.approx(0.15)
    assert box.take(0.1) == []
    assert [m.ts for m in box.take(0.25)] == [2]


def test_admit_lets_a_message_skip_the_queue_only_within_the_rate_cap() -> None:
    box = Outbox(max_hz=4)
    assert box.admit("traffic", 0.0)
    assert not box.admit("traffic", 0.2)  # 4 Hz: not before 0.25
    assert box.admit("traffic", 0.25)
    box.offer(update("forms", 1))
    assert not box.admit("forms", 10.0)  # one is queued: it goes first
    box.hold("vitals")
    assert not box.admit("vitals", 10.0)
    box.release("vitals")
    box.push_control(control("x"))
    assert not box.admit("vitals", 10.0)
    assert len(box.take(10.0)) == 2
    assert box.admit("vitals", 10.0)


def test_a_held_channel_waits_until_released() -> None:
    box = Outbox(max_hz=4)
    box.hold("traffic")
    box.offer(update("traffic", 1))
    assert box.due_in(0.0) is None
    assert box.take(0.0) == []
    box.release("traffic")
    assert [m.ts for m in box.take(0.0)] == [1]


def test_a_stalled_client_holds_one_message_per_channel_and_counts_drops() -> None:
    box = Outbox(max_hz=4)
    for i in range(10_000):
        box.offer(update("traffic", i, {"seq": i}))
        box.offer(update("forms", i))
    assert len(box) == 2
    assert box.superseded == 2 * 9_999
    sent = box.take(now=100.0)
    assert {m.channel: m.message["data"] for m in sent} == {
        "traffic": {"seq": 9_999},
        "forms": None,
    }


def test_an_older_update_never_replaces_a_newer_one() -> None:
    box = Outbox(max_hz=1)
    box.offer(update("traffic", 20, "new"))
    box.offer(update("traffic", 10, "old"))
    assert box.take(0)[0].message["data"] == "new"


def test_a_pending_snapshot_stays_a_snapshot_with_the_newest_data() -> None:
    box = Outbox(max_hz=1)
    box.offer(update("traffic", 1))
    box.take(0)
    snapshot = Outgoing.of({"channel": "traffic", "type": "snapshot", "data": "s", "ts": 5})
    box.offer(snapshot, urgent=True)
    box.offer(update("traffic", 6, "u"))
    # The snapshot is urgent: the rate cap does not hold it back.
    [sent] = box.take(0.1)
    assert sent.message == {"channel": "traffic", "type": "snapshot", "data": "u", "ts": 6}
    assert sent.json == b'{"channel":"traffic","type":"snapshot","data":"u","ts":6}'


def test_forget_drops_the_pending_message() -> None:
    box = Outbox(max_hz=4)
    box.offer(update("traffic", 1))
    box.forget("traffic")
    assert box.due_in(0) is None
    assert box.take(0) == []


def test_control_messages_are_bounded_and_counted() -> None:
    box = Outbox(max_hz=4, control_limit=3)
    for i in range(5):
        box.push_control(control(str(i)))
    assert box.control_dropped == 2
    assert [m.message["detail"] for m in box.take(0)] == ["2", "3", "4"]


def test_max_hz_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Outbox(max_hz=0)


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.floats(0, 0.05)), min_size=1, max_size=200
    )
)
def test_sends_per_channel_never_exceed_the_cap(offers: list[tuple[str, float]]) -> None:
    box = Outbox(max_hz=10)
    now, sent_at = 0.0, {"a": [], "b": [], "c": []}  # type: dict[str, list[float]]
    for ts, (channel, step) in enumerate(offers):
        now += step
        box.offer(update(channel, ts))
        assert len(box) <= 3
        for message in box.take(now):
            sent_at[message.channel].append(now)
    for times in sent_at.values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= 0.1 - 1e-9 for gap in gaps)
