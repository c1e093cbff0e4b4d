"""Traffic aggregates against a ground truth computed directly from generated sessions."""

from __future__ import annotations

import random
from collections import Counter
from functools import reduce
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.metrics.traffic import TrafficState
from stream.metrics.visits import referrer_host
from stream.sketches.uniques import EXACT_LIMIT, RELATIVE_ERROR
from stream.sketches.windows import DAY_MS, MINUTE_MS

T0 = 1_764_028_800_000  # a UTC midnight
NOON = T0 + DAY_MS // 2
SITE = "https://dojo.example"
URLS = ["/", "/events", "/events/42", "/learn/scratch", "/learn/python", "/about"]
REFERRERS = [
    "",
    "",
    "https://www.google.com/search?q=dojo",
    f"{SITE}/events",
    "https://news.example.org/item",
]
PASSIVE = {"page_view", "page_leave", "web_vital", "scroll"}


def event(
    kind: str, ts: int, sid: str, url: str = "/", ref: str = "", **props: Any
) -> dict[str, Any]:
    return {
        "event_id": f"e{ts}{kind}",
        "type": kind,
        "ts": ts,
        "session_id": sid,
        "url": url,
        "props": props,
        "referrer": ref,
    }


def batch(
    sid: str,
    visitor: str,
    events: list[dict[str, Any]],
    device: str = "desktop",
    received_at: int | None = None,
) -> dict[str, Any]:
    received = events[-1]["ts"] if received_at is None else received_at
    return {
        "session_id": sid,
        "visitor_id": visitor,
        "device": device,
        "received_at": received,
        "events": events,
    }


def simulate(rng: random.Random, sessions: int, start: int, span_ms: int) -> list[dict[str, Any]]:
    """Batches of random sessions, in arrival order."""
    out = []
    for n in range(sessions):
        sid = f"session-{n:05d}-{rng.randrange(10**6)}"
        visitor = f"visitor-{rng.randrange(max(1, sessions // 2))}"
        device = rng.choice(["mobile", "tablet", "desktop", "unknown"])
        ts = start + rng.randrange(span_ms)
        events = []
        for i in range(rng.randint(1, 8)):
            kind = (
                "page_view"
                if i == 0
                else rng.choice(
                    [
                        "page_view",
                        "page_view",
                        "scroll",
                        "page_leave",
                        "click",
                        "web_vital",
                        "conversion",
                    ]
                )
            )
            ref = rng.choice(REFERRERS) if i == 0 else ""
            events.append(event(kind, ts, sid, rng.choice(URLS), ref))
            ts += rng.randrange(1, 40_000)
        i = 0
        while i < len(events):
            size = rng.randint(1, 4)
            chunk = events[i : i + size]
            out.append(batch(sid, visitor, chunk, device, chunk[-1]["ts"] + rng.randrange(2000)))
            i += size
    out.sort(key=lambda b: b["received_at"])
    return out


