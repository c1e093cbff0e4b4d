"""Conversion funnels: matching, order, window, device split, merge and checkpoints."""

from __future__ import annotations

import random
from functools import reduce
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.metrics.funnel_config import load_funnels, parse_funnels
from stream.metrics.funnels import FunnelsState
from stream.sketches.windows import DAY_MS, MINUTE_MS

T0 = 1_764_028_800_000  # a UTC midnight
NOON = T0 + DAY_MS // 2
FUNNELS = load_funnels()
REG = {"form_id": "registration"}
HAPPY = [
    ("page_view", "/", {}),
    ("page_view", "/events", {}),
    ("page_view", "/events/robot-rally", {}),
    ("form_start", "/events/robot-rally/register", REG),
    ("form_submit", "/events/robot-rally/register", REG),
]


def batch(
    sid: str,
    steps: list[tuple[str, str, dict[str, Any]]],
    start: int,
    gap: int = 1000,
    device: str = "desktop",
) -> dict[str, Any]:
    events = [
        {
            "event_id": f"{sid}-{i}",
            "type": kind,
            "ts": start + i * gap,
            "session_id": sid,
            "url": url,
            "props": props,
            "referrer": "",
        }
        for i, (kind, url, props) in enumerate(steps)
    ]
    return {
        "session_id": sid,
        "visitor_id": "v" + sid,
        "device": device,
        "received_at": events[-1]["ts"],
        "events": events,
    }


def sessions_of(snap: dict[str, Any], part: str | None = None) -> list[int]:
    funnel = snap["funnels"][0]
    if part is not None:
        funnel = funnel[part]
    return [s["sessions"] for s in funnel["steps"]]


def reference_steps(events: list[dict[str, Any]]) -> int:
    """The simulator's sequential rule for the registration funnel (no window)."""
    step = 0
    for e in events:
        kind, url, props = e["type"], e["url"], e["props"]
        if kind == "page_view":
            detail = url.startswith("/events/") and url.count("/") == 2
            step += (step, url) in ((0, "/"), (1, "/events")) or (step == 2 and detail)
        elif props.get("form_id") == "registration" and (
            (step == 3 and kind == "form_start") or (step == 4 and kind == "form_submit")
        ):
            step += 1
    return step


def test_complete_session_enters_every_step_with_gaps() -> None:
    state = FunnelsState(FUNNELS)
    state.apply(batch("s1", HAPPY, NOON, gap=2000), NOON)
    snap = state.snapshot(NOON + MINUTE_MS)
    funnel = snap["funnels"][0]
    assert sessions_of(snap) == [1, 1, 1, 1, 1]
    assert funnel["overall_conversion"] == 1.0
    assert funnel["biggest_dropoff_step"] is None
    assert funnel["steps"][0]["conversion"] is None
    assert [s["conversion"] for s in funnel["steps"][1:]] == [1.0] * 4
    medians = [s["median_ms_from_prev"] for s in funnel["steps"][1:]]
    assert all(abs(m - 2000) <= 20 for m in medians)  # 1 % sketch accuracy
    assert sessions_of(snap, "last_hour") == [1, 1, 1, 1, 1]
    assert list(funnel["by_device"]) == ["desktop"]


def test_steps_out_of_order_do_not_count() -> None:
    state = FunnelsState(FUNNELS)
    shuffled = [HAPPY[1], HAPPY[0], HAPPY[2], HAPPY[1], HAPPY[3], HAPPY[2], HAPPY[4]]
    state.apply(batch("s1", shuffled, NOON), NOON)
    # "/" then "/events/x" (skipped: waiting for /events), "/events", form_start (waiting for
    # a detail page), "/events/x", form_submit (waiting for form_start).
    assert sessions_of(state.snapshot(NOON)) == [1, 1, 1, 0, 0]


def test_register_page_is_not_an_event_detail() -> None:
    state = FunnelsState(FUNNELS)
    steps = [*HAPPY[:2], ("page_view", "/events/robot-rally/register", {}), *HAPPY[3:]]
    state.apply(batch("s1", steps, NOON), NOON)
    assert sessions_of(state.snapshot(NOON)) == [1, 1, 0, 0, 0]


