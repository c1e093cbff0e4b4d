"""The content service on a real store (SQLite and PostgreSQL): revisions to publishing."""

from __future__ import annotations

import threading

import orjson
import pytest
import sqlalchemy as sa

from stream.content import ContentService, Invalid, NotFound, Stale
from stream.content.messages import Outbox
from stream.content.tables import ITEMS, REVISIONS
from tests.store.content_items import event, page, resource

T0 = 1_780_000_000_000


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def service(store: sa.Engine, outbox: Outbox, clock: Clock) -> ContentService:
    return ContentService(store, outbox, clock=clock)


def sent(outbox: Outbox) -> list[tuple[str, str, object]]:
    return [
        (m.topic, m.key, None if m.value is None else orjson.loads(m.value))
        for m in outbox.messages
    ]


def test_create_makes_a_draft_revision_one(service: ContentService, outbox: Outbox) -> None:
    revision = service.create("event", event(), "admin", "first")
    assert (revision.item_id, revision.number, revision.author, revision.created_ms) == (
        "event:scratch-2026-12-05",
        1,
        "admin",
        T0,
    )
    assert service.get("event:scratch-2026-12-05") == {
        "id": "event:scratch-2026-12-05",
        "type": "event",
        "fields": event(),
        "revision": 1,
        "live_revision": None,
        "status": "draft",
        "scheduled": {},
    }
    assert service.published("event") == []
    assert service.snapshot("event:scratch-2026-12-05") is None
    [(topic, key, record)] = sent(outbox)
    assert (topic, key) == ("dojo.content.revisions", "event:scratch-2026-12-05")
    assert record == {
        "id": "event:scratch-2026-12-05",
        "type": "event",
        "revision": 1,
        "author": "admin",
        "created_ms": T0,
        "message": "first",
        "fields": event(),
    }


def test_invalid_input_writes_nothing(
    service: ContentService, store: sa.Engine, outbox: Outbox
) -> None:
    with pytest.raises(Invalid) as caught:
        service.create("event", event(capacity=-5, status="later"), "admin", "")
    assert set(caught.value.errors) == {"capacity", "status"}
    for bad_type in ("blog", None, 1, ["event"]):
        with pytest.raises(Invalid, match="type"):
            service.create(bad_type, event(), "admin", "")  # type: ignore[arg-type]
    for author in ("", "x" * 81, "a\nb", None, 5):
        with pytest.raises(Invalid, match="author"):
            service.create("event", event(), author, "")  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="message"):
        service.create("event", event(), "admin", "m" * 501)
    with store.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(ITEMS)) == 0
        assert conn.scalar(sa.select(sa.func.count()).select_from(REVISIONS)) == 0
    assert outbox.messages == []


def test_a_taken_id_is_refused_on_its_key_field(service: ContentService) -> None:
    service.create("page", page(), "admin")
    with pytest.raises(Invalid) as caught:
        service.create("page", page(title="Another"), "admin")
    assert caught.value.errors == {"path": "page:/about exists already: edit it instead"}


def test_update_needs_the_newest_revision_and_loses_nothing(
    service: ContentService, clock: Clock
) -> None:
    service.create("event", event(), "admin", "one")
    clock.now += 1000
    two = service.update("event:scratch-2026-12-05", event(capacity=40), 1, "admin", "more room")
    assert (two.number, two.fields["capacity"], two.created_ms) == (2, 40, T0 + 1000)
    with pytest.raises(Stale) as caught:
        service.update("event:scratch-2026-12-05", event(capacity=10), 1, "other", "late")
    assert caught.value.current == 2
    assert service.get("event:scratch-2026-12-05")["fields"]["capacity"] == 40
    assert [r.number for r in service.revisions("event:scratch-2026-12-05")] == [2, 1]
    with pytest.raises(Invalid, match="cannot change"):
        service.update("event:scratch-2026-12-05", event(slug="other"), 2, "admin")
    with pytest.raises(NotFound):
        service.update("event:nope", event(slug="nope"), 1, "admin")


def test_concurrent_writers_of_one_revision_get_one_winner(service: ContentService) -> None:
    service.create("resource", resource(), "admin")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def write(n: int) -> None:
        barrier.wait()
        try:
            service.update("resource:scratch-starter-cards", resource(title=f"T{n}"), 1, f"w{n}")
            outcomes.append("ok")
        except Stale:
            outcomes.append("stale")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "stale", "stale", "stale"]
    assert service.item("resource:scratch-starter-cards").revision == 2