def truth(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """What the snapshot must say, computed the slow obvious way."""
    events = [(b, e) for b in batches for e in b["events"]]
    views = [e for _, e in events if e["type"] == "page_view"]
    by_session: dict[str, list[dict[str, Any]]] = {}
    devices: dict[str, str] = {}
    for b, e in events:
        by_session.setdefault(b["session_id"], []).append(e)
        devices.setdefault(b["session_id"], b["device"])
    entries: Counter[str] = Counter()
    refs: Counter[str] = Counter()
    bounces = 0
    for evs in by_session.values():
        pvs = [e for e in evs if e["type"] == "page_view"]
        if pvs:
            entries[pvs[0]["url"]] += 1
        first_ref = pvs[0]["referrer"] if pvs else ""
        host = first_ref.split("/")[2] if first_ref else ""
        if host and host != "dojo.example":
            refs[host] += 1
        if len(pvs) == 1 and all(e["type"] in PASSIVE for e in evs):
            bounces += 1
    return {
        "views": len(views),
        "visitors": len({b["visitor_id"] for b in batches}),
        "sessions": len(by_session),
        "bounce_rate": bounces / len(by_session),
        "pages": Counter(e["url"] for e in views),
        "entries": entries,
        "referrers": refs,
        "devices": Counter(devices.values()),
        "per_minute": Counter(e["ts"] - e["ts"] % MINUTE_MS for e in views),
    }


def build(batches: list[dict[str, Any]], **kw: Any) -> TrafficState:
    state = TrafficState(site_hosts=[SITE], lateness_ms=kw.pop("lateness_ms", DAY_MS), **kw)
    for b in batches:
        state.apply(b, b["received_at"])
    return state


def test_matches_ground_truth() -> None:
    rng = random.Random(1)
    batches = simulate(rng, 400, NOON - 50 * MINUTE_MS, 45 * MINUTE_MS)
    now = NOON
    snap = build(batches).snapshot(now)
    want = truth(batches)
    today = snap["today"]
    assert (today["views"], today["visitors"], today["sessions"]) == (
        want["views"],
        want["visitors"],
        want["sessions"],
    )
    assert today["bounce_rate"] == want["bounce_rate"]
    assert snap["last_hour"] == {k: today[k] for k in ("views", "visitors", "sessions")}
    assert {p["url"]: p["views"] for p in snap["top_pages"]} == dict(want["pages"])
    assert {p["url"]: p["sessions"] for p in snap["entry_pages"]} == dict(want["entries"])
    assert {r["host"]: r["sessions"] for r in snap["referrers"]} == dict(want["referrers"])
    assert snap["devices"] == {
        k: want["devices"].get(k, 0) for k in ("mobile", "tablet", "desktop", "unknown")
    }
    assert dict((m, v) for m, v in snap["views_per_minute"] if v) == dict(want["per_minute"])
    assert len(snap["views_per_minute"]) == 60
    assert snap["views_per_minute"][-1][0] == snap["window"]["start"] == NOON
    assert snap["late"] == 0


def test_last_five_minutes_and_active_visitors() -> None:
    s = TrafficState(site_hosts=[SITE])
    s.apply(
        batch("old-session", "v-old", [event("page_view", NOON - 10 * MINUTE_MS, "old-session")]),
        NOON,
    )
    s.apply(
        batch(
            "new-session",
            "v-new",
            [
                event("page_view", NOON - 2 * MINUTE_MS, "new-session"),
                event("page_view", NOON - MINUTE_MS, "new-session"),
            ],
        ),
        NOON,
    )
    snap = s.snapshot(NOON)
    assert snap["last_5m"] == {"views": 2, "visitors": 1, "sessions": 1}
    assert snap["active_visitors"] == 1
    assert snap["today"]["views"] == 3


def test_bounce_rule() -> None:
    s = TrafficState()
    sid = "bouncing-1"
    s.apply(batch(sid, "v1", [event("page_view", NOON, sid), event("scroll", NOON + 1, sid)]), NOON)
    assert s.snapshot(NOON)["today"]["bounce_rate"] == 1.0
    s.apply(
        batch(sid, "v1", [event("page_leave", NOON + 5, sid), event("web_vital", NOON + 6, sid)]),
        NOON,
    )
    assert s.snapshot(NOON)["today"]["bounce_rate"] == 1.0
    s.apply(batch(sid, "v1", [event("click", NOON + 9, sid)]), NOON)
    assert s.snapshot(NOON)["today"]["bounce_rate"] == 0.0
    other = "two-pages-1"
    s.apply(
        batch(other, "v2", [event("page_view", NOON, other), event("page_view", NOON + 1, other)]),
        NOON,
    )
    assert s.snapshot(NOON)["today"]["bounce_rate"] == 0.0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 5), st.integers(1, 80))
def test_merge_of_partitions_equals_one_state(seed: int, partitions: int, sessions: int) -> None:
    rng = random.Random(seed)
    batches = simulate(rng, sessions, NOON - 2 * 3_600_000, 3 * 3_600_000)
    parts: list[list[dict[str, Any]]] = [[] for _ in range(partitions)]
    for b in batches:  # keyed by session, like the topic
        parts[hash(b["session_id"]) % partitions].append(b)
    merged = reduce(TrafficState.merge, [build(p) for p in parts])
    whole = build(batches)
    shown = reduce(lambda a, b: a.merge(b, sessions=False), [build(p) for p in parts])
    for now in (NOON, NOON + 3_600_000):
        assert merged.snapshot(now) == whole.snapshot(now)
        assert merged.windows(now) == whole.windows(now)
        assert shown.snapshot(now) == whole.snapshot(now)
    assert merged.sessions.keys() == whole.sessions.keys()


def test_round_trip_keeps_snapshot_and_sessions() -> None:
    batches = simulate(random.Random(3), 200, NOON - 30 * MINUTE_MS, 30 * MINUTE_MS)
    state = build(batches[:300])
    back = TrafficState.from_bytes(state.to_bytes())
    assert back.snapshot(NOON) == state.snapshot(NOON)
    assert back.windows(NOON) == state.windows(NOON)
    # Session facts survive too: the rest of the stream lands the same on both.
    for b in batches[300:]:
        state.apply(b, NOON)
        back.apply(b, NOON)
    assert back.snapshot(NOON) == state.snapshot(NOON)


