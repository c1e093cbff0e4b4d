"""The recommender follows the published catalogue: only published items, no closed events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from stream.content.messages import Topics
from stream.content.records import snapshot as live_snapshot
from stream.learning.catalogue import Catalogue, entry_of
from stream.learning.recommend import Recommender
from stream.learning.state import LearningState
from stream.settings import Settings
from tests.unit.test_recommend import GROUPS, HUB, visits
from tests.unit.visit_batches import T0, batch, event

HOUR = 3_600_000
EVERY_ITEM = {item for items in GROUPS.values() for item in items} | set(HUB)


def iso(ms: int) -> str:
    """``ms`` as ISO 8601 with an offset, as content stores event times."""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone().isoformat()


def snapshot(item_id: str, **fields: Any) -> bytes:
    """A live snapshot as the content service writes it to ``dojo.content``."""
    kind = item_id.partition(":")[0]
    message = Topics.of(Settings()).live(item_id, live_snapshot(item_id, kind, 1, fields))
    assert message.value is not None
    return message.value


def published(end: int) -> Catalogue:
    """Two resources, an upcoming event, and a past, a full and a cancelled one."""
    catalogue = Catalogue()
    records = {
        "resource:scratch-cards": snapshot("resource:scratch-cards", slug="scratch-cards"),
        "resource:python-first": snapshot("resource:python-first", slug="python-first"),
        "event:robot-rally": snapshot(
            "event:robot-rally", slug="robot-rally", status="scheduled",
            starts_at=iso(end + 24 * HOUR), ends_at=iso(end + 26 * HOUR),
        ),
        "event:scratch-jam": snapshot(
            "event:scratch-jam", slug="scratch-jam", status="scheduled",
            starts_at=iso(end - 3 * HOUR), ends_at=iso(end - HOUR),
        ),
        "event:python-night": snapshot(
            "event:python-night", slug="python-night", status="full",
            starts_at=iso(end + HOUR), ends_at=iso(end + 2 * HOUR),
        ),
        "page:/events": snapshot("page:/events", path="/events", title="Dojos"),
    }  # fmt: skip
    for key, value in records.items():
        assert catalogue.follow(key.encode(), value)
    return catalogue


ALLOWED = {"/resources/scratch-cards", "/resources/python-first", "/events/robot-rally", "/events"}


def served(state: LearningState, now: int) -> set[str]:
    """Every item the learner hands the site: per visitor and popular."""
    for visitor in ("visitor-1", "visitor-2", "visitor-3", "someone-new"):
        state.touched.add(visitor)
    recs, _, popular = state.serve(now)
    return {r["item"] for items in recs.values() for r in items} | {r["item"] for r in popular}


def test_until_a_catalogue_exists_everything_is_recommended_as_before() -> None:
    before, empty = LearningState(), LearningState(catalogue=Catalogue())
    end = visits(before.recommender, range(90))
    visits(empty.recommender, range(90))
    assert served(before, end) == served(empty, end) == EVERY_ITEM


def test_only_published_items_and_never_a_past_full_or_cancelled_event() -> None:
    state = LearningState(catalogue=Catalogue())
    end = visits(state.recommender, range(90))
    assert state.recommender.catalogue is not None
    state.recommender.catalogue = published(end)
    assert served(state, end) == ALLOWED
    snap = state.snapshot(end)["recommendations"]
    assert {r["item"] for r in snap["top_items"]} == ALLOWED
    assert snap["items"] == len(ALLOWED)
    # The upcoming event is shown until it has ended, then never again.
    assert "/events/robot-rally" not in served(state, end + 27 * HOUR)


def test_cancelling_unpublishing_and_renaming_reach_the_recommender_at_once() -> None:
    catalogue = Catalogue()
    state = LearningState(catalogue=catalogue)
    end = visits(state.recommender, range(90))
    for key in ("resource:scratch-cards", "resource:python-first", "event:robot-rally"):
        slug = key.partition(":")[2]
        catalogue.follow(key.encode(), snapshot(key, slug=slug, ends_at=iso(end + HOUR)))
    assert served(state, end) == {"/resources/scratch-cards", "/resources/python-first",
                                  "/events/robot-rally"}  # fmt: skip
    catalogue.follow(b"event:robot-rally", snapshot("event:robot-rally", status="cancelled"))
    assert catalogue.follow(b"resource:python-first", None)  # unpublished: a tombstone
    # A new slug moves the item to its new path (one the visitors never opened yet).
    catalogue.follow(b"resource:scratch-cards", snapshot("resource:scratch-cards", slug="maze"))
    assert served(state, end) == set()
    catalogue.follow(b"resource:scratch-cards", snapshot("resource:scratch-cards"))
    assert served(state, end) == {"/resources/scratch-cards"}
    for key in ("event:robot-rally", "resource:scratch-cards"):
        catalogue.follow(key.encode(), None)
    assert len(catalogue) == 0 and served(state, end) == EVERY_ITEM  # no catalogue: as before


def test_a_catalogue_change_alone_makes_the_served_items_stale() -> None:
    catalogue = Catalogue()
    state = LearningState(catalogue=catalogue)
    end = visits(state.recommender, range(90))
    assert state.stale()  # nothing served yet
    state.serve(end)
    assert not state.stale()  # no visitor since, no change of the catalogue
    catalogue.follow(
        b"resource:scratch-cards", snapshot("resource:scratch-cards", slug="scratch-cards")
    )
    assert state.stale()  # nobody visited, yet popular items must follow the publication
    _, _, popular = state.serve(end)
    assert {r["item"] for r in popular} == {"/resources/scratch-cards"}
    assert not state.stale()
    catalogue.follow(b"resource:scratch-cards", None)  # unpublished
    assert state.stale()


def test_checkpoints_never_hold_the_catalogue_and_restore_with_the_one_followed() -> None:
    state = LearningState()
    end = visits(state.recommender, range(60))
    state.recommender.catalogue = published(end)
    data = state.to_bytes()
    assert b"robot-rally" not in data.replace(b"/events/robot-rally", b"")  # items, not entries
    assert LearningState.from_bytes(data).recommender.catalogue is None
    followed = published(end)
    back = LearningState.from_bytes(data, catalogue=followed)
    assert back.recommender.catalogue is followed
    assert served(back, end) == ALLOWED
    assert Recommender.from_bytes(state.recommender.to_bytes()).catalogue is None


def test_a_check_in_still_closes_a_published_event() -> None:
    catalogue = Catalogue()
    state = LearningState(catalogue=catalogue)
    end = visits(state.recommender, range(60))
    catalogue.follow(b"event:robot-rally", snapshot("event:robot-rally"))
    assert served(state, end) == {"/events/robot-rally"}
    check_in = [event("attendance", end + 1, "/events/robot-rally/check-in", dojo_event_id="d")]
    state.apply(batch("session-x", "visitor-x", check_in), end + 1)
    assert served(state, end + 2) == set()


JSON_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**70,
    1.5,
    "",
    "x",
    "/",
    [],
    ["a"],
    {},
    {"a": 1},
]
FIELDS = ("type", "slug", "path", "status", "starts_at", "ends_at")


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", JSON_VALUES, ids=repr)
def test_any_json_in_any_field_is_read_or_refused_never_raises(field: str, value: Any) -> None:
    for item_id in ("event:e", "resource:r", "page:/p"):
        body: dict[str, Any] = {"id": item_id, "type": item_id.partition(":")[0], "slug": "s"}
        body[field] = value
        entry = entry_of(item_id, json.dumps(body))
        assert entry is None or entry.path.startswith("/")
        catalogue = Catalogue()
        assert catalogue.follow(item_id.encode(), json.dumps(body)) == (entry is not None)
        assert catalogue.allows("/resources/other", T0) is (entry is None)


@pytest.mark.parametrize(
    "key, value",
    [
        (b"event:e", b"\xff\xfe not utf-8"),
        (b"event:e", b"{truncated"),
        (b"event:e", b"[1, 2]"),
        (b"event:e", b'"just a string"'),
        (b"event:e", b""),
        (b"\xff\xfe", snapshot("event:e")),
        (b"", snapshot("event:e")),
        (None, snapshot("event:e")),
        (b"event:" + b"e" * 1000, snapshot("event:e")),
        (b"experiment:x", snapshot("experiment:x", slug="x")),
        (b"event:a/b", snapshot("event:a/b")),
        (b"page:relative", snapshot("page:relative", path="relative")),
    ],
)
def test_unreadable_records_are_refused_and_withdraw_their_item(
    key: bytes | None, value: bytes
) -> None:
    catalogue = Catalogue()
    catalogue.follow(b"resource:keep", snapshot("resource:keep"))
    if key is not None and key.startswith(b"event:e") and len(key) < 100:
        catalogue.follow(key, snapshot("event:e"))  # a readable version first
    assert not catalogue.follow(key, value)
    assert not catalogue.allows("/events/e", T0)
    assert catalogue.allows("/resources/keep", T0)


def test_hostile_catalogue_paths_never_widen_what_the_recommender_shows() -> None:
    catalogue = Catalogue()
    state = LearningState(catalogue=catalogue)
    end = visits(state.recommender, range(60))
    catalogue.follow(b"page:/x", snapshot("page:/x", path='/<img src=x onerror="alert(1)">'))
    catalogue.follow(b"resource:scratch-maze", snapshot("resource:scratch-maze"))
    assert served(state, end) == {"/resources/scratch-maze"}


def test_event_times_without_an_offset_are_utc_and_start_stands_in_for_end() -> None:
    assert entry_of("event:a", snapshot("event:a", ends_at="2026-12-05T12:00:00")) == entry_of(
        "event:a", snapshot("event:a", ends_at="2026-12-05T12:00:00+00:00")
    )
    begun = entry_of("event:a", snapshot("event:a", starts_at="2026-12-05T10:00:00Z"))
    assert begun is not None and begun.until_ms == 1_796_464_800_000
    assert entry_of("event:a", snapshot("event:a", ends_at="soon")) == entry_of(
        "event:a", snapshot("event:a")
    )
