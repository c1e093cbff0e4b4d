"""History on both engines: idempotent minute writes, roll-ups that merge, ranges, retention."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
import sqlalchemy as sa

from stream.settings import Settings
from stream.sketches.tally import Tally, merged
from stream.store import history
from stream.store.history import DAY_MS, HOUR_MS, MINUTE_MS, MinuteRow, Retention
from tests.store.minutes import DAY0, random_minutes, tally

NOW = DAY0 + 2 * DAY_MS  # "now" for writes: two days after DAY0 began


def summaries(windows: list[tuple[int, Tally]]) -> list[tuple[int, dict[str, float | None]]]:
    return [(start, t.summary()) for start, t in windows]


def everything(store: sa.Engine, channel: str = "traffic") -> dict[str, list]:
    return {
        size: summaries(history.read(store, channel, size, 0, NOW + DAY_MS))
        for size in history.SIZES
    }


def test_writing_the_same_minutes_twice_changes_nothing(store: sa.Engine) -> None:
    rows, _ = random_minutes(random.Random(1), "traffic", DAY0 + 23 * HOUR_MS, 90)
    assert history.write_minutes(store, rows, now_ms=NOW) == len(rows)
    first = everything(store)
    assert history.write_minutes(store, rows, now_ms=NOW) == len(rows)
    assert everything(store) == first
    minutes = len({r.start for r in rows})
    assert [len(first[size]) for size in history.SIZES] == [minutes, 2, 2]  # 23:00 to 00:29


def test_a_rewritten_minute_replaces_the_old_one(store: sa.Engine) -> None:
    history.write_minutes(store, [MinuteRow("forms", DAY0, 0, tally(5, ["a"]))], now_ms=NOW)
    history.write_minutes(store, [MinuteRow("forms", DAY0, 0, tally(7, ["b"]))], now_ms=NOW)
    for size in history.SIZES:
        [(start, found)] = history.read(store, "forms", size, DAY0, DAY0 + DAY_MS)
        assert (start, found.counts, found.summary()["visitors"]) == (DAY0, {"views": 7}, 1)


def test_the_newest_row_of_a_batch_wins(store: sa.Engine) -> None:
    rows = [MinuteRow("forms", DAY0, 0, tally(n, ["a"])) for n in (1, 2, 3)]
    assert history.write_minutes(store, rows, now_ms=NOW) == 1
    [(_, hour)] = history.read(store, "forms", "hour", DAY0, DAY0 + HOUR_MS)
    assert hour.counts == {"views": 3}


def test_hours_and_days_equal_the_merge_of_their_minutes(store: sa.Engine) -> None:
    rng = random.Random(2)
    rows, seen = random_minutes(rng, "traffic", DAY0 + 22 * HOUR_MS, 4 * 60)  # over midnight
    rng.shuffle(rows)
    # Written in batches of odd sizes and out of order: the result may not depend on it.
    for i in range(0, len(rows), 37):
        history.write_minutes(store, rows[i : i + 37], now_ms=NOW)
    for size in ("hour", "day"):
        span = history.SPAN_MS[size]
        windows = history.read(store, "traffic", size, 0, NOW)
        assert [start % span for start, _ in windows] == [0] * len(windows)
        for start, found in windows:
            inside = [r for r in rows if start <= r.start < start + span]
            want = merged(r.tally for r in inside)
            assert found.summary() == want.summary()
            # Uniques are a union across minutes and parts, never a sum.
            ids = {
                v for (minute, _), vs in seen.items() if start <= minute < start + span for v in vs
            }
            assert found.summary()["visitors"] == len(ids)
            assert found.counts["views"] == sum(r.tally.counts["views"] for r in inside)
    assert len(history.read(store, "traffic", "day", 0, NOW)) == 2


def test_read_takes_windows_from_inclusive_to_exclusive_merged_over_parts(store: sa.Engine) -> None:
    rows = [
        MinuteRow("traffic", DAY0 + m * MINUTE_MS, part, tally(10 * m + part, [f"p{part}"]))
        for m in range(5)
        for part in (0, 1)
    ]
    history.write_minutes(store, rows, now_ms=NOW)
    got = history.read(store, "traffic", "minute", DAY0 + MINUTE_MS, DAY0 + 4 * MINUTE_MS)
    assert [start for start, _ in got] == [DAY0 + m * MINUTE_MS for m in (1, 2, 3)]
    assert [t.counts["views"] for _, t in got] == [21, 41, 61]  # part 0 + part 1
    assert [t.summary()["visitors"] for _, t in got] == [2, 2, 2]
    assert history.read(store, "traffic", "minute", DAY0 + 1, DAY0 + MINUTE_MS) == []
    assert history.read(store, "traffic", "minute", DAY0, DAY0) == []
    assert history.read(store, "traffic", "minute", DAY0 + MINUTE_MS, DAY0) == []
    assert len(history.read(store, "traffic", "hour", DAY0, DAY0 + 1)) == 1
    assert history.read(store, "other", "minute", 0, NOW) == []
    assert history.totals(got).counts["views"] == 123


def test_channels_lists_those_with_rows(store: sa.Engine) -> None:
    assert history.channels(store) == []
    for channel in ("vitals", "traffic", "forms"):
        history.write_minutes(store, [MinuteRow(channel, DAY0, 0, tally(1, []))], now_ms=NOW)
    assert history.channels(store) == ["forms", "traffic", "vitals"]


def test_minutes_older_than_retention_are_ignored(store: sa.Engine) -> None:
    keep = Retention(minutes_days=1, hours_days=3)
    now = DAY0 + DAY_MS + 30 * MINUTE_MS  # the cut-off is DAY0 00:30
    old = [MinuteRow("traffic", DAY0 + m * MINUTE_MS, 0, tally(1, [])) for m in (0, 31, 60)]
    # The hour of 00:31 began before the cut-off: its first minutes may be gone already.
    assert history.write_minutes(store, old, now_ms=now, retention=keep) == 1
    assert [s for s, _ in history.read(store, "traffic", "minute", 0, now)] == [DAY0 + HOUR_MS]


def test_prune_deletes_each_size_by_its_retention(store: sa.Engine) -> None:
    rows = [MinuteRow("traffic", DAY0 + d * DAY_MS, 0, tally(1, [])) for d in range(6)]
    rows += [MinuteRow("forms", DAY0 + d * DAY_MS + 7 * HOUR_MS, 0, tally(1, [])) for d in range(6)]
    history.write_minutes(store, rows, now_ms=DAY0)
    now = DAY0 + 6 * DAY_MS
    deleted = history.prune(store, now, Retention(minutes_days=2, hours_days=4, days_days=5))
    # Minutes of days 0-3 go (8 rows), hours of days 0-1 (4), days of day 0 (2).
    assert deleted == {"minute": 8, "hour": 4, "day": 2}
    counts = defaultdict(list)
    for size in history.SIZES:
        for channel in ("traffic", "forms"):
            windows = history.read(store, channel, size, 0, now)
            counts[size].append([(s - DAY0) // DAY_MS for s, _ in windows])
    assert counts == {
        "minute": [[4, 5], [4, 5]],
        "hour": [[2, 3, 4, 5], [2, 3, 4, 5]],
        "day": [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]],
    }
    assert history.prune(store, now, Retention(minutes_days=2, hours_days=4)) == dict.fromkeys(
        history.SIZES, 0
    )  # days kept, the rest already gone


def test_retention_comes_from_settings_and_refuses_impossible_ones() -> None:
    assert Retention.from_settings(Settings()) == Retention(14, 396, None)
    assert Retention.from_settings(Settings(history_days_days=3650)).days("day") == 3650
    for minutes, hours, days in ((0, 10, None), (10, 10, None), (20, 10, None), (1, 2, 0)):
        with pytest.raises(ValueError, match="DOJO_HISTORY_"):
            Retention(minutes, hours, days)