def test_late_event_counts_for_the_day_not_the_closed_minute() -> None:
    s = TrafficState(lateness_ms=30_000)
    s.apply(
        batch("sess-late1", "v", [event("page_view", NOON + 5 * MINUTE_MS, "sess-late1")]), NOON
    )
    # Its minute (NOON .. NOON+1m) closed when the watermark passed NOON+1m.
    s.apply(
        batch(
            "sess-late1",
            "v",
            [event("page_view", NOON + 10, "sess-late1")],
            received_at=NOON + 5 * MINUTE_MS,
        ),
        NOON,
    )
    # Still open: the current minute.
    s.apply(
        batch("sess-late1", "v", [event("page_view", NOON + 5 * MINUTE_MS + 1, "sess-late1")]), NOON
    )
    snap = s.snapshot(NOON + 5 * MINUTE_MS)
    assert snap["late"] == 1
    assert snap["today"]["views"] == 3
    per_minute = dict((m, v) for m, v in snap["views_per_minute"])
    assert per_minute[NOON] == 0
    assert per_minute[NOON + 5 * MINUTE_MS] == 2
    records = s.windows(NOON + 5 * MINUTE_MS)
    assert [(r["window_start"], r["views"], r["closed"]) for r in records] == [
        (NOON + 5 * MINUTE_MS, 2, False)
    ]


def test_windows_close_as_the_watermark_passes() -> None:
    s = TrafficState(lateness_ms=30_000)
    s.apply(batch("sess-win1", "v", [event("page_view", NOON, "sess-win1")]), NOON)
    s.apply(batch("sess-win1", "v", [event("page_view", NOON + 95_000, "sess-win1")]), NOON)
    records = s.windows(NOON + 95_000)
    assert [(r["window_start"], r["window_end"], r["closed"]) for r in records] == [
        (NOON, NOON + MINUTE_MS, True),
        (NOON + MINUTE_MS, NOON + 2 * MINUTE_MS, False),
    ]
    assert records[0]["visitors"] == records[0]["sessions"] == 1


def test_expire_never_changes_todays_numbers() -> None:
    batches = simulate(random.Random(5), 300, T0 - 3 * 3_600_000, 6 * 3_600_000)
    state = build(batches)
    for now in (T0 + 2 * 3_600_000, T0 + 10 * 3_600_000):
        before = state.snapshot(now)
        state.expire(now)
        assert state.snapshot(now) == before
    assert state.sessions == {}  # all idle by then
    # A day's lateness keeps every minute open: an open minute is never dropped (it would
    # come back holding only later events, and its history record would shrink).
    assert min(state.minutes) < T0 - 3_600_000
    assert not any(state.clock.is_closed(m) for m in state.minutes)


def test_expire_drops_closed_minutes_before_the_hour_only() -> None:
    batches = simulate(random.Random(5), 300, T0 - 3 * 3_600_000, 6 * 3_600_000)
    state = build(batches, lateness_ms=2 * MINUTE_MS)
    held = set(state.minutes)
    state.expire(T0 + 2 * 3_600_000)
    assert min(state.minutes) >= T0 - 3_600_000
    assert set(state.minutes) == {m for m in held if m >= T0 - 3_600_000}


def test_url_cap_folds_into_other() -> None:
    s = TrafficState(max_urls=3)
    evs = [event("page_view", NOON + i, "sess-cap01", f"/p{i % 5}") for i in range(10)]
    s.apply(batch("sess-cap01", "v", evs), NOON)
    pages = {p["url"]: p["views"] for p in s.snapshot(NOON)["top_pages"]}
    assert pages == {"/p0": 2, "/p1": 2, "/p2": 2, "(other)": 4}
    assert sum(pages.values()) == s.snapshot(NOON)["today"]["views"]


def test_referrer_hosts() -> None:
    own = frozenset({"dojo.example"})
    assert referrer_host("https://WWW.Google.com:443/search?q=x", own) == "www.google.com"
    assert referrer_host("https://dojo.example/events", own) == ""
    assert referrer_host("/relative/path", own) == ""
    assert referrer_host("", own) == ""
    assert TrafficState(site_hosts=["https://dojo.example:8443"]).site_hosts == own


def test_counts_past_the_exact_limit_stay_within_stated_error() -> None:
    n = EXACT_LIMIT + 4000
    s = TrafficState()
    for i in range(n):
        sid = f"session-{i:07d}"
        s.apply(batch(sid, f"visitor-{i}", [event("page_view", NOON + i, sid)]), NOON)
    today = s.snapshot(NOON + n)["today"]
    assert today["views"] == n
    for key in ("visitors", "sessions"):
        assert abs(today[key] - n) <= 3 * RELATIVE_ERROR * n
    back = TrafficState.from_bytes(s.to_bytes())
    assert back.snapshot(NOON + n) == s.snapshot(NOON + n)
