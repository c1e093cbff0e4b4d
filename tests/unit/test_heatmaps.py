"""Heatmaps: grid cells, viewport classes, scroll reach, rage and dead clicks, merge, bounds."""

from __future__ import annotations

import random
from functools import reduce
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.metrics.heatmap_pages import GRID
from stream.metrics.heatmaps import HeatmapsState, viewport_class
from stream.sketches.windows import DAY_MS, MINUTE_MS

T0 = 1_764_028_800_000  # a UTC midnight
NOON = T0 + DAY_MS // 2
IDLE = 30 * MINUTE_MS


def click(ts: int, x: float, y: float, url: str = "/", w: int = 1280) -> dict[str, Any]:
    props = {"x": x, "y": y, "viewport_w": w, "viewport_h": 800}
    return {"type": "click", "ts": ts, "url": url, "props": props}


def ev(kind: str, ts: int, url: str = "/", **props: Any) -> dict[str, Any]:
    return {"type": kind, "ts": ts, "url": url, "props": props}


def batch(sid: str, events: list[dict[str, Any]], device: str = "desktop") -> dict[str, Any]:
    full = [
        {"event_id": f"{sid}-{i}", "session_id": sid, "referrer": "", **e}
        for i, e in enumerate(events)
    ]
    return {
        "session_id": sid,
        "visitor_id": "v" + sid,
        "device": device,
        "received_at": full[-1]["ts"],
        "events": full,
    }


def test_viewport_classes() -> None:
    assert [viewport_class(w) for w in (320, 767, 768, 1199, 1200, 2560)] == [
        "mobile",
        "mobile",
        "tablet",
        "tablet",
        "desktop",
        "desktop",
    ]


def test_clicks_land_in_grid_cells() -> None:
    state = HeatmapsState()
    events = [
        ev("page_view", NOON),
        click(NOON + 10, 0.0, 0.0),
        click(NOON + 20, 1.0, 1.0),
        click(NOON + 30, 0.51, 0.26),
        click(NOON + 40, 0.5, 0.5, w=400),
    ]
    state.apply(batch("a", events), NOON)
    desktop = state.heatmap("/", "desktop", NOON)
    grid = desktop["grid"]
    assert len(grid) == GRID and all(len(row) == GRID for row in grid)
    assert grid[0][0] == 1 and grid[GRID - 1][GRID - 1] == 1 and grid[5][10] == 1
    assert desktop["clicks"] == sum(map(sum, grid)) == 3
    mobile = state.heatmap("/", "mobile", NOON)
    assert mobile["clicks"] == 1 and mobile["grid"][10][10] == 1
    assert state.heatmap("/nowhere", "desktop")["clicks"] == 0
    snap = state.snapshot(NOON)
    assert [(p["url"], p["viewport"], p["clicks"]) for p in snap["pages"]] == [
        ("/", "desktop", 3),
        ("/", "mobile", 1),
    ]
    assert snap["total_clicks"] == 4


def test_scroll_reach_per_page_view() -> None:
    state = HeatmapsState()
    state.apply(
        batch(
            "a",
            [
                ev("page_view", NOON, "/p"),
                ev("scroll", NOON + 1, "/p", depth=0.25),
                ev("scroll", NOON + 2, "/p", depth=0.5),
                ev("page_leave", NOON + 3, "/p", dwell_ms=3, scroll_depth=0.8),
            ],
        ),
        NOON,
    )
    state.apply(
        batch(
            "b",
            [
                ev("page_view", NOON, "/p"),
                ev("page_leave", NOON + 9, "/p", dwell_ms=9, scroll_depth=1.0),
            ],
        ),
        NOON,
    )
    state.apply(
        batch(
            "c",
            [
                ev("page_view", NOON, "/p"),
                ev("scroll", NOON + 1, "/q", depth=1.0),
                ev("page_view", NOON + 2, "/q"),
            ],
        ),
        NOON,
    )
    page = state.heatmap("/p", "desktop", NOON)
    assert page["views"] == 3
    assert page["scroll_reach"] == {"25": 2 / 3, "50": 2 / 3, "75": 2 / 3, "100": 1 / 3}


