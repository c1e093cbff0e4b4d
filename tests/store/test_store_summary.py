"""Summaries on both engines: a range read from them equals a range read from the tallies."""

from __future__ import annotations

import doctest
import random

import pytest
import sqlalchemy as sa

import stream.store.summary
from stream.sketches import codec, uniques
from stream.sketches.tally import Tally
from stream.store import history
from stream.store.history import DAY_MS, HISTORY, HOUR_MS, MINUTE_MS, MinuteRow, Retention
from stream.store.ranges import summarized
from stream.store.summary import SUMMARIES, SummaryError, loads
from tests.store.minutes import DAY0, random_minutes, tally, visitor_id

NOW = DAY0 + 4 * DAY_MS
FAR = NOW + DAY_MS
Numbers = dict[str, float | None]


def decoded(
    store: sa.Engine, channel: str, size: str, start: int, end: int
) -> tuple[list[tuple[int, Numbers]], Numbers]:
    """What the API answered before summaries: every window's tally decoded and merged."""
    windows = history.read(store, channel, size, start, end)
    return [(s, t.summary()) for s, t in windows], history.totals(windows).summary()


def hourly(rng: random.Random, days: int, per_hour: int) -> list[MinuteRow]:
    """A minute of traffic per hour for ``days`` days from DAY0, each of ``per_hour`` new people."""
    rows = [
        MinuteRow("traffic", DAY0 + h * HOUR_MS, 0, tally(
            rng.randint(1, 9), [visitor_id(rng) for _ in range(per_hour)],
            [rng.lognormvariate(7.5, 0.5) for _ in range(rng.randint(0, 5))],
        ))
        for h in range(days * 24)
    ]  # fmt: skip
    return rows


def assert_same(summary: Numbers, truth: Numbers) -> None:
    """Counts and quantiles exactly; unique estimates within HyperLogLog's documented error."""
    assert summary.keys() == truth.keys()
    for name, value in truth.items():
        if name == "visitors" and isinstance(value, int) and value > uniques.EXACT_LIMIT:
            assert abs(summary[name] - value) <= 3 * uniques.RELATIVE_ERROR * value
        else:
            assert summary[name] == value, name


