"""Rollups: per-partition state, checkpoints, and exactly-once folding across restarts."""

from __future__ import annotations

from typing import Any

from stream.metrics.traffic import TrafficState
from stream.runtime.rollup import Rollup, decode_checkpoint, encode_checkpoint

NOW = 1_795_000_000_000


def batch(n: int, session: str, source: tuple[int, int, int] | None = None) -> dict[str, Any]:
    event = {"event_id": f"evt_{n:08d}", "type": "page_view", "ts": NOW + n, "session_id": session,
             "url": f"/p{n % 3}", "props": {}, "referrer": ""}  # fmt: skip
    out: dict[str, Any] = {"session_id": session, "visitor_id": "v" + session, "device": "mobile",
                           "received_at": NOW + n, "events": [event]}  # fmt: skip
    if source is not None:
        out["source_partition"], out["source_offset"], out["source_index"] = source
    return out


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def views(rollup: Rollup[TrafficState]) -> int:
    merged = rollup.merged()
    assert merged is not None
    return int(merged.snapshot(NOW + 10_000)["today"]["views"])


def test_checkpoint_round_trip_keeps_offset_sources_and_state() -> None:
    state = TrafficState()
    state.apply(batch(1, "s1"), NOW)
    blob = encode_checkpoint({0: 41}, {"0/2": (17, 1)}, state)
    offsets, sources, back = decode_checkpoint(blob, TrafficState.from_bytes)
    assert (offsets, sources) == ({0: 41}, {"0/2": (17, 1)})
    assert back.snapshot(NOW) == state.snapshot(NOW)


def test_restart_from_checkpoint_skips_what_it_holds_and_counts_the_rest() -> None:
    clock = Clock()
    first: Rollup[TrafficState] = Rollup(TrafficState, TrafficState.from_bytes, clock=clock)
    first.restore(0, None)
    for offset in range(5):
        assert first.apply(0, offset, [batch(offset, f"s{offset}", (1, offset, 0))], NOW)
    clock.t = 5.0
    assert first.due()
    [(partition, blob)] = first.checkpoints(NOW)
    assert partition == 0
    for offset in range(5, 8):  # folded after the checkpoint, then the worker dies
        first.apply(0, offset, [batch(offset, f"s{offset}", (1, offset, 0))], NOW)

    second: Rollup[TrafficState] = Rollup(TrafficState, TrafficState.from_bytes, clock=clock)
    second.restore(0, blob)
    # Kafka redelivers from the last commit (here: from offset 3); 3 and 4 are in the checkpoint.
    applied = [
        second.apply(0, offset, [batch(offset, f"s{offset}", (1, offset, 0))], NOW)
        for offset in range(3, 10)
    ]
    assert applied == [False, False, True, True, True, True, True]
    assert views(second) == 10


def test_batches_resent_upstream_are_dropped_by_source_position() -> None:
    rollup: Rollup[TrafficState] = Rollup(TrafficState, TrafficState.from_bytes)
    rollup.restore(0, None)
    assert rollup.apply(0, 0, [batch(1, "a", (3, 100, 0))], NOW)
    assert rollup.apply(0, 1, [batch(2, "b", (3, 100, 1))], NOW)  # second session of one message
    assert rollup.apply(0, 2, [batch(3, "c", (3, 101, 0))], NOW)
    # The validate agent crashed and re-sent messages 100 and 101, then went on with 102.
    assert not rollup.apply(0, 3, [batch(1, "a", (3, 100, 0))], NOW)
    assert not rollup.apply(0, 4, [batch(2, "b", (3, 100, 1))], NOW)
    assert not rollup.apply(0, 5, [batch(3, "c", (3, 101, 0))], NOW)
    assert rollup.apply(0, 6, [batch(4, "d", (3, 102, 0))], NOW)
    assert rollup.apply(0, 7, [batch(5, "e", (0, 100, 0))], NOW)  # other raw partition: independent
    assert views(rollup) == 5
    assert rollup.skipped == 3


def test_merged_covers_every_partition_and_revoke_forgets() -> None:
    rollup: Rollup[TrafficState] = Rollup(TrafficState, TrafficState.from_bytes)
    for partition in range(3):
        rollup.restore(partition, None)
        rollup.apply(partition, 0, [batch(partition, f"s{partition}")], NOW)
    assert views(rollup) == 3
    rollup.revoke([1])
    assert not rollup.owns(1)
    assert views(rollup) == 2


def test_only_changed_partitions_are_checkpointed() -> None:
    rollup: Rollup[TrafficState] = Rollup(TrafficState, TrafficState.from_bytes)
    rollup.restore(0, None)
    rollup.restore(1, None)
    rollup.apply(1, 0, [batch(1, "s1")], NOW)
    assert [p for p, _ in rollup.checkpoints(NOW)] == [1]
    assert rollup.checkpoints(NOW) == []


def test_shared_mode_keeps_one_state_and_an_offset_per_partition() -> None:
    clock = Clock()
    rollup: Rollup[TrafficState] = Rollup(
        TrafficState, TrafficState.from_bytes, shared=True, clock=clock
    )
    for partition in (0, 1, 2):
        rollup.restore(partition, None)
        rollup.apply(partition, 0, [batch(partition, f"s{partition}")], NOW)
    assert list(rollup.slots) == [0]
    [(key, blob)] = rollup.checkpoints(NOW)
    assert key == 0
    again: Rollup[TrafficState] = Rollup(TrafficState, TrafficState.from_bytes, shared=True)
    again.restore(2, blob)
    assert not again.apply(
        1, 0, [batch(1, "s1")], NOW
    )  # partition 1's offset 0 is in the checkpoint
    assert again.apply(1, 1, [batch(9, "s9")], NOW)
    assert views(again) == 4
    rollup.revoke([1, 2])
    assert rollup.owns(0), "losing other partitions keeps the shared state"
    rollup.revoke([0, 1])
    assert not rollup.owns(1), "losing partition 0 (its checkpoint's home) forgets it"