def test_page_views_take_the_sessions_click_viewport() -> None:
    state = HeatmapsState()
    events = [
        ev("page_view", NOON, "/a"),
        click(NOON + 5, 0.1, 0.1, "/a", w=900),
        ev("page_view", NOON + 3000, "/b"),
    ]
    state.apply(batch("a", events, device="mobile"), NOON)
    assert state.heatmap("/a", "mobile", NOON)["views"] == 1  # from the device class
    assert state.heatmap("/b", "tablet", NOON)["views"] == 1  # from the click's viewport


def test_rage_click_bursts_count_once() -> None:
    state = HeatmapsState()
    burst = [click(NOON + i * 200, 0.40 + i * 0.005, 0.30) for i in range(6)]
    slow = [click(NOON + 10_000 + i * 1100, 0.7, 0.7) for i in range(3)]  # too slow
    wide = [click(NOON + 20_000 + i * 100, 0.1 + i * 0.2, 0.9) for i in range(3)]  # too far
    again = [click(NOON + 30_000 + i * 100, 0.405, 0.305) for i in range(3)]
    state.apply(batch("a", [ev("page_view", NOON - 1), *burst, *slow, *wide, *again]), NOON)
    # Two sessions clicking once each at the same spot are not one visitor's rage.
    for sid in "bcd":
        state.apply(batch(sid, [click(NOON, 0.9, 0.9)]), NOON)
    page = state.heatmap("/", "desktop", NOON)
    assert page["rage_clicks"] == 2
    assert page["rage"] == [{"x": (8 + 0.5) / GRID, "y": (6 + 0.5) / GRID, "count": 2}]


def test_rage_clicks_need_the_same_page() -> None:
    state = HeatmapsState()
    events = [
        click(NOON, 0.5, 0.5, "/a"),
        click(NOON + 100, 0.5, 0.5, "/b"),
        click(NOON + 200, 0.5, 0.5, "/a"),
    ]
    state.apply(batch("a", events), NOON)
    assert state.heatmap("/a", "desktop", NOON)["rage_clicks"] == 0


def test_dead_clicks() -> None:
    state = HeatmapsState()
    events = [
        ev("page_view", NOON),
        click(NOON + 1000, 0.1, 0.1),  # a page view follows within 1 s: alive
        ev("page_view", NOON + 1900, "/next"),
        click(NOON + 3000, 0.2, 0.2, "/next"),  # only a page_leave and a late scroll: dead
        ev("page_leave", NOON + 3500, "/next", dwell_ms=1, scroll_depth=0.0),
        ev("scroll", NOON + 4001, "/next", depth=0.25),
        click(NOON + 5000, 0.3, 0.3, "/next"),  # a form event answers it: alive
        ev("form_start", NOON + 5100, "/next", form_id="contact"),
        click(NOON + 6000, 0.6, 0.6, "/next"),  # nothing after it: dead once the session ends
    ]
    state.apply(batch("a", events), NOON)
    assert state.heatmap("/", "desktop", NOON)["dead_clicks"] == 0
    page = state.heatmap("/next", "desktop", NOON)
    assert page["dead"] == [{"x": 0.225, "y": 0.225, "count": 1}]
    state.expire(NOON + 6000 + IDLE - 1)
    assert state.heatmap("/next", "desktop", NOON)["dead_clicks"] == 1
    state.expire(NOON + 6000 + IDLE)
    page = state.heatmap("/next", "desktop", NOON)
    assert page["dead_clicks"] == 2
    assert {(d["x"], d["y"]) for d in page["dead"]} == {(0.225, 0.225), (0.625, 0.625)}


