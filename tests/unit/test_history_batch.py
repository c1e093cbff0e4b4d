"""Rows wait until their channel's minute is whole; offsets are committed only past writes."""

from __future__ import annotations

from stream.history.batch import REMEMBER_MS, Batch
from stream.sketches.tally import Tally
from stream.store.history import MinuteRow

M = 60_000


def row(channel: str, start: int, part: int, views: int = 1) -> MinuteRow:
    return MinuteRow(channel, start, part, Tally(counts={"views": views}))


def write(batch: Batch, now: float) -> list[MinuteRow]:
    keys = batch.due(now)
    rows = batch.take(keys)
    batch.settle(keys)
    return rows


def test_a_minute_waits_for_every_part_its_channel_has_shown() -> None:
    batch = Batch(wait_parts_s=10)
    for offset, part in enumerate((0, 1)):
        batch.add(row("traffic", 0, part), 0, offset, now=0)
    assert len(write(batch, 0)) == 2  # the first minute: parts 0 and 1 known, both in
    batch.add(row("traffic", M, 0), 0, 2, now=1)
    assert write(batch, 1.5) == []  # part 1 of this minute is still to come
    assert batch.commit_offsets() == {0: 2}  # nothing from offset 2 on is written
    batch.add(row("traffic", M, 1), 0, 3, now=2)
    assert [(r.start, r.part) for r in write(batch, 2)] == [(M, 0), (M, 1)]
    assert batch.commit_offsets() == {0: 4}


def test_one_write_per_channel_and_minute_in_steady_state() -> None:
    batch = Batch(wait_parts_s=10)
    writes: dict[tuple[str, int], int] = {}
    offset = 0
    for minute in range(30):
        for part in range(4):  # the partitions close the minute a second apart
            for channel in ("traffic", "forms"):
                batch.add(row(channel, minute * M, part), 0, offset, now=minute * 60 + part)
                offset += 1
            for key in {(r.channel, r.start) for r in write(batch, minute * 60 + part + 0.5)}:
                writes[key] = writes.get(key, 0) + 1
    steady = {key: n for key, n in writes.items() if key[1] > 0}
    assert set(steady.values()) == {1}  # each channel's minute in one write, all parts in it
    assert len(steady) == 2 * 29


def test_a_quiet_part_holds_a_minute_only_until_the_wait_is_over() -> None:
    batch = Batch(wait_parts_s=10)
    batch.add(row("forms", 0, 0), 0, 0, now=0)
    batch.add(row("forms", 0, 1), 0, 1, now=0)
    write(batch, 0)
    batch.add(row("forms", M, 0), 0, 2, now=60)  # part 1 had no forms this minute
    assert write(batch, 69.9) == []
    assert len(write(batch, 70)) == 1


def test_a_late_change_to_a_written_minute_goes_out_at_once() -> None:
    batch = Batch()
    for part in (0, 1):
        batch.add(row("traffic", 0, part), 0, part, now=0)
    write(batch, 0)
    batch.add(row("traffic", 0, 1, views=5), 0, 2, now=100)
    assert [r.tally.counts["views"] for r in write(batch, 100)] == [5]


def test_the_newest_row_of_a_part_wins_and_the_oldest_offset_holds_the_commit() -> None:
    batch = Batch()
    batch.add(row("traffic", 0, 0, views=1), 3, 10, now=0)
    batch.add(row("traffic", 0, 0, views=7), 3, 11, now=0)
    assert batch.rows == 1
    assert batch.commit_offsets() == {3: 10}
    assert [r.tally.counts["views"] for r in write(batch, 0)] == [7]
    assert batch.commit_offsets() == {3: 12}


def test_skipped_records_move_the_commit_unless_a_row_before_them_waits() -> None:
    batch = Batch()
    batch.skip(0, 0)
    assert batch.commit_offsets() == {0: 1}
    batch.add(row("a", 0, 0), 0, 1, now=0)
    batch.add(row("a", 0, 1), 0, 2, now=0)  # known parts now 0 and 1: the group is whole
    batch.add(row("b", 0, 0), 0, 3, now=0)
    batch.parts["b"].add(1)  # as if "b" had shown part 1 in an earlier minute
    batch.skip(0, 4)
    write(batch, 0)
    assert batch.commit_offsets() == {0: 3}  # "b" at offset 3 still waits for its part 1


def test_a_backlog_past_max_rows_writes_everything() -> None:
    batch = Batch(wait_parts_s=10, max_rows=3)
    batch.parts["traffic"] = {0, 1}
    for offset, minute in enumerate(range(3)):
        batch.add(row("traffic", minute * M, 0), 0, offset, now=0)
    assert len(write(batch, 0)) == 3
    assert batch.rows == 0


def test_written_minutes_are_forgotten_after_a_while() -> None:
    batch = Batch()
    batch.add(row("traffic", 0, 0), 0, 0, now=0)
    write(batch, 0)
    batch.add(row("traffic", REMEMBER_MS + M, 0), 0, 1, now=1)
    write(batch, 1)
    assert ("traffic", 0) not in batch.written


def test_keys_settled_twice_by_a_revoke_during_a_write_are_settled_once() -> None:
    batch = Batch(wait_parts_s=10)
    batch.add(row("traffic", 0, 0), 0, 0, now=0)
    keys = batch.due(float("inf"))
    assert len(batch.take(keys)) == 1
    batch.settle(keys)  # the revoke's write, while the first write was in its thread
    batch.settle(keys)  # the first write, done
    assert batch.rows == 0 and batch.commit_offsets() == {0: 1}
    batch.add(row("traffic", 0, 0, views=2), 0, 1, now=1)  # the minute changed later
    assert [r.tally.counts for r in write(batch, 1)] == [{"views": 2}]