def test_shared_mode_orders_sources_per_input_partition() -> None:
    # Raw message 11 can reach a shared state (through input partition 1) before message 10
    # (through input partition 0): neither is a re-send.
    rollup: Rollup[TrafficState] = Rollup(TrafficState, TrafficState.from_bytes, shared=True)
    rollup.restore(0, None)
    assert rollup.apply(1, 0, [batch(11, "b", (5, 11, 0))], NOW)
    assert rollup.apply(0, 0, [batch(10, "a", (5, 10, 0))], NOW)
    assert not rollup.apply(0, 1, [batch(10, "a", (5, 10, 0))], NOW)
    assert views(rollup) == 2


def test_a_gap_after_restore_asks_for_a_rewind_and_waits_for_it() -> None:
    first: Rollup[TrafficState] = Rollup(TrafficState, TrafficState.from_bytes)
    first.restore(0, None)
    for offset in range(3):
        first.apply(0, offset, [batch(offset, f"s{offset}")], NOW)
    [(_, blob)] = first.checkpoints(NOW)
    # Another agent let the commit run ahead to offset 6; the restored state holds 0..2.
    second: Rollup[TrafficState] = Rollup(TrafficState, TrafficState.from_bytes)
    second.restore(0, blob)
    assert not second.apply(0, 6, [batch(6, "s6")], NOW)
    assert second.rewinds == [(0, 3)]
    assert not second.apply(0, 7, [batch(7, "s7")], NOW)  # read ahead: skipped until 3 comes
    for offset in range(3, 8):  # the consumer was sought back to 3
        assert second.apply(0, offset, [batch(offset, f"s{offset}")], NOW)
    assert views(second) == 8
    assert second.rewinding == {}


def test_a_bundle_resent_with_other_boundaries_folds_only_its_new_batches() -> None:
    rollup: Rollup[TrafficState] = Rollup(TrafficState, TrafficState.from_bytes)
    rollup.restore(0, None)
    sent = [batch(n, f"s{n}", (2, 100 + n, 0)) for n in range(4)]
    assert rollup.apply(0, 0, sent[:2], NOW) == 2
    # After a crash the validate agent re-reads raw offsets 100..103 and bundles them as one.
    assert rollup.apply(0, 1, sent, NOW) == 2
    assert rollup.skipped == 2
    assert views(rollup) == 4


def visit(session: str, ts: int, url: str) -> dict[str, Any]:
    event = {"event_id": f"evt_{session}_{ts}", "type": "page_view", "ts": ts,
             "session_id": session, "url": url, "props": {}, "referrer": ""}  # fmt: skip
    return {"session_id": session, "visitor_id": "v" + session, "device": "mobile",
            "received_at": ts, "events": [event]}  # fmt: skip


def test_a_backfilled_session_is_not_closed_between_its_batches_by_the_wall_clock() -> None:
    """Last week's session, folded today with a checkpoint between its two page views, is one
    session that did not bounce (on the wall clock it closed, then counted again as a bounce)."""
    wall = NOW + 7 * 86_400_000
    past = NOW - NOW % 86_400_000 + 10 * 3_600_000  # 10:00 a week before ``wall``
    rollup: Rollup[TrafficState] = Rollup(TrafficState, TrafficState.from_bytes)
    rollup.restore(0, None)
    rollup.apply(0, 0, [visit("s1", past, "/")], wall)
    [(_, blob)] = rollup.checkpoints(wall + 1_000)  # expires on the stream clock
    restarted: Rollup[TrafficState] = Rollup(TrafficState, TrafficState.from_bytes)
    restarted.restore(0, blob)  # and a restart between the two keeps that clock
    restarted.apply(0, 1, [visit("s1", past + 120_000, "/about")], wall + 2_000)
    restarted.checkpoints(wall + 3_000)
    state = restarted.shared_state() or restarted.slots[0].state
    day = state.days[past - past % 86_400_000]
    assert (day.started, day.bounces, day.counts.views) == (1, 0, 2)


def test_the_stream_clock_follows_the_wall_clock_when_the_site_is_quiet() -> None:
    """Live, a session still closes after the timeout though no later batch arrives."""
    rollup: Rollup[TrafficState] = Rollup(TrafficState, TrafficState.from_bytes)
    rollup.restore(0, None)
    rollup.apply(0, 0, [visit("s1", NOW, "/")], NOW + 50)
    slot = rollup.slots[0]
    assert slot.stream_now(NOW + 50) == NOW
    assert slot.stream_now(NOW + 3_600_000) == NOW + 3_600_000 - 50
    assert "s1" in slot.state.sessions
    rollup.mark_dirty(0)
    rollup.checkpoints(NOW + 3_600_000)
    assert "s1" not in slot.state.sessions
    # Never ahead of the wall clock, even for a batch received "in the future".
    rollup.apply(0, 1, [visit("s2", NOW + 9_000_000, "/")], NOW + 3_600_000)
    assert slot.stream_now(NOW + 3_600_000) == NOW + 3_600_000
