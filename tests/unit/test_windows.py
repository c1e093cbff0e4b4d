"""Tumbling windows, watermark and lateness."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.sketches.windows import (
    DAY_MS,
    MINUTE_MS,
    EventClock,
    day_start,
    recent_windows,
    window_start,
)

T0 = 1_764_028_800_000  # 2025-11-25T00:00:00Z, a UTC midnight


def test_window_and_day_starts() -> None:
    assert window_start(T0 + 61_000) == T0 + MINUTE_MS
    assert window_start(T0 + MINUTE_MS - 1) == T0
    assert day_start(T0 + DAY_MS - 1) == T0
    assert day_start(T0 + DAY_MS) == T0 + DAY_MS


def test_recent_windows_end_with_the_current_minute() -> None:
    starts = list(recent_windows(T0 + 10 * MINUTE_MS + 5, 3))
    assert starts == [T0 + 8 * MINUTE_MS, T0 + 9 * MINUTE_MS, T0 + 10 * MINUTE_MS]


def test_event_in_open_window_is_admitted() -> None:
    clock = EventClock(lateness_ms=30_000)
    assert clock.admit(T0 + 70_000, received_at=T0 + 70_000) == T0 + MINUTE_MS
    # The first minute ends at T0+60s; watermark is T0+40s, so it is still open.
    assert clock.admit(T0 + 1_000, received_at=T0 + 70_000) == T0
    assert clock.late == 0
    assert not clock.is_closed(T0)


def test_event_after_window_closed_is_counted_late() -> None:
    clock = EventClock(lateness_ms=30_000)
    clock.admit(T0 + 90_000, received_at=T0 + 90_000)  # watermark T0+60s closes minute 0
    assert clock.is_closed(T0)
    assert clock.admit(T0 + 59_999, received_at=T0 + 90_000) is None
    assert clock.late == 1
    assert clock.admit(T0 + 60_000, received_at=T0 + 90_000) == T0 + MINUTE_MS


def test_fast_client_clock_cannot_close_windows() -> None:
    clock = EventClock(lateness_ms=30_000)
    # A client 10 minutes ahead: its event is windowed by its own ts but the watermark
    # only advances to the server's receive time.
    assert clock.admit(T0 + 600_000, received_at=T0) == T0 + 600_000
    assert clock.watermark == T0 - 30_000
    assert clock.admit(T0 + 1, received_at=T0) == T0
    assert clock.late == 0


@settings(deadline=None)
@given(st.lists(st.integers(0, 10 * MINUTE_MS), min_size=1, max_size=50))
def test_late_plus_admitted_equals_events(offsets: list[int]) -> None:
    clock = EventClock(lateness_ms=20_000)
    admitted = sum(clock.admit(T0 + o, received_at=T0 + o) is not None for o in offsets)
    assert admitted + clock.late == len(offsets)


def test_merge_takes_latest_watermark_and_sums_late() -> None:
    a, b = EventClock(lateness_ms=0), EventClock(lateness_ms=0)
    a.admit(T0 + 5 * MINUTE_MS, T0 + 5 * MINUTE_MS)
    a.admit(T0, T0 + 5 * MINUTE_MS)
    b.admit(T0 + 2 * MINUTE_MS, T0 + 2 * MINUTE_MS)
    merged = a.merge(b)
    assert merged.watermark == T0 + 5 * MINUTE_MS
    assert merged.late == 1
    assert EventClock.from_list(merged.to_list()).to_list() == merged.to_list()