def test_window_closes_the_attempt() -> None:
    state = FunnelsState(FUNNELS)
    state.apply(batch("s1", HAPPY[:2], NOON), NOON)
    late = NOON + 30 * MINUTE_MS + 1  # more than 30 minutes after entering step 1
    state.apply(batch("s1", HAPPY[2:], late), late)
    state.apply(batch("s2", HAPPY[:2], NOON), NOON)
    on_time = NOON + 30 * MINUTE_MS - 5000
    state.apply(batch("s2", HAPPY[2:], on_time), on_time)
    snap = state.snapshot(on_time)
    assert sessions_of(snap) == [2, 2, 1, 1, 1]
    funnel = snap["funnels"][0]
    assert funnel["biggest_dropoff_step"] == "event_detail"
    assert funnel["overall_conversion"] == 0.5
    assert funnel["steps"][2]["conversion"] == 0.5


def test_custom_window_and_props_steps() -> None:
    funnels = parse_funnels(
        {
            "funnels": [
                {
                    "name": "news",
                    "window_minutes": 1,
                    "steps": [
                        {"name": "blog", "url": "/blog/*"},
                        {
                            "name": "signed_up",
                            "event": "conversion",
                            "props": {"goal": "newsletter"},
                        },
                    ],
                }
            ]
        }
    )
    state = FunnelsState(funnels)
    state.apply(
        batch(
            "a",
            [
                ("page_view", "/blog/x", {}),
                ("conversion", "/blog/x", {"goal": "other"}),
                ("conversion", "/blog/x", {"goal": "newsletter"}),
            ],
            NOON,
        ),
        NOON,
    )
    state.apply(
        batch(
            "b",
            [("page_view", "/blog/y", {}), ("conversion", "/blog/y", {"goal": "newsletter"})],
            NOON,
            gap=61_000,
        ),
        NOON,
    )
    assert sessions_of(state.snapshot(NOON)) == [2, 1]


def test_device_split_and_minute_of_step_one() -> None:
    state = FunnelsState(FUNNELS, lateness_ms=DAY_MS)  # minutes stay open: no late entries
    state.apply(batch("m", HAPPY[:3], NOON, device="mobile"), NOON)
    state.apply(batch("d", HAPPY, NOON + 5 * MINUTE_MS, device="desktop"), NOON)
    state.apply(batch("x", HAPPY[:1], NOON, device="watch"), NOON)
    # The mobile session finishes 20 minutes on: its entries stay in its step-1 minute.
    later = NOON + 20 * MINUTE_MS
    state.apply(batch("m", HAPPY[3:], later, device="mobile"), later)
    snap = state.snapshot(later)
    by_device = snap["funnels"][0]["by_device"]
    assert [s["sessions"] for s in by_device["mobile"]["steps"]] == [1, 1, 1, 1, 1]
    assert [s["sessions"] for s in by_device["desktop"]["steps"]] == [1, 1, 1, 1, 1]
    assert [s["sessions"] for s in by_device["unknown"]["steps"]] == [1, 0, 0, 0, 0]
    rows = state.windows(later)
    assert [(r["window_start"], r["sessions"]) for r in rows] == [
        (NOON, [2, 1, 1, 1, 1]),
        (NOON + 5 * MINUTE_MS, [1, 1, 1, 1, 1]),
    ]
    # An hour on, the minutes leave the last hour while the day keeps them.
    snap = state.snapshot(NOON + 70 * MINUTE_MS)
    assert sessions_of(snap, "last_hour") == [0, 0, 0, 0, 0]
    assert sessions_of(snap) == [3, 2, 2, 2, 2]