def session(rng: random.Random, sid: str) -> list[dict[str, Any]]:
    ts = NOON + rng.randrange(10 * MINUTE_MS)
    out = []
    for _ in range(rng.randint(1, 12)):
        ts += rng.choice([50, 300, 900, 1500, 4000])
        url = rng.choice(["/", "/a", "/b"])
        kind = rng.choice(["click", "click", "click", "page_view", "scroll", "page_leave"])
        if kind == "click":
            out.append(click(ts, rng.random(), rng.random(), url, rng.choice([400, 900, 1400])))
        elif kind == "page_view":
            out.append(ev(kind, ts, url))
        elif kind == "scroll":
            out.append(ev(kind, ts, url, depth=rng.choice([0.25, 0.5, 0.75, 1.0])))
        else:
            out.append(ev(kind, ts, url, dwell_ms=5, scroll_depth=rng.random()))
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), parts=st.integers(1, 4))
def test_merge_of_disjoint_partitions_equals_all_in_one(seed: int, parts: int) -> None:
    rng = random.Random(seed)
    one = HeatmapsState()
    split = [HeatmapsState() for _ in range(parts)]
    clicks = 0
    for n in range(20):
        events = session(rng, f"s{n}")
        clicks += sum(e["type"] == "click" for e in events)
        cut = rng.randrange(1, len(events) + 1)
        for chunk in (events[:cut], events[cut:]):
            if chunk:
                b = batch(f"s{n}", chunk, rng.choice(["mobile", "desktop", "unknown"]))
                one.apply(b, b["received_at"])
                split[n % parts].apply(b, b["received_at"])
    now = NOON + 20 * MINUTE_MS
    merged = reduce(lambda a, b: a.merge(b), split)
    assert merged.snapshot(now) == one.snapshot(now)
    assert one.snapshot(now)["total_clicks"] == clicks
    later = now + 2 * IDLE
    for state in (one, merged):
        state.expire(later)
    assert merged.snapshot(later) == one.snapshot(later)


def test_checkpoint_round_trip_keeps_pending_clicks() -> None:
    state = HeatmapsState()
    burst = [ev("page_view", NOON)] + [click(NOON + 10 + i * 100, 0.5, 0.5) for i in range(2)]
    state.apply(batch("a", burst), NOON)
    back = HeatmapsState.from_bytes(state.to_bytes())
    assert back.snapshot(NOON) == state.snapshot(NOON)
    for s in (state, back):
        s.apply(
            batch("a", [click(NOON + 300, 0.5, 0.5), ev("scroll", NOON + 5000, depth=0.5)]), NOON
        )
    assert back.snapshot(NOON) == state.snapshot(NOON)
    page = back.heatmap("/", "desktop", NOON)
    assert page["rage_clicks"] == 1 and page["dead_clicks"] == 3


def test_pages_are_capped_and_old_days_dropped() -> None:
    state = HeatmapsState(max_pages=10)
    for n in range(50):
        state.apply(batch(f"s{n}", [click(NOON + n, 0.5, 0.5, f"/p{n}")]), NOON)
    assert len(state.days[T0]) == 11  # ten pages and the overflow
    snap = state.snapshot(NOON)
    assert len(snap["pages"]) == 10
    assert snap["overflow"]["clicks"] == 40 and snap["total_clicks"] == 50
    assert sum(p["grid"] is not None for p in snap["pages"]) == 10
    state.expire(NOON + 2 * DAY_MS)
    assert state.days == {} and state.tabs == {}


JUNK = [
    "/<img src=x onerror=alert(1)>",
    "/%00%ff",
    "/\u202eexe.gpj",
    "/" + "a" * 2000,
    "/🙈",
    "/?q='; DROP TABLE pages;--",
]


def junk_url(n: int) -> str:
    return f"{JUNK[n % len(JUNK)]}/{n}"


def flood(state: HeatmapsState, first: int, count: int, ts: int = NOON) -> None:
    """``count`` junk urls, each clicked once by a session of its own."""
    for n in range(first, first + count):
        state.apply(batch(f"junk{n}", [click(ts + n % 1000, 0.9, 0.9, junk_url(n))]), ts)


