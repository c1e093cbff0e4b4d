"""The engagement snapshot kept as scores move equals a pass over every live session."""

from __future__ import annotations

import pickle
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.learning.engagement import Engagement
from stream.learning.live_scores import TOP_SESSIONS, LiveScores
from stream.learning.scoring import content_area
from stream.metrics.dojo_engagement import AREAS
from tests.unit.visit_batches import MINUTE, T0, batch, event

URLS = ["/", "/events", "/events/robot-rally", "/resources/scratch", "/blog/post-1", "/about"]
KINDS = ["page_view", "page_leave", "scroll", "click", "form_start", "registration"]


def full_pass(engagement: Engagement, now_ms: int) -> dict[str, Any]:
    """The snapshot's three views as a pass over every live session computed them."""
    sessions = engagement._sessions  # what the learner holds, read as the old snapshot did
    live = [s for s in sessions.items() if now_ms - s[1].last_seen < engagement.timeout_ms]
    histogram = [0] * 10
    by_area = {area: [0] * 5 for area in AREAS}
    for _, session in live:
        histogram[min(int(session.score // 10), 9)] += 1
        by_area[content_area(session.entry)][min(int(session.score // 20), 4)] += 1
    live.sort(key=lambda item: (-item[1].score, item[0]))
    top = [{"session": sid, "score": s.score, "p_convert": round(s.p_convert, 4)}
           for sid, s in live[:TOP_SESSIONS]]  # fmt: skip
    return {"score_histogram": histogram, "score_by_area": by_area, "active_sessions": top}


def shown(engagement: Engagement, now_ms: int) -> dict[str, Any]:
    snapshot = engagement.snapshot(now_ms)
    return {k: snapshot[k] for k in ("score_histogram", "score_by_area", "active_sessions")}


def random_batch(rng: random.Random, sid: str, ts: int) -> dict[str, Any]:
    events = []
    for _ in range(rng.randint(1, 6)):
        kind = rng.choice(KINDS)
        props = {"depth": rng.choice([0.0, 0.5, 1.0])} if kind == "scroll" else {}
        events.append(event(kind, ts, rng.choice(URLS), **props))
        ts += rng.randrange(0, 90_000)
    return batch(sid, f"v-{sid}", events, rng.choice(["mobile", "desktop"]))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(5, 80), st.booleans())
def test_the_kept_view_equals_a_pass_over_every_live_session(
    seed: int, sessions: int, restore_old: bool
) -> None:
    # Hostile: sessions come back after long gaps (some close, some go idle without
    # closing), scores tie, entry pages change areas, and the state is restored mid-way
    # from a checkpoint with the view and from one written before the view existed.
    rng = random.Random(seed)
    engagement = Engagement()
    now = T0
    for step in range(sessions * 3):
        now += rng.choice([0, 1_000, 60_000, 10 * MINUTE, 31 * MINUTE])
        sid = f"s{rng.randrange(sessions):03d}"
        engagement.apply(random_batch(rng, sid, now), now)
        if step % 17 == 0:
            later = now + rng.choice([0, 29 * MINUTE, 30 * MINUTE, 31 * MINUTE])
            assert shown(engagement, later) == full_pass(engagement, later)
        if step == sessions:
            if restore_old:  # a checkpoint from before the view: no ``_live`` in it
                del engagement.__dict__["_live"]
            engagement = Engagement.from_bytes(engagement.to_bytes())
    for later in (now, now + 29 * MINUTE, now + 30 * MINUTE, now + 60 * MINUTE):
        assert shown(engagement, later) == full_pass(engagement, later)


def test_ties_and_more_sessions_than_shown_keep_the_full_order() -> None:
    engagement = Engagement()
    rng = random.Random(3)
    ids = list(range(60))
    rng.shuffle(ids)
    for n in ids:
        engagement.apply(batch(f"s{n:02d}", f"v{n}", [event("page_view", T0, "/")]), T0)
        engagement._sessions[f"s{n:02d}"].score = rng.choice([0.0, 12.5, 50.0, 99.0, 100.0])
        engagement._live.put(f"s{n:02d}", engagement._sessions[f"s{n:02d}"])
    assert shown(engagement, T0) == full_pass(engagement, T0)
    assert len(engagement.snapshot(T0)["active_sessions"]) == TOP_SESSIONS


def test_a_checkpoint_holds_none_of_the_view_and_a_restore_counts_again() -> None:
    engagement = Engagement()
    for n in range(30):
        engagement.apply(batch(f"s{n}", "v", [event("page_view", T0 + n, "/events")]), T0 + n)
    assert b"LiveScores" in engagement.to_bytes()  # the class is named, its counts are not
    view = pickle.loads(pickle.dumps(engagement._live))
    assert view.__dict__ == {"built": False}
    back = Engagement.from_bytes(engagement.to_bytes())
    assert shown(back, T0 + 60) == full_pass(engagement, T0 + 60)
    assert back._live.built and back._live.keys == engagement._live.keys


def test_dropping_an_unknown_session_and_putting_twice_change_nothing() -> None:
    view = LiveScores()
    engagement = Engagement()
    engagement.apply(batch("a", "v", [event("page_view", T0, "/blog/post-1")]), T0)
    session = engagement._sessions["a"]
    view.put("a", session)
    view.put("a", session)
    view.drop("nobody")
    assert sum(view.counts.values()) == 1 and view.tenths == {view.keys["a"][0]: {"a"}}
    view.drop("a")
    assert not view.counts and not view.tenths and not view.keys
