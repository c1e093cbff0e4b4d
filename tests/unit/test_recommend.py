"""Recommendations: catalogue validity, popularity prior, taste learning, checkpoints."""

from __future__ import annotations

import random
from typing import Any

from stream.learning.items import ItemPaths, item_kind, item_of
from stream.learning.learners import check_resume, checkpoint
from stream.learning.recommend import Recommender
from stream.learning.state import LearningState
from tests.unit.visit_batches import MINUTE, T0, batch, event

GROUPS = {
    "scratch": ["/resources/scratch-cards", "/resources/scratch-maze", "/events/scratch-jam"],
    "python": ["/resources/python-first", "/resources/python-quiz", "/events/python-night"],
    "robots": ["/resources/robot-line", "/resources/microbit-badge", "/events/robot-rally"],
}
HUB = ["/", "/events", "/resources", "/blog"]


def visits(recommender: Recommender, sessions: range, seed: int = 3) -> int:
    """Visitors with one taste each wander hub pages and the items of their taste."""
    rng = random.Random(seed)
    ts = T0
    for i in sessions:
        taste = list(GROUPS)[i % 3]
        visitor = f"visitor-{i % 90}"
        events = []
        for _ in range(6):
            ts += 5000
            pool = GROUPS[taste] if rng.random() < 0.7 else HUB
            events.append(event("page_view", ts, rng.choice(pool)))
        recommender.apply(batch(f"session{i:05d}", visitor, events), ts)
    return ts


def test_items_and_kinds() -> None:
    assert item_of("/events/robot-rally/register?x=1") == "/events/robot-rally"
    assert item_of("/events/robot-rally/check-in") == "/events/robot-rally"
    assert item_of("/resources/a/") == "/resources/a"
    assert item_of("/") == "/"
    assert [item_kind(i) for i in ("/events/a", "/resources/b", "/events", "/blog/c")] == [
        "event", "resource", "page", "page"]  # fmt: skip


def test_a_new_visitor_gets_popular_items() -> None:
    recommender = Recommender()
    end = visits(recommender, range(60))
    got = recommender.recommend("someone-new", 5, end)
    assert [r["item"] for r in got] == [r["item"] for r in recommender.popular(5, end)]
    assert {r["reason"] for r in got} == {"popular right now"}


def test_a_past_dojo_event_is_never_recommended() -> None:
    recommender = Recommender()
    end = visits(recommender, range(60))
    hot = recommender.popular(1, end)[0]["item"]
    recommender.set_catalog({hot: {"kind": "event", "until_ms": end - 1}})
    for visitor in ("visitor-1", "visitor-2", "someone-new"):
        assert hot not in {r["item"] for r in recommender.recommend(visitor, 20, end)}
    assert hot not in {r["item"] for r in recommender.popular(20, end)}
    # Still valid before it ended.
    assert hot in {r["item"] for r in recommender.popular(20, end - 2)}


def test_a_check_in_marks_its_dojo_event_as_past() -> None:
    recommender = Recommender()
    end = visits(recommender, range(30))
    check_in = [event("attendance", end + 1, "/events/robot-rally/check-in", dojo_event_id="d")]
    recommender.apply(batch("session-x", "visitor-x", check_in), end + 1)
    assert "/events/robot-rally" not in {r["item"] for r in recommender.popular(50, end + 2)}


def test_the_current_page_is_not_recommended() -> None:
    recommender = Recommender()
    end = visits(recommender, range(60))
    view = [event("page_view", end + 1, "/events")]
    recommender.apply(batch("session-y", "visitor-y", view), end + 1)
    assert "/events" not in {r["item"] for r in recommender.recommend("visitor-y", 10, end + 1)}


def test_items_unseen_for_long_drop_out() -> None:
    recommender = Recommender(forget_ms=60 * MINUTE)
    end = visits(recommender, range(10))
    view = [event("page_view", end + 2 * 60 * MINUTE, "/volunteer")]
    recommender.apply(batch("session-z", "visitor-z", view), end + 2 * 60 * MINUTE)
    assert recommender.snapshot(end + 2 * 60 * MINUTE)["items"] == 1


def test_learned_taste_beats_popularity() -> None:
    recommender = Recommender()
    visits(recommender, range(900))
    snapshot = recommender.snapshot(T0)
    assert snapshot["n"] > 1000  # a quarter of the ~4,300 moves: one in ``check_every``
    assert snapshot["hit_rate_at_5"] > snapshot["baseline_hit_rate_at_5"] + 0.05
    assert snapshot["top_items"][0]["reason"] == "popular right now"


def test_ranking_many_visitors_at_once_equals_ranking_each() -> None:
    recommender = Recommender()
    end = visits(recommender, range(300))
    crowd = [f"visitor-{i}" for i in range(0, 90, 7)] + ["nobody"]
    alone = {v: recommender.recommend(v, 6, end) for v in crowd}
    assert recommender.recommend_many(crowd, 6, end) == alone
    assert len({r["reason"] for rs in alone.values() for r in rs}) > 1
    assert all(len(rs) == 6 for rs in alone.values())


