"""Journeys: transitions, entries, exits at session end, paths, loops, merge, bounds."""

from __future__ import annotations

import random
from collections import Counter
from functools import reduce
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.metrics.journeys import JourneysState
from stream.sketches.windows import DAY_MS, MINUTE_MS

T0 = 1_764_028_800_000  # a UTC midnight
NOON = T0 + DAY_MS // 2
IDLE = 30 * MINUTE_MS


def batch(sid: str, urls: list[str], start: int, gap: int = 1000) -> dict[str, Any]:
    events = []
    for i, url in enumerate(urls):
        kind = "click" if url == "click" else "page_view"
        events.append(
            {
                "event_id": f"{sid}-{start}-{i}",
                "type": kind,
                "ts": start + i * gap,
                "session_id": sid,
                "url": "/" if kind == "click" else url,
                "props": {},
                "referrer": "",
            }
        )
    return {
        "session_id": sid,
        "visitor_id": "v" + sid,
        "device": "desktop",
        "received_at": events[-1]["ts"],
        "events": events,
    }


def test_transitions_entries_and_loops_count_live() -> None:
    state = JourneysState()
    state.apply(batch("a", ["/", "/events", "click", "/events/x", "/events"], NOON), NOON)
    state.apply(batch("a", ["/events/x", "/events/x"], NOON + 10_000), NOON + 10_000)
    state.apply(batch("b", ["/blog"], NOON), NOON)
    snap = state.snapshot(NOON + MINUTE_MS)
    transitions = {(t["from"], t["to"]): t["count"] for t in snap["transitions"]}
    assert transitions == {
        ("/", "/events"): 1,
        ("/events", "/events/x"): 2,
        ("/events/x", "/events"): 1,
        ("/events/x", "/events/x"): 1,
    }
    assert snap["entries"] == [{"url": "/", "sessions": 1}, {"url": "/blog", "sessions": 1}]
    loops = {tuple(lp["pages"]): lp["count"] for lp in snap["loops"]}
    # /events > /events/x > /events and /events/x > /events > /events/x; a reload is no loop.
    assert loops == {
        ("/events", "/events/x", "/events"): 1,
        ("/events/x", "/events", "/events/x"): 1,
    }
    assert snap["exits"] == [] and snap["sessions_ended"] == 0
    assert snap["last_hour"]["transitions"][0] == {"from": "/events", "to": "/events/x", "count": 2}


def test_exit_path_and_length_when_session_goes_idle() -> None:
    state = JourneysState()
    state.apply(batch("a", ["/", "/events", "/events/x", "/events/x/register", "/"], NOON), NOON)
    state.apply(batch("b", ["/blog", "/blog/y"], NOON), NOON)
    state.expire(NOON + 4000 + IDLE - 1)  # "b" ended 30 minutes after its last batch...
    snap = state.snapshot(NOON + IDLE)
    assert snap["exits"] == [{"url": "/blog/y", "sessions": 1}]
    state.expire(NOON + 4000 + IDLE)  # ...and "a" now
    snap = state.snapshot(NOON + IDLE)
    assert snap["exits"] == [{"url": "/", "sessions": 1}, {"url": "/blog/y", "sessions": 1}]
    assert {p["path"]: p["sessions"] for p in snap["paths"]} == {
        "/ > /events > /events/x > /events/x/register": 1,
        "/blog > /blog/y": 1,
    }
    assert snap["avg_path_length"] == 3.5
    assert snap["sessions_ended"] == 2
    assert snap["live_sessions"] == 0


def test_any_batch_keeps_a_session_alive() -> None:
    state = JourneysState()
    state.apply(batch("a", ["/"], NOON), NOON)
    state.apply(batch("a", ["click"], NOON + 20 * MINUTE_MS), NOON + 20 * MINUTE_MS)
    state.expire(NOON + IDLE + MINUTE_MS)
    assert state.snapshot(NOON)["sessions_ended"] == 0
    state.expire(NOON + 20 * MINUTE_MS + IDLE)
    assert state.snapshot(NOON)["sessions_ended"] == 1