def test_every_range_of_every_size_reads_the_same_as_from_the_tallies(store: sa.Engine) -> None:
    rng = random.Random(7)
    rows, _ = random_minutes(rng, "traffic", DAY0 + 22 * HOUR_MS, 5 * 60)  # over midnight
    history.write_minutes(store, rows, now_ms=NOW)
    history.write_minutes(store, hourly(rng, 3, 20), now_ms=NOW)
    for _ in range(40):
        size = rng.choice(history.SIZES)
        span = history.SPAN_MS[size]
        first = DAY0 // span + rng.randint(-2, 3 * DAY_MS // span)
        start, end = first * span, (first + rng.randint(1, 3 * DAY_MS // span)) * span
        rows_found, total = summarized(store, "traffic", size, start, end)
        truth_rows, truth_total = decoded(store, "traffic", size, start, end)
        assert rows_found == truth_rows
        assert_same(total, truth_total)
    assert summarized(store, "traffic", "hour", 0, DAY0) == ([], {})
    assert summarized(store, "nothing", "day", 0, FAR) == ([], {})


def test_uniques_past_the_exact_limit_stay_within_the_sketch_error(store: sa.Engine) -> None:
    rng = random.Random(8)
    history.write_minutes(store, hourly(rng, 3, 500), now_ms=NOW)  # 12,000 a day: HyperLogLog
    for size, start, end in (("hour", DAY0, DAY0 + 3 * DAY_MS), ("hour", DAY0 + 5 * HOUR_MS,
                             DAY0 + 50 * HOUR_MS), ("day", DAY0, FAR)):  # fmt: skip
        found_rows, total = summarized(store, "traffic", size, start, end)
        truth_rows, truth_total = decoded(store, "traffic", size, start, end)
        assert found_rows == truth_rows
        assert_same(total, truth_total)
        hours = (min(end, DAY0 + 3 * DAY_MS) - start) // HOUR_MS
        assert abs(total["visitors"] - 500 * hours) <= 3 * uniques.RELATIVE_ERROR * 500 * hours  # type: ignore[operator]


def corrupt(store: sa.Engine, size: str, start: int, end: int) -> None:
    with store.begin() as conn:
        conn.execute(
            sa.update(HISTORY)
            .where(HISTORY.c.size == size, HISTORY.c.start >= start, HISTORY.c.start < end)
            .values(tally=b"junk")
        )


def test_hours_inside_whole_days_are_never_decoded(store: sa.Engine) -> None:
    history.write_minutes(store, hourly(random.Random(9), 3, 30), now_ms=NOW)
    before = summarized(store, "traffic", "hour", DAY0 + 20 * HOUR_MS, DAY0 + 3 * DAY_MS)
    # Day 1 is whole inside the range: its day row stands for its 24 hours, unread.
    corrupt(store, "hour", DAY0 + DAY_MS, DAY0 + 2 * DAY_MS)
    assert summarized(store, "traffic", "hour", DAY0 + 20 * HOUR_MS, DAY0 + 3 * DAY_MS) == before
    with pytest.raises(codec.CheckpointError):
        history.read(store, "traffic", "hour", DAY0 + DAY_MS, DAY0 + 2 * DAY_MS)
    # Hours at the edges are read: a broken one is an error, not a wrong number.
    corrupt(store, "hour", DAY0 + 21 * HOUR_MS, DAY0 + 22 * HOUR_MS)
    with pytest.raises(codec.CheckpointError):
        summarized(store, "traffic", "hour", DAY0 + 20 * HOUR_MS, DAY0 + 3 * DAY_MS)


def test_minutes_inside_whole_hours_are_never_decoded(store: sa.Engine) -> None:
    rows, _ = random_minutes(random.Random(11), "traffic", DAY0 + 50 * MINUTE_MS, 3 * 60)
    history.write_minutes(store, rows, now_ms=NOW)
    start, end = DAY0 + 55 * MINUTE_MS, DAY0 + 3 * HOUR_MS + 5 * MINUTE_MS
    found = summarized(store, "traffic", "minute", start, end)
    assert found[0] == decoded(store, "traffic", "minute", start, end)[0]
    assert_same(found[1], decoded(store, "traffic", "minute", start, end)[1])
    # Hours 1 and 2 are whole inside the range: their hour rows stand for their minutes.
    corrupt(store, "minute", DAY0 + HOUR_MS, DAY0 + 3 * HOUR_MS)
    assert summarized(store, "traffic", "minute", start, end) == found
    corrupt(store, "minute", DAY0 + 3 * HOUR_MS, end)
    with pytest.raises(codec.CheckpointError):
        summarized(store, "traffic", "minute", start, end)


def test_a_day_whose_first_hours_retention_deleted_no_longer_stands_for_them(
    store: sa.Engine,
) -> None:
    history.write_minutes(store, hourly(random.Random(10), 2, 30), now_ms=NOW)
    # Hours kept 30 days: at this "now", the first 6 hours of DAY0 are older than that.
    retention = Retention(minutes_days=1, hours_days=30)
    deleted = history.prune(store, DAY0 + 6 * HOUR_MS + 30 * DAY_MS, retention)
    assert deleted["hour"] == 6
    with store.connect() as conn:  # the summaries of the hours went with them
        left = conn.execute(sa.select(SUMMARIES.c.size, SUMMARIES.c.start)).all()
        windows = sa.select(HISTORY.c.size, HISTORY.c.start).distinct()
        assert sorted(left) == sorted(conn.execute(windows).all())
    found_rows, total = summarized(store, "traffic", "hour", DAY0, DAY0 + 2 * DAY_MS)
    truth_rows, truth_total = decoded(store, "traffic", "hour", DAY0, DAY0 + 2 * DAY_MS)
    assert len(found_rows) == 42 and found_rows == truth_rows
    assert total == truth_total and total["visitors"] == 42 * 30  # not the whole of DAY0


def test_a_channel_of_counts_only_and_minutes_of_one_partition(store: sa.Engine) -> None:
    rows = [MinuteRow("forms", DAY0 + m * MINUTE_MS, 0, Tally(counts={"signup.starts": m % 3,
            "signup.submits": 0.5})) for m in range(0, 24 * 60, 7)]  # fmt: skip
    history.write_minutes(store, rows, now_ms=NOW)
    for size in history.SIZES:
        assert summarized(store, "forms", size, DAY0, FAR) == decoded(
            store, "forms", size, DAY0, FAR
        )
    hours = [MinuteRow("traffic", DAY0 + m * MINUTE_MS, 2, tally(1, [f"v{m}"])) for m in range(90)]
    history.write_minutes(store, hours, now_ms=NOW)
    # Minutes of one partition: summaries, and the hour 00:00 whole inside the range.
    found = summarized(store, "traffic", "minute", DAY0, DAY0 + 80 * MINUTE_MS)
    assert found == decoded(store, "traffic", "minute", DAY0, DAY0 + 80 * MINUTE_MS)
    assert found[1]["visitors"] == 80


@pytest.mark.parametrize(
    "text",
    [
        "", "nul\x00", "[]", "null", "1", '"s"', "{}", '{"counts": {}}',
        '{"counts": [], "sketches": {}}', '{"counts": {}, "sketches": null}',
        '{"counts": {"a": "1"}, "sketches": {}}', '{"counts": {"a": true}, "sketches": {}}',
        '{"counts": {"a": null}, "sketches": {}}', '{"counts": {}, "sketches": {"v": [1]}}',
        '{"counts": {}, "sketches": {"v": {}}}', '{"counts": {}, "sketches": {"v": false}}',
        "\udcff", '{"counts": {"a": 1e999}, "sketches": {}}',
    ],
)  # fmt: skip
def test_a_summary_that_is_not_ours_is_refused(text: str) -> None:
    with pytest.raises(SummaryError):
        loads(text, 1)
    with pytest.raises(SummaryError):
        loads(text.encode("utf-8", "surrogatepass"), 1)


@pytest.mark.parametrize("value", [None, 1.5, "1", True, [], {}])
def test_a_summary_built_from_is_an_int(value: object) -> None:
    with pytest.raises(SummaryError):
        loads('{"counts": {}, "sketches": {}}', value)


def test_a_corrupt_stored_summary_is_an_error(store: sa.Engine) -> None:
    history.write_minutes(store, [MinuteRow("traffic", DAY0, 0, tally(1, ["a"]))], now_ms=NOW)
    with store.begin() as conn:
        conn.execute(sa.update(SUMMARIES).where(SUMMARIES.c.size == "day").values(summary="{"))
    for size in ("day", "hour"):  # a range of hours over the whole day reads the day's too
        with pytest.raises(SummaryError):
            summarized(store, "traffic", size, 0, FAR)
    assert summarized(store, "traffic", "hour", DAY0, DAY0 + HOUR_MS)[1]["views"] == 1


@pytest.mark.parametrize(
    ("channel", "size", "start", "end"),
    [
        ("", "day", 0, 1), (None, "day", 0, 1), ("a\x00", "day", 0, 1), ("x" * 101, "day", 0, 1),
        ("traffic", "week", 0, 1), ("traffic", None, 0, 1), ("traffic", "day", -1, 1),
        ("traffic", "day", 0, 2**53 + 1), ("traffic", "day", True, 1), ("traffic", "day", 0, 1.0),
        ("traffic", "day", "0", 1), ("traffic", "day", 0, None), ("traffic", "day", [0], 1),
    ],
)  # fmt: skip
def test_a_range_that_cannot_be_read_is_refused(
    store: sa.Engine, channel: object, size: object, start: object, end: object
) -> None:
    with pytest.raises(ValueError):
        summarized(store, channel, size, start, end)  # type: ignore[arg-type]


def test_doctests() -> None:
    assert doctest.testmod(stream.store.summary).failed == 0
