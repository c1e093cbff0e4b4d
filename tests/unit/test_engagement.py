"""Engagement scores and the prequential conversion model."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from stream.learning.engagement import Engagement
from stream.learning.learners import check_resume
from stream.learning.live_scores import TOP_SESSIONS
from stream.learning.scoring import engagement_score, page_kind
from tests.unit.visit_batches import MINUTE, T0, batch, event, page


def session_batches(i: int, rng: random.Random) -> tuple[int, list[dict[str, Any]]]:
    """Session ``i``: keen visitors click and start a form on page one, then mostly register."""
    start = T0 + i * 20_000
    sid, vid = f"session{i:05d}", f"visitor{i % 400:04d}"
    keen = rng.random() < 0.35
    first = [event("page_view", start, "/events/robot-rally")]
    if keen:
        first += [event("click", start + 1000, "/events/robot-rally", x=0.5, y=0.5,
                        viewport_w=800, viewport_h=600)] * 3  # fmt: skip
        first.append(event("form_start", start + 2000, "/events/robot-rally", form_id="r"))
    first.append(event("page_leave", start + 40_000, "/events/robot-rally",
                       dwell_ms=40_000, scroll_depth=0.9 if keen else 0.2))  # fmt: skip
    second = page(start + 41_000, "/events/robot-rally/register")
    converts = rng.random() < (0.8 if keen else 0.05)
    if converts:
        second.append(event("registration", start + 50_000, "/events/robot-rally/register",
                            dwell_ms=1, dojo_event_id="dj-1", tickets=1))  # fmt: skip
    return start, [batch(sid, vid, first), batch(sid, vid, second)]


def feed(engagement: Engagement, sessions: range, seed: int = 7) -> int:
    rng = random.Random(seed)
    last = T0
    for i in sessions:
        for b in session_batches(i, rng)[1]:
            last = max(last, b["received_at"])
            engagement.apply(b, b["received_at"])
    return last


def test_score_is_the_documented_squashed_weighted_sum() -> None:
    assert engagement_score({}) == 0.0
    assert engagement_score({"pages": 3}) == pytest.approx(100 * (1 - math.exp(-1.05 / 3)), 0.01)
    assert engagement_score({"pages": 1000, "goals": 50}) <= 100.0
    assert engagement_score({"pages": 2}) < engagement_score({"pages": 2, "downloads": 1})


def test_page_kinds() -> None:
    assert [page_kind(u) for u in ("/", "/events", "/events/x", "/blog/y?a=1", "/about")] == [
        "home", "events", "event", "post", "other"]  # fmt: skip


def test_counts_decay_with_event_time() -> None:
    engagement = Engagement(half_life_ms=5 * MINUTE)
    views = [event("page_view", T0, "/"), event("page_view", T0 + 1000, "/events")]
    fresh = engagement.apply(batch("fresh-session", "v1", views), T0 + 1000)[0]
    later = [event("page_view", T0, "/"), event("page_view", T0 + 20 * MINUTE, "/events")]
    stale = engagement.apply(batch("stale-session", "v2", later), T0 + 20 * MINUTE)[0]
    # Same two views, but the first one is four half-lives old in the stale session.
    assert stale["score"] < fresh["score"]
    assert stale["score"] == engagement_score({"pages": 1 + 1 / 16})


def test_records_carry_score_and_probability() -> None:
    engagement = Engagement()
    records = engagement.apply(batch("session-a1", "v1", page(T0, "/")), T0 + 30_000)
    expected = {"visitor_id": "v1", "session_id": "session-a1", "score": records[0]["score"],
                "p_convert": 0.5, "ts": T0 + 30_000}  # fmt: skip
    assert records == [expected]
    assert 0 < records[0]["score"] < 100


def test_sessions_are_labelled_once_when_they_close() -> None:
    engagement = Engagement()
    last = feed(engagement, range(10))
    assert engagement.quality()["n"] == 0  # nothing closed yet: labels wait for the timeout
    assert engagement.expire(last + 30 * MINUTE) == 10
    assert engagement.quality()["n"] == 10
    assert engagement.expire(last + 90 * MINUTE) == 0
    assert engagement.quality()["n"] == 10


def test_model_learns_to_beat_the_constant_rate_baseline() -> None:
    engagement = Engagement()
    last = feed(engagement, range(1500))
    engagement.expire(last + 31 * MINUTE)
    quality = engagement.quality()
    assert quality["n"] == 1500
    assert quality["auc"] > quality["baseline_auc"] + 0.2
    assert quality["logloss"] < quality["baseline_logloss"]
    snapshot = engagement.snapshot(last + 31 * MINUTE)
    assert snapshot["quality_over_time"][-1][1] == quality["auc"]


def test_prediction_is_frozen_before_the_goal_so_it_never_sees_it() -> None:
    engagement = Engagement()
    feed(engagement, range(400))
    engagement.expire(T0 + 400 * 20_000 + 31 * MINUTE)
    now = T0 + 10**7
    # Converts on its first page, before any leave: prediction must be made without the goal.
    goal_first = [event("page_view", now, "/"), event("conversion", now + 5000, "/", goal="nl")]
    engagement.apply(batch("session-goal", "fresh-visitor", goal_first), now + 5000)
    plain = [event("page_view", now, "/"), event("page_leave", now + 5000, "/",
                                                 dwell_ms=5000, scroll_depth=0.0)]  # fmt: skip
    engagement.apply(batch("session-none", "other-visitor", plain), now + 5000)
    frozen = {s: engagement.frozen(s) for s in ("session-goal", "session-none")}
    assert frozen["session-goal"] is not None
    assert not any("goal" in k or "conversion" in k for k in frozen["session-goal"])
    assert frozen["session-goal"] == frozen["session-none"]


def test_snapshot_shape() -> None:
    engagement = Engagement()
    last = feed(engagement, range(60))
    snapshot = engagement.snapshot(last)
    assert sum(snapshot["score_histogram"]) == 60
    by_area = snapshot["score_by_area"]
    assert set(by_area) == {"events", "resources", "blog", "info"}
    assert sum(sum(bins) for bins in by_area.values()) == 60
    assert all(len(bins) == 5 for bins in by_area.values())
    top = snapshot["active_sessions"]
    assert len(top) == 20
    assert [s["score"] for s in top] == sorted((s["score"] for s in top), reverse=True)
    assert set(top[0]) == {"session", "score", "p_convert"}
    assert snapshot["quality"]["n"] == 0


def test_checkpoint_resumes_exactly() -> None:
    end = T0 + 2000 * 20_000 + 31 * MINUTE

    def probe(e: Engagement) -> dict[str, Any]:
        e.expire(end)
        return {"quality": e.quality(), "p": e.apply(batch("probe-session", "vx", page(end, "/")),
                                                      end + 30_000)}  # fmt: skip

    check_resume(
        Engagement, lambda e: feed(e, range(0, 1000)), lambda e: feed(e, range(1000, 2000)), probe
    )


def test_scores_by_area_bin_each_live_session_by_its_first_page() -> None:
    engagement = Engagement()
    for sid, url in (("a", "/events/x"), ("b", "/blog/p"), ("c", "/contact"), ("d", "/resources")):
        view = {"type": "page_view", "ts": T0, "url": url, "referrer": "", "props": {}}
        engagement.apply({"session_id": sid, "visitor_id": sid, "device": "mobile",
                          "events": [view]}, T0)  # fmt: skip
    by_area = engagement.snapshot(T0)["score_by_area"]
    assert by_area == {"events": [1, 0, 0, 0, 0], "resources": [1, 0, 0, 0, 0],
                       "blog": [1, 0, 0, 0, 0], "info": [1, 0, 0, 0, 0]}  # fmt: skip


def test_the_top_sessions_are_the_first_of_the_full_sort_whatever_the_order_of_arrival() -> None:
    # Hostile: equal scores (ties broken by session id), more sessions than shown, shuffled.
    rng = random.Random(11)
    engagement = Engagement()
    scores = [rng.choice([0.0, 12.5, 50.0, 99.0]) for _ in range(60)]
    order = list(range(60))
    rng.shuffle(order)
    now = 1_795_000_000_000
    for n in order:
        engagement.apply({"session_id": f"s{n:02d}", "visitor_id": f"v{n}", "device": "mobile",
                          "events": []}, now)  # fmt: skip
        engagement._sessions[f"s{n:02d}"].score = scores[n]
    expected = sorted(range(60), key=lambda n: (-scores[n], f"s{n:02d}"))[:TOP_SESSIONS]
    shown = engagement.snapshot(now)["active_sessions"]
    assert [row["session"] for row in shown] == [f"s{n:02d}" for n in expected]
    assert [row["score"] for row in shown] == [scores[n] for n in expected]
