"""The publication log on a real store (SQLite and PostgreSQL): what was live when."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from stream.content import ContentService, NotFound
from stream.content.messages import Outbox
from stream.content.publications import MAX_MS, PUBLICATIONS
from stream.store import migrate
from stream.store.dialects import create_engine
from tests.store.content_items import Clock, event, page

T0 = 1_780_000_000_000
MIN = 60_000
EVENT, PAGE = "event:scratch-2026-12-05", "page:/about"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def service(store: sa.Engine, clock: Clock) -> ContentService:
    return ContentService(store, Outbox(), clock=clock)


def log(engine: sa.Engine) -> list[tuple[str, int, int, int | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                PUBLICATIONS.c.item_id, PUBLICATIONS.c.revision,
                PUBLICATIONS.c.live_from_ms, PUBLICATIONS.c.live_until_ms,
            ).order_by(PUBLICATIONS.c.id)
        ).all()  # fmt: skip
    return [tuple(row) for row in rows]


def change(item_id: str, title: str, revision: int, action: str, at_ms: int) -> dict[str, Any]:
    return {"item_id": item_id, "title": title, "revision": revision, "action": action,
            "at_ms": at_ms}  # fmt: skip


def test_every_way_of_going_live_or_off_is_logged(
    service: ContentService, store: sa.Engine, clock: Clock
) -> None:
    service.create("event", event(), "admin")
    service.create("page", page(), "admin")
    clock.now = T0 + 1 * MIN
    service.publish(EVENT)  # revision 1
    service.update(EVENT, event(title="Scratch Saturday (full)"), 1, "admin")
    clock.now = T0 + 2 * MIN
    service.publish(EVENT)  # revision 2 replaces 1
    service.publish(EVENT)  # again as it was: no new stretch
    clock.now = T0 + 3 * MIN
    service.publish(PAGE, at_ms=T0 + 5 * MIN)  # scheduled
    service.unpublish(EVENT, at_ms=T0 + 6 * MIN)
    assert service.due(T0 + 4 * MIN) == []
    assert service.due(T0 + 5 * MIN) == [(PAGE, "publish")]
    assert service.due(T0 + 6 * MIN) == [(EVENT, "unpublish")]
    clock.now = T0 + 7 * MIN
    service.revert(EVENT, 1, "admin")  # revision 3, a copy of 1, then published
    service.publish(EVENT)
    assert log(store) == [
        (EVENT, 1, T0 + MIN, T0 + 2 * MIN),
        (EVENT, 2, T0 + 2 * MIN, T0 + 6 * MIN),
        (PAGE, 1, T0 + 5 * MIN, None),
        (EVENT, 3, T0 + 7 * MIN, None),
    ]
    assert service.live_at(T0) == {}
    assert service.live_at(T0 + MIN) == {EVENT: 1}
    assert service.live_at(T0 + 2 * MIN - 1) == {EVENT: 1}
    assert service.live_at(T0 + 5 * MIN) == {EVENT: 2, PAGE: 1}
    assert service.live_at(T0 + 6 * MIN) == {PAGE: 1}
    assert service.live_at(MAX_MS) == {EVENT: 3, PAGE: 1}
    assert service.changes(T0, T0 + 8 * MIN) == [
        change(EVENT, "Scratch Saturday", 1, "published", T0 + MIN),
        change(EVENT, "Scratch Saturday (full)", 2, "published", T0 + 2 * MIN),
        change(PAGE, "About the dojo", 1, "published", T0 + 5 * MIN),
        change(EVENT, "Scratch Saturday (full)", 2, "unpublished", T0 + 6 * MIN),
        change(EVENT, "Scratch Saturday", 3, "published", T0 + 7 * MIN),
    ]
    # The range is half open; a stretch that began before it shows only its end.
    assert service.changes(T0 + 2 * MIN + 1, T0 + 7 * MIN, "event") == [
        change(EVENT, "Scratch Saturday (full)", 2, "unpublished", T0 + 6 * MIN),
    ]
    assert service.changes(T0, T0 + 8 * MIN, "page") == [
        change(PAGE, "About the dojo", 1, "published", T0 + 5 * MIN),
    ]
    assert service.changes(T0, T0 + 8 * MIN, "resource") == []


def test_a_pruned_revision_keeps_the_title_the_item_has(store: sa.Engine, clock: Clock) -> None:
    service = ContentService(store, Outbox(), keep_revisions=1, clock=clock)
    service.create("page", page(title="Old"), "admin")
    service.publish(PAGE)
    clock.now = T0 + MIN
    service.update(PAGE, page(title="New"), 1, "admin")
    service.publish(PAGE)
    service.update(PAGE, page(title="Newest"), 2, "admin")  # prunes revision 1
    with pytest.raises(NotFound):
        service.revision(PAGE, 1)
    assert [(c["revision"], c["title"]) for c in service.changes(T0, T0 + MIN + 1)] == [
        (1, "Newest"),
        (2, "New"),
    ]


def test_a_write_that_fails_logs_nothing(service: ContentService, store: sa.Engine) -> None:
    service.create("event", event(), "admin")
    with pytest.raises(NotFound):
        service.publish(EVENT, revision=9)
    with pytest.raises(RuntimeError), service.batch():
        service.publish(EVENT)
        raise RuntimeError("the batch fails after the publish")
    assert log(store) == []
    assert service.item(EVENT).live_revision is None
    service.unpublish(EVENT)  # not live: no stretch to end
    assert log(store) == []


def test_a_clock_that_steps_back_never_ends_a_stretch_before_it_began(
    service: ContentService, store: sa.Engine, clock: Clock
) -> None:
    service.create("event", event(), "admin")
    service.publish(EVENT)
    service.update(EVENT, event(capacity=40), 1, "admin")
    clock.now = T0 - MIN
    service.publish(EVENT)
    clock.now = T0 - 2 * MIN
    service.unpublish(EVENT)
    assert log(store) == [(EVENT, 1, T0, T0), (EVENT, 2, T0, T0)]


HOSTILE_RANGES: list[tuple[object, object, object]] = [
    (T0, T0, None),  # empty
    (T0 + 1, T0, None),  # backwards
    (-1, T0, None),
    (0, MAX_MS + 1, None),
    (True, T0, None),
    (0, 1.5, None),
    ("0", T0, None),
    (None, T0, None),
    ([0], T0, None),
    ({"ms": 0}, T0, None),
    (0, 2**64, None),
    (0, T0, "events"),
    (0, T0, ""),
    (0, T0, 7),
    (0, T0, ["event"]),
    (0, T0, "\x00event"),
]


@pytest.mark.parametrize(("start", "end", "kind"), HOSTILE_RANGES)
def test_hostile_ranges_are_refused(
    service: ContentService, start: object, end: object, kind: object
) -> None:
    with pytest.raises(ValueError):
        service.changes(start, end, kind)  # type: ignore[arg-type]


@pytest.mark.parametrize("at", [-1, MAX_MS + 1, True, 1.0, "1", None, [], {}, 2**70])
def test_hostile_moments_are_refused(service: ContentService, at: object) -> None:
    with pytest.raises(ValueError):
        service.live_at(at)  # type: ignore[arg-type]


def test_the_migration_opens_a_stretch_for_each_item_live_now(store_url: str) -> None:
    engine = create_engine(store_url)
    with engine.begin() as conn:
        command.upgrade(migrate._config(conn), "0003")
    items = sa.table(
        "content_items", *(sa.column(name) for name in (
            "id", "type", "title", "revision", "live_revision", "created_ms", "updated_ms",
            "published_ms", "unpublished_ms",
        ))
    )  # fmt: skip
    row = {"type": "page", "title": "t", "revision": 2, "created_ms": T0, "updated_ms": T0,
           "unpublished_ms": None}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(sa.insert(items), [
            row | {"id": "page:/a", "live_revision": 2, "published_ms": T0 + MIN},
            row | {"id": "page:/b", "live_revision": None, "published_ms": T0 + MIN},
            row | {"id": "page:/c", "live_revision": 1, "published_ms": None},
        ])  # fmt: skip
    assert migrate.upgrade(engine) == migrate.head()
    assert sorted(log(engine)) == [("page:/a", 2, T0 + MIN, None), ("page:/c", 1, T0, None)]
    engine.dispose()