def real_visits(state: HeatmapsState, sessions: int, ts: int = NOON) -> None:
    """``sessions`` visits of ``/events/spring``: a view and two clicks each."""
    for n in range(sessions):
        events = [
            ev("page_view", ts + n, "/events/spring"),
            click(ts + n + 10, 0.5, 0.25, "/events/spring"),
            click(ts + n + 20, 0.5, 0.75, "/events/spring"),
        ]
        state.apply(batch(f"real{n}", events), ts)


def test_junk_urls_seen_first_cannot_crowd_out_a_page_that_keeps_being_viewed() -> None:
    state = HeatmapsState()  # the production cap: 1,000 pages a day
    flood(state, 0, 1500)
    real_visits(state, 40)
    flood(state, 1500, 1500)  # and the junk keeps coming
    snap = state.snapshot(NOON)
    top = snap["pages"][0]
    assert (top["url"], top["viewport"]) == ("/events/spring", "desktop")
    assert top["clicks"] == 80 and top["views"] == 40
    assert top["grid"][5][10] == 40 and top["grid"][15][10] == 40
    assert snap["total_clicks"] == 3000 + 80  # nothing lost: evicted pages count as overflow
    assert snap["overflow"]["clicks"] == 3000 + 80 - sum(p["clicks"] for p in state_pages(state))
    assert len(state.days[T0]) == 1000 + 1  # the cap and the overflow


def state_pages(state: HeatmapsState) -> list[dict[str, Any]]:
    return [
        state.heatmap(key.split("\t", 1)[1], key.split("\t", 1)[0], NOON)
        for key in state.days[T0]
        if key != "(other)"
    ]


def test_a_page_seen_twice_outlives_any_number_of_pages_seen_once() -> None:
    state = HeatmapsState(max_pages=10)
    state.apply(
        batch("r", [ev("page_view", NOON, "/join"), ev("page_view", NOON + 1, "/join")]), NOON
    )
    flood(state, 0, 500)
    assert state.heatmap("/join", "desktop", NOON)["views"] == 2
    # Among pages seen once, the longest held goes first: the newest junk is still there.
    assert state.heatmap(junk_url(499), "desktop", NOON)["clicks"] == 1
    assert state.heatmap(junk_url(0), "desktop", NOON)["clicks"] == 0


def test_eviction_survives_a_checkpoint_and_keeps_dead_clicks_and_scrolls_counted() -> None:
    state = HeatmapsState(max_pages=5)
    # A click nothing answers, and a view whose scroll comes after its page was evicted.
    state.apply(batch("a", [click(NOON, 0.1, 0.1, "/lonely")]), NOON)
    state.apply(batch("b", [ev("page_view", NOON, "/long-read")]), NOON)
    flood(state, 0, 20)
    back = HeatmapsState.from_bytes(state.to_bytes())
    for s in (state, back):
        real_visits(s, 3)
        s.apply(batch("b", [ev("scroll", NOON + 5000, "/long-read", depth=1.0)]), NOON)
        s.expire(NOON + IDLE + 10_000)
    assert back.snapshot(NOON) == state.snapshot(NOON)
    assert back.snapshot(NOON)["pages"][0]["url"] == "/events/spring"
    overflow = back.days[T0]["(other)"]
    assert overflow.dead[2 * GRID + 2] == 1  # the lonely click, dead where its page went
    assert overflow.reach == [1, 1, 1, 1]  # the long read's scroll, with its view
    # 23 pages for 5 places: the lonely page, the long read and 16 junk pages went.
    assert (overflow.views, overflow.clicks) == (1, 1 + 16)


def test_merge_keeps_the_busiest_pages_of_both_partitions() -> None:
    left, right = HeatmapsState(max_pages=3), HeatmapsState(max_pages=3)
    flood(left, 0, 3)
    flood(right, 3, 3)
    real_visits(right, 2)
    merged = left.merge(right, sessions=False)
    snap = merged.snapshot(NOON)
    assert len(snap["pages"]) == 3 and snap["pages"][0]["url"] == "/events/spring"
    assert snap["total_clicks"] == 6 + 4
    assert snap["overflow"]["clicks"] == 4
