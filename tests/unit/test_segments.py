"""Behaviour segments: features, labels from centroids, personalisation, checkpoints."""

from __future__ import annotations

import random
from typing import Any

from stream.learning.learners import check_resume
from stream.learning.segments import BLOCKS, Segments, describe, session_features
from tests.unit.visit_batches import MINUTE, T0, batch, event

KINDS = {
    "event seeker": ["/events", "/events/robot-rally", "/events/scratch-jam"],
    "resource learner": ["/resources", "/resources/a", "/resources/b"],
    "blog reader": ["/blog", "/blog/why-scratch", "/blog/robots"],
    "newcomer": ["/", "/about"],
}


def sessions(segments: Segments, count: int, seed: int = 5, start: int = 0) -> int:
    """``count`` sessions, each of one behaviour, 30 s apart; returns the last batch time."""
    rng = random.Random(seed)
    ts = T0 + start * 30_000
    for i in range(start, start + count):
        kind = list(KINDS)[i % 4]
        pages = 1 if kind == "newcomer" else rng.randint(3, 7)
        ts += 30_000
        events = [event("page_view", ts + n, rng.choice(KINDS[kind])) for n in range(pages)]
        if kind == "resource learner":
            events.append(event("resource_download", ts + pages, "/resources/a", resource_id="a"))
        segments.apply(batch(f"session{i:05d}", f"visitor{i:05d}", events), ts)
    return ts


def test_features_are_shares_and_squashed_counts() -> None:
    x = session_features({"events": 3, "blog": 1}, downloads=0, forms=2, returning=True)
    assert x["events_share"] == 0.75
    assert x["blog_share"] == 0.25
    assert x["resources_share"] == 0.0
    assert all(0.0 <= v <= 1.0 for v in x.values())
    assert x["returning"] == 1.0


def test_labels_come_from_the_dominant_share() -> None:
    assert describe({"events_share": 0.8, "pages": 0.7}) == "event seeker"
    assert describe({"resources_share": 0.6, "blog_share": 0.3}) == "resource learner"
    assert describe({"blog_share": 0.5}) == "blog reader"
    assert describe({"home_info_share": 0.9, "pages": 0.2}) == "newcomer"
    assert describe({"events_share": 0.3, "blog_share": 0.3, "pages": 0.3}) == "newcomer"
    assert describe({"events_share": 0.3, "blog_share": 0.3, "pages": 0.8}) == "explorer"


def test_clusters_find_the_four_behaviours() -> None:
    segments = Segments()
    end = sessions(segments, 2000)
    segments.expire(end + 31 * MINUTE)
    snapshot = segments.snapshot(end)
    labels = {s["label"] for s in snapshot["segments"]}
    assert labels == set(KINDS)
    assert sum(s["sessions"] for s in snapshot["segments"]) == 2000
    assert all(400 <= s["sessions"] <= 600 for s in snapshot["segments"])


def test_live_sessions_and_visitors_get_a_segment_and_blocks() -> None:
    segments = Segments()
    end = sessions(segments, 2000)
    segments.expire(end + 31 * MINUTE)
    now = end + 40 * MINUTE
    views = [event("page_view", now + n, "/blog/robots") for n in range(4)]
    segments.apply(batch("session-live", "visitor-live", views), now)
    found = segments.segment("session-live")
    assert found is not None
    assert found["label"] == "blog reader"
    personal = segments.personalize("visitor-live")
    assert personal == {**found, "blocks": BLOCKS["blog reader"]}
    assert segments.segment("session-unknown") is None
    assert segments.personalize("visitor-unknown")["label"] == "newcomer"


def test_sessions_are_learned_only_when_they_close() -> None:
    segments = Segments()
    end = sessions(segments, 20)
    assert segments.snapshot(end) == {"segments": []}
    assert segments.expire(end + 31 * MINUTE) == 20


def test_checkpoint_resumes_exactly() -> None:
    def probe(s: Segments) -> dict[str, Any]:
        s.expire(T0 + 10**9)
        return s.snapshot(T0)

    check_resume(
        Segments, lambda s: sessions(s, 400), lambda s: sessions(s, 400, seed=2, start=400), probe
    )
