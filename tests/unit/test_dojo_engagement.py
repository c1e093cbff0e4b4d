"""Engaged sessions and returning visitors: exact against the simulator, by definition by hand."""

from __future__ import annotations

from functools import reduce
from typing import Any

import pytest

from stream.metrics.dojo import DojoState
from stream.metrics.dojo_engagement import INTERACTIONS, Engagement, area_of
from stream.sketches.windows import DAY_MS, MINUTE_MS
from tests.unit.test_dojo_metrics import NOW, START, batches, one, run, view  # noqa: F401 (fixture)

TODAY = START - START % DAY_MS


def test_sessions_visitors_and_returning_equal_the_truth(
    run: tuple[dict[str, Any], list[DojoState]],  # noqa: F811
) -> None:
    _, parts = run
    from dojo_pulse.simulation import generate

    _, truth = generate(5, rate=60, duration_s=600, start_ms=START)
    everything = truth.to_dict()
    merged = reduce(lambda a, b: a.merge(b), parts)
    today = merged.engagement.snapshot(NOW)["today"]
    assert today["sessions"] == everything["sessions"]
    assert today["visitors"] == everything["visitors"]
    assert today["returning"] == everything["sessions"] - everything["visitors"]
    by_area: dict[str, int] = {}
    for url, n in everything["entry_pages"].items():
        by_area[area_of(url)] = by_area.get(area_of(url), 0) + n
    assert {k: v["sessions"] for k, v in today["by_area"].items() if v["sessions"]} == by_area
    assert 0 < today["engaged"] == len(engaged_sessions(batches())) < today["sessions"]
    restored = reduce(lambda a, b: a.merge(b), [DojoState.from_bytes(p.to_bytes()) for p in parts])
    assert restored.engagement.snapshot(NOW) == merged.engagement.snapshot(NOW)
    tallied = sum(m.get("engaged", 0) for p in parts for m in p.minutes.values())
    assert tallied == today["engaged"]  # every engaged session in exactly one minute


def engaged_sessions(all_batches: list[dict[str, Any]]) -> set[str]:
    """The definition, again, over the simulated batches: 10 s, 2 pages or an interaction."""
    first: dict[str, int] = {}
    views: dict[str, int] = {}
    out = set()
    for b in all_batches:
        sid = b["session_id"]
        for e in b["events"]:
            if sid not in first and e["type"] != "page_view":
                continue
            first.setdefault(sid, e["ts"])
            views[sid] = views.get(sid, 0) + (e["type"] == "page_view")
            if views[sid] >= 2 or e["type"] in INTERACTIONS or e["ts"] - first[sid] > 10_000:
                out.add(sid)
    return out


def click(ts: int) -> dict[str, Any]:
    return {"type": "click", "ts": ts, "url": "/", "referrer": "", "props": {}}


def leave(ts: int, url: str) -> dict[str, Any]:
    return {"type": "page_leave", "ts": ts, "url": url, "referrer": "", "props": {}}


def test_engaged_means_over_ten_seconds_or_two_pages_or_an_interaction() -> None:
    state = Engagement()
    t = START
    state.apply(one("quick", t, view(t, "/blog/x"), leave(t + 10_000, "/blog/x")))  # 10 s: no
    state.apply(one("long", t, view(t, "/blog/y"), leave(t + 10_001, "/blog/y")))
    state.apply(one("two", t, view(t, "/events")))
    state.apply(one("two", t + 3, view(t + 3, "/events/scratch")))  # a later batch
    state.apply(one("clicks", t, view(t, "/resources/cards"), click(t + 1)))
    state.apply(one("bounce", t, view(t, "/about")))
    state.apply(one("noview", t, click(t)))  # no page view: not a session
    day = state.snapshot(NOW)["today"]
    assert (day["sessions"], day["engaged"]) == (5, 3)
    assert day["by_area"]["blog"] == {"sessions": 2, "engaged": 1, "engaged_rate": 0.5}
    assert day["by_area"]["events"]["engaged"] == 1 and day["by_area"]["info"]["engaged"] == 0
    assert day["engaged_rate"] == 0.6 and day["returning"] == 0


def test_a_visitors_second_session_of_the_day_is_returning() -> None:
    state = Engagement()
    for sid in ("a", "b", "c"):
        state.apply({"session_id": sid, "visitor_id": "same", "received_at": START,
                     "events": [view(START, "/")]})  # fmt: skip
    day = state.snapshot(NOW)["today"]
    assert (day["sessions"], day["visitors"], day["returning"]) == (3, 1, 2)
    assert day["returning_rate"] == round(2 / 3, 4)


def test_days_and_sessions_are_forgotten() -> None:
    state = Engagement()
    state.apply(one("s", START, view(START, "/")))
    state.expire(START + 31 * MINUTE_MS)
    assert state.live == {} and state.snapshot(NOW)["today"]["sessions"] == 1
    state.expire(START + 2 * DAY_MS)
    assert state.days == {} and state.visitors == {}
    assert state.snapshot(START + 2 * DAY_MS)["yesterday"]["sessions"] == 0


@pytest.mark.parametrize(
    ("url", "area"),
    [("/events/x", "events"), ("/events", "events"), ("/resources/a?b=1", "resources"),
     ("/blog/", "blog"), ("/", "info"), ("/about", "info"), ("/eventsx", "info"), ("", "info"),
     ("https://h/blog/p#x", "blog"), ("/%ZZ", "info"), ("//evil/events", "events")],
)  # fmt: skip
def test_areas_come_from_the_first_path_segment(url: str, area: str) -> None:
    assert area_of(url) == area


def test_a_version_1_checkpoint_restores_with_no_engagement() -> None:
    from stream.sketches import codec

    raw = {"events": {}, "curves": {}, "resources": {}, "hours": {}, "sources":
           {"entry": {}, "referrer": {}, "campaign": {}}, "minutes": {}, "sessions": {},
           "clock": DojoState().clock.to_list()}  # fmt: skip
    old = DojoState.from_bytes(codec.encode("dojo", 1, raw))
    assert old.engagement.snapshot(NOW)["today"]["sessions"] == 0