def test_one_move_in_check_every_is_checked() -> None:
    every, sampled = Recommender(check_every=1), Recommender()
    visits(every, range(200))
    visits(sampled, range(200))
    assert every.checks > 500
    # Moves come from the data, not the model: the sample is exactly every fourth one.
    assert sampled.checks == every.checks // sampled.check_every


def test_a_checkpoint_from_before_sampled_checks_still_resumes() -> None:
    old = Recommender()
    end = visits(old, range(60))
    for name in ("check_every", "_moves", "_forget_at"):  # what such a checkpoint lacks
        del old.__dict__[name]
    back = Recommender.from_bytes(checkpoint(old))
    checks = back.checks
    visits(back, range(60, 120))
    assert back.checks > checks
    assert back.recommend("visitor-5", 5, end)


def test_checkpoint_resumes_exactly() -> None:
    def probe(r: Recommender) -> list[Any]:
        end = T0 + 10**8
        return [r.snapshot(end), r.recommend("visitor-5", 5, end), r.recommend("nobody", 5, end)]

    check_resume(
        Recommender, lambda r: visits(r, range(150)), lambda r: visits(r, range(150, 300)), probe
    )


def test_forgotten_visitors_leave_the_model_too() -> None:
    recommender = Recommender()
    recommender.max_visitors = 10
    ts = T0
    for n in range(25):
        ts += MINUTE
        visitor = f"day-visitor-{n}"
        recommender.apply(
            batch(
                f"sess-{n:04d}",
                visitor,
                [event("page_view", ts, "/"), event("page_view", ts + 1, "/events")],
            ),
            ts,
        )
    remembered = set(recommender.by_visitor.u_latents)
    assert len(remembered) <= recommender.max_visitors + 1
    assert "day-visitor-0" not in remembered  # the oldest went, model vector and all
    assert "day-visitor-24" in remembered
    assert set(recommender.by_visitor.u_biases) <= remembered | {"day-visitor-24"}


ATTACKS = [
    "/resources/<img src=x onerror=alert(1)>",
    "/resources/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    '/events/x"><script>alert(1)</script>',
    "/resources/free-robux-click-here/now",
    "https://evil.example/resources/x",
    "/resources/" + "a" * 5000,
]


def hammer(recommender: Recommender, ts: int) -> None:
    """What one hostile client can send: every attack, viewed, downloaded, registered."""
    for n, url in enumerate(ATTACKS * 50):
        kinds = ("page_view", "resource_download", "registration", "attendance")
        events = [event(kinds[n % 4], ts + n, url)]
        recommender.apply(batch(f"attack-{n:05d}", f"attacker-{n % 7}", events), ts + n)


def test_an_attackers_strings_never_become_items() -> None:
    recommender = Recommender()
    end = visits(recommender, range(60))
    hammer(recommender, end)
    now = end + len(ATTACKS) * 50
    shown = {r["item"] for r in recommender.popular(50, now)}
    shown |= {
        r["item"] for v in ("attacker-1", "visitor-3") for r in recommender.recommend(v, 50, now)
    }
    assert shown, "the site's own items are still recommended"
    assert all(item.startswith(("/events", "/resources", "/blog", "/")) for item in shown)
    assert not {
        item for item in recommender.items if "<" in item or "free" in item or "a" * 300 in item
    }
    assert set(recommender.items) <= set(
        GROUPS["scratch"] + GROUPS["python"] + GROUPS["robots"] + HUB
    )


def test_an_escaped_path_counts_for_its_item() -> None:
    recommender = Recommender()
    ts = T0
    recommender.apply(
        batch("session-e", "v-e", [event("page_view", ts, "/resources/scratch%2Dcards")]), ts
    )
    assert set(recommender.items) == {"/resources/scratch-cards"}


def test_only_the_configured_item_paths_are_recommended() -> None:
    recommender = Recommender(site_items=ItemPaths(["/resources/*"]))
    end = visits(recommender, range(60))
    assert recommender.items
    assert all(item.startswith("/resources/") for item in recommender.items)
    assert all(r["item"].startswith("/resources/") for r in recommender.popular(20, end))


def test_a_restored_checkpoint_forgets_items_that_are_not_the_sites() -> None:
    old = LearningState()
    end = visits(old.recommender, range(60))
    # What a checkpoint written before items were checked may hold.
    old.recommender.set_catalog({url: {"kind": "resource"} for url in ATTACKS}, end)
    assert any("<" in r["item"] for r in old.recommender.popular(50, end))
    back = LearningState.from_bytes(old.to_bytes())
    assert not any("<" in item for item in back.recommender.items)
    assert "/events/scratch-jam" in back.recommender.items
    narrow = LearningState.from_bytes(old.to_bytes(), site_items=ItemPaths(["/events/*"]))
    assert set(narrow.recommender.items) == {
        "/events/scratch-jam",
        "/events/python-night",
        "/events/robot-rally",
    }