def session_events(rng: random.Random, sid: str, start: int) -> list[dict[str, Any]]:
    pool = [
        *HAPPY,
        ("page_view", "/blog", {}),
        ("form_start", "/contact", {"form_id": "contact"}),
        ("page_view", "/events/robot-rally/register", {}),
        ("click", "/", {}),
    ]
    steps = [
        rng.choice(pool) if rng.random() < 0.4 else HAPPY[min(i, 4)]
        for i in range(rng.randint(1, 9))
    ]
    return batch(sid, steps, start, gap=rng.randrange(1, 90_000))["events"]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), parts=st.integers(1, 4))
def test_merge_of_disjoint_partitions_equals_all_in_one(seed: int, parts: int) -> None:
    rng = random.Random(seed)
    # Minutes stay open: which events are late depends on each partition's own clock.
    one = FunnelsState(FUNNELS, lateness_ms=DAY_MS)
    split = [FunnelsState(FUNNELS, lateness_ms=DAY_MS) for _ in range(parts)]
    expected = [0] * 5
    for n in range(30):
        sid = f"s{n}"
        events = session_events(rng, sid, NOON + rng.randrange(0, 10 * MINUTE_MS))
        device = rng.choice(["mobile", "tablet", "desktop", "unknown"])
        reached = reference_steps(events)
        for i in range(reached):
            expected[i] += 1
        cut = rng.randrange(len(events) + 1)
        for chunk in (events[:cut], events[cut:]):
            if chunk:
                b = {
                    "session_id": sid,
                    "visitor_id": "v",
                    "device": device,
                    "received_at": chunk[-1]["ts"],
                    "events": chunk,
                }
                one.apply(b, b["received_at"])
                split[n % parts].apply(b, b["received_at"])
    now = NOON + 20 * MINUTE_MS
    merged = reduce(lambda a, b: a.merge(b), split)
    assert merged.snapshot(now) == one.snapshot(now)
    assert merged.windows(now) == one.windows(now)
    # Sessions here finish well within 30 minutes, so the window never cuts them short.
    assert sessions_of(one.snapshot(now)) == expected


def test_checkpoint_round_trip_and_changed_definition() -> None:
    state = FunnelsState(FUNNELS)
    state.apply(batch("s1", HAPPY[:3], NOON), NOON)
    back = FunnelsState.from_bytes(state.to_bytes())
    assert back.funnels == FUNNELS
    assert back.snapshot(NOON) == state.snapshot(NOON)
    back.apply(batch("s1", HAPPY[3:], NOON + 10_000), NOON + 10_000)
    assert sessions_of(back.snapshot(NOON)) == [1, 1, 1, 1, 1]
    changed = parse_funnels(
        {
            "funnels": [
                {
                    "name": "registration",
                    "window_minutes": 5,
                    "steps": [{"name": "home", "url": "/"}],
                }
            ]
        }
    )
    fresh = FunnelsState.from_bytes(state.to_bytes(), changed)
    assert sessions_of(fresh.snapshot(NOON)) == [0]
    same = FunnelsState.from_bytes(state.to_bytes(), FUNNELS)
    assert same.snapshot(NOON) == state.snapshot(NOON)


def test_expire_bounds_memory() -> None:
    state = FunnelsState(FUNNELS)
    for n in range(500):
        state.apply(batch(f"s{n}", HAPPY[:2], NOON + n * 1000), NOON + n * 1000)
    track = state.tracks[0]
    assert len(track.progress) == 500
    state.expire(NOON + 2 * 3_600_000)
    assert track.progress == {}
    assert track.minutes  # still open on the event clock: an open minute is never dropped
    later = NOON + 2 * 3_600_000
    state.apply(batch("clock", [("scroll", "/", {})], later), later)  # closes them
    state.expire(later)
    assert all(m >= NOON + 3_600_000 for m in track.minutes)
    assert sessions_of(state.snapshot(NOON + 2 * 3_600_000)) == [500, 500, 0, 0, 0]
    state.expire(NOON + 2 * DAY_MS)
    assert track.days == {}
    # A session that left and came back after expiry is a new attempt.
    back = NOON + 2 * DAY_MS
    state.apply(batch("s1", HAPPY, back), back)
    assert sessions_of(state.snapshot(back)) == [1, 1, 1, 1, 1]