def test_publish_chooses_a_revision_and_a_newer_draft_never_leaks(
    service: ContentService, outbox: Outbox
) -> None:
    service.create("event", event(), "admin")
    item = service.publish("event:scratch-2026-12-05")
    assert (item.status, item.live_revision) == ("published", 1)
    service.update("event:scratch-2026-12-05", event(title="DRAFT TITLE"), 1, "admin")
    assert service.item("event:scratch-2026-12-05").status == "changed"
    [live] = service.published("event")
    assert live == {"id": "event:scratch-2026-12-05", "type": "event", "revision": 1, **event()}
    assert "DRAFT" not in orjson.dumps(service.published()).decode()
    catalogue = [m for m in outbox.messages if m.topic == "dojo.content"]
    assert [orjson.loads(m.value or b"null")["revision"] for m in catalogue] == [1]
    service.publish("event:scratch-2026-12-05", revision=2)
    assert service.published("event")[0]["title"] == "DRAFT TITLE"
    with pytest.raises(NotFound):
        service.publish("event:scratch-2026-12-05", revision=9)


def test_unpublish_sends_a_tombstone(service: ContentService, outbox: Outbox) -> None:
    service.create("page", page(), "admin")
    service.publish("page:/about")
    item = service.unpublish("page:/about")
    assert (item.status, item.live_revision) == ("unpublished", None)
    assert service.published("page") == []
    assert sent(outbox)[-1] == ("dojo.content", "page:/about", None)


def test_revert_is_a_new_revision_copied_from_an_old_one(service: ContentService) -> None:
    service.create("page", page(), "admin")
    service.update("page:/about", page(title="Changed"), 1, "admin")
    three = service.revert("page:/about", 1, "admin")
    assert (three.number, three.fields, three.message) == (3, page(), "revert to revision 1")
    with pytest.raises(NotFound):
        service.revert("page:/about", 7, "admin")


def test_diff_against_live_and_between_revisions(service: ContentService) -> None:
    body = "<p>one</p>\n<p>two</p>\n<p>three</p>"
    service.create("page", page(body=body), "admin")
    assert {c["field"]: c["kind"] for c in service.diff("page:/about", 1)} == {
        "path": "added",
        "title": "added",
        "body": "added",
    }  # nothing live: everything is new
    service.publish("page:/about")
    service.update(
        "page:/about", page(body=body.replace("two", "TWO"), title="About us"), 1, "admin"
    )
    changes = service.diff("page:/about", 2)
    assert next((c["field"], c["kind"], c["before"], c["after"]) for c in changes) == (
        "title",
        "changed",
        "About the dojo",
        "About us",
    )
    assert changes[1]["lines"][2:] == [
        "@@ -1,3 +1,3 @@",
        " <p>one</p>",
        "-<p>two</p>",
        "+<p>TWO</p>",
        " <p>three</p>",
    ]
    assert service.diff("page:/about", 2, 2) == []
    assert service.diff("page:/about", 1, 2)[0]["before"] == "About us"


def test_diff_of_removed_fields(service: ContentService) -> None:
    service.create("resource", resource(), "admin")
    without_tags = {k: v for k, v in resource().items() if k != "tags"}
    service.update("resource:scratch-starter-cards", without_tags, 1, "admin")
    [change] = service.diff("resource:scratch-starter-cards", 2, 1)
    assert change == {
        "field": "tags",
        "kind": "removed",
        "before": ["scratch"],
        "after": None,
        "lines": [],
    }


def test_scheduled_publish_and_unpublish_run_once_when_due(
    service: ContentService, clock: Clock, outbox: Outbox
) -> None:
    service.create("event", event(), "admin")
    item = service.publish("event:scratch-2026-12-05", at_ms=T0 + 60_000)
    assert item.status == "scheduled" and item.scheduled == {
        "publish": {"at_ms": T0 + 60_000, "revision": None}
    }
    service.unpublish("event:scratch-2026-12-05", at_ms=T0 + 120_000)
    assert service.due(T0 + 59_999) == []
    service.update("event:scratch-2026-12-05", event(capacity=12), 1, "admin")
    assert service.due(T0 + 60_000) == [("event:scratch-2026-12-05", "publish")]
    assert service.published("event")[0]["capacity"] == 12  # the newest when it ran
    assert service.due(T0 + 60_000) == []
    assert service.due(T0 + 120_000) == [("event:scratch-2026-12-05", "unpublish")]
    assert service.published() == [] and service.item("event:scratch-2026-12-05").scheduled == {}
    assert [m.value is None for m in outbox.messages if m.topic == "dojo.content"] == [False, True]