URLS = ["/", "/events", "/events/x", "/blog", "/blog/y", "/about"]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), parts=st.integers(1, 4))
def test_merge_of_disjoint_partitions_equals_all_in_one(seed: int, parts: int) -> None:
    rng = random.Random(seed)
    # Minutes stay open: which views are late depends on each partition's own clock.
    one = JourneysState(lateness_ms=DAY_MS)
    split = [JourneysState(lateness_ms=DAY_MS) for _ in range(parts)]
    expected: Counter[str] = Counter()
    journeys = 0
    for n in range(25):
        sid = f"s{n}"
        start = NOON + rng.randrange(10 * MINUTE_MS)
        urls = [rng.choice([*URLS, "click"]) for _ in range(rng.randint(1, 8))]
        views = [u for u in urls if u != "click"]
        expected.update(f"{a} -> {b}" for a, b in pairwise(views))
        journeys += bool(views)
        cut = rng.randrange(1, len(urls) + 1)
        for i, chunk in enumerate((urls[:cut], urls[cut:])):
            if chunk:
                b = batch(sid, chunk, start + i * 100_000)
                one.apply(b, b["received_at"])
                split[n % parts].apply(b, b["received_at"])
    now = NOON + 20 * MINUTE_MS
    merged = reduce(lambda a, b: a.merge(b), split)
    assert merged.snapshot(now) == one.snapshot(now)
    got = {f"{t['from']} -> {t['to']}": t["count"] for t in one.snapshot(now)["transitions"]}
    assert got == dict(expected)
    later = now + 2 * IDLE
    for state in (one, merged):
        state.expire(later)
    assert merged.snapshot(later) == one.snapshot(later)
    assert one.snapshot(later)["sessions_ended"] == journeys


def test_checkpoint_round_trip() -> None:
    state = JourneysState()
    state.apply(batch("a", ["/", "/events", "/"], NOON), NOON)
    back = JourneysState.from_bytes(state.to_bytes())
    assert back.snapshot(NOON) == state.snapshot(NOON)
    for s in (state, back):
        s.apply(batch("a", ["/events", "/about"], NOON + 5000), NOON + 5000)
        s.expire(NOON + 2 * IDLE)
    assert back.snapshot(NOON) == state.snapshot(NOON)
    assert back.snapshot(NOON)["paths"] == [{"path": "/ > /events > / > /events", "sessions": 1}]


def test_distinct_keys_are_capped_and_totals_stay_exact() -> None:
    state = JourneysState(day_cap=20, minute_cap=10)
    for n in range(200):
        state.apply(batch(f"s{n}", [f"/p{n}", f"/q{n}"], NOON + n), NOON + n)
    day = state.days[NOON - NOON % DAY_MS]
    assert len(day.transitions) <= 21 and len(day.entries) <= 21
    assert all(len(m.transitions) <= 11 for m in state.minutes.values())
    snap = state.snapshot(NOON)
    shown = sum(t["count"] for t in snap["transitions"])
    assert len(snap["transitions"]) == 20
    assert shown + snap["overflow"]["transitions"] == 200
    merged = state.merge(state)
    assert len(merged.days[NOON - NOON % DAY_MS].transitions) <= 21
    assert sum(merged.days[NOON - NOON % DAY_MS].transitions.values()) == 400
    later = NOON + 3 * DAY_MS
    state.apply(batch("clock", ["click"], later), later)  # closes the minutes: they may go
    state.expire(later)
    assert state.days == {} and state.minutes == {} and state.walks == {}


def test_display_merge_still_counts_live_sessions() -> None:
    from stream.metrics.journeys import JourneysState

    def one(session: str) -> JourneysState:
        state = JourneysState()
        event = {"event_id": f"e_{session}_01", "type": "page_view", "ts": 1_795_000_000_000,
                 "session_id": session, "url": "/", "props": {}, "referrer": ""}  # fmt: skip
        state.apply({"session_id": session, "visitor_id": "v", "device": "mobile",
                     "received_at": 1_795_000_000_000, "events": [event]}, 1_795_000_000_000)  # fmt: skip
        return state

    shown = one("s1").merge(one("s2"), sessions=False).merge(one("s3"), sessions=False)
    assert shown.snapshot(1_795_000_001_000)["live_sessions"] == 3