def test_retention_prunes_old_revisions_but_never_the_live_one(
    store: sa.Engine, clock: Clock
) -> None:
    service = ContentService(store, Outbox(), keep_revisions=2, clock=clock)
    service.create("page", page(), "admin")
    service.publish("page:/about")
    for n in range(2, 7):
        service.update("page:/about", page(title=f"Title {n}"), n - 1, "admin")
    assert [r.number for r in service.revisions("page:/about")] == [6, 5, 1]
    with pytest.raises(NotFound):
        service.revision("page:/about", 3)
    assert service.published("page")[0]["revision"] == 1


def test_list_filters_by_type_status_and_text(service: ContentService) -> None:
    service.create("event", event(), "admin")
    service.create("resource", resource(), "admin")
    service.create("page", page(title="100% _Wild_ title"), "admin")
    service.publish("resource:scratch-starter-cards")
    assert [i.id for i in service.list()] == [
        "event:scratch-2026-12-05",
        "page:/about",
        "resource:scratch-starter-cards",
    ]
    assert [i.id for i in service.list(type="event")] == ["event:scratch-2026-12-05"]
    assert [i.id for i in service.list(status="published")] == ["resource:scratch-starter-cards"]
    assert [i.id for i in service.list(q="STARTER")] == ["resource:scratch-starter-cards"]
    assert [i.id for i in service.list(q="100% _w")] == ["page:/about"]
    assert service.list(status="nonsense") == [] and service.list(q="zzz") == []
    assert service.list(type="event")[0].summary() == {
        "id": "event:scratch-2026-12-05",
        "type": "event",
        "title": "Scratch Saturday",
        "status": "draft",
        "revision": 1,
        "live_revision": None,
        "updated_ms": T0,
    }


def test_odd_text_is_stored_as_it_is(service: ContentService) -> None:
    title = "x'); DROP TABLE content_items; -- трафик 🚀 \\ %_"
    service.create("page", page(title=title, body="<p>ünïcödé 流量</p>"), "admin ✓", "‽")
    got = service.get("page:/about")
    assert got["fields"]["title"] == title and got["fields"]["body"] == "<p>ünïcödé 流量</p>"
    assert service.revisions("page:/about")[0].author == "admin ✓"


def test_republish_sends_the_whole_catalogue(service: ContentService, outbox: Outbox) -> None:
    service.create("page", page(), "admin")
    service.create("page", page("/contact"), "admin")
    service.publish("page:/contact")
    outbox.messages.clear()
    assert service.republish() == 2
    assert [(m.key, m.value is None) for m in outbox.messages] == [
        ("page:/about", True),
        ("page:/contact", False),
    ]


@pytest.mark.parametrize(
    "item_id",
    ["nul\x00id", "page:/a\x00", "", "x" * 301, "event:\ud800", 5, None, ["event:x"]],
    ids=repr,
)
def test_hostile_ids_are_not_found_on_either_database(
    service: ContentService, item_id: object
) -> None:
    service.create("page", page(), "admin")
    for call in (
        lambda: service.get(item_id),  # type: ignore[arg-type]
        lambda: service.revisions(item_id),  # type: ignore[arg-type]
        lambda: service.revision(item_id, 1),  # type: ignore[arg-type]
        lambda: service.publish(item_id),  # type: ignore[arg-type]
        lambda: service.unpublish(item_id),  # type: ignore[arg-type]
        lambda: service.update(item_id, page(), 1, "admin"),  # type: ignore[arg-type]
        lambda: service.diff(item_id, 1),  # type: ignore[arg-type]
    ):
        with pytest.raises(NotFound):
            call()
    for number in (0, -1, 2**40, True):
        with pytest.raises(NotFound):
            service.revision("page:/about", number)


def test_hostile_filters_find_nothing_on_either_database(service: ContentService) -> None:
    service.create("page", page(), "admin")
    assert service.list(type="page\x00") == [] and service.list(type="x" * 1000) == []
    assert service.list(q="\x00") == [] and service.list(status="\x00") == []
    assert service.published("page\x00") == []
