"""``ContentService``: every content write and read, over the SQL store.

Each write is one transaction; the messages it makes for Kafka are handed to the publisher
only after the commit, so Kafka never carries what the store does not hold. Writes to one
item are serialised by its row (``FOR UPDATE`` on PostgreSQL, the write lock on SQLite):
a write that names a revision other than the newest is ``Stale`` and changes nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from stream.content import publications, queries
from stream.content.errors import Invalid, NotFound, Stale
from stream.content.messages import Message, Outbox, Publisher, Topics
from stream.content.records import Item, Revision
from stream.content.tables import ITEMS, REVISIONS, SCHEDULES
from stream.content.types import TYPES
from stream.settings import Settings
from stream.store import dialects

MAX_AUTHOR, MAX_MESSAGE = 80, 500


def wall_ms() -> int:
    """The wall clock in epoch ms."""
    return time.time_ns() // 1_000_000


def _label(name: str, value: object, limit: int, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise Invalid({name: f"must be printable text of at most {limit} characters"})
    if not value.strip() and not empty_ok:
        raise Invalid({name: "must not be empty"})
    return value.strip()


class ContentService(queries.Reader):
    """Content writes (revisions, publishing, schedules) and reads, over one store."""

    def __init__(
        self,
        engine: sa.Engine,
        publisher: Publisher | None = None,
        *,
        settings: Settings | None = None,
        keep_revisions: int = 0,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        super().__init__(engine)
        self.publisher: Publisher = publisher if publisher is not None else Outbox()
        self.topics = Topics.of(settings or Settings())
        self.keep_revisions = keep_revisions  # 0: keep every revision
        self.clock = clock
        self._pending: list[Message] | None = None  # messages held until the batch commits

    def create(self, type_name: str, fields: object, author: str, message: str = "") -> Revision:
        """Create an item from ``fields`` as its revision 1 (a draft); ``Invalid`` if bad."""
        content_type = TYPES.get(type_name) if isinstance(type_name, str) else None
        if content_type is None:
            raise Invalid({"type": f"must be one of {', '.join(TYPES)}"})
        cleaned = content_type.clean(fields)
        author, message = _label("author", author, MAX_AUTHOR), self._message(message)
        item_id, now = content_type.item_id(cleaned), self.clock()
        revision = Revision(item_id, 1, cleaned, author, now, message)
        try:
            with self._writing() as conn:
                if conn.scalar(sa.select(ITEMS.c.id).where(ITEMS.c.id == item_id)) is not None:
                    raise self._taken(content_type.key, item_id)
                conn.execute(sa.insert(ITEMS).values(
                    id=item_id, type=type_name, title=self._title(cleaned), revision=1,
                    created_ms=now, updated_ms=now,
                ))  # fmt: skip
                self._insert(conn, revision)
        except IntegrityError:  # created by another writer between the check and the insert
            raise self._taken(content_type.key, item_id) from None
        self._send([self.topics.revision(type_name, revision)])
        return revision

    def update(
        self, item_id: str, fields: object, if_match: int, author: str, message: str = ""
    ) -> Revision:
        """A new revision of ``item_id`` with ``fields`` (all of them), if it is at ``if_match``."""
        item = self.item(item_id)
        content_type = TYPES[item.type]
        cleaned = content_type.clean(fields)
        if content_type.item_id(cleaned) != item_id:
            raise Invalid({content_type.key: "names the item and cannot change: create a new one"})
        return self._write(item_id, cleaned, if_match, author, message)

    def revert(self, item_id: str, to_revision: int, author: str, message: str = "") -> Revision:
        """A new revision holding ``to_revision``'s fields (checked again by today's type)."""
        old = self.revision(item_id, to_revision)
        cleaned = TYPES[self.item(item_id).type].clean(old.fields)
        said = message or f"revert to revision {to_revision}"
        return self._write(item_id, cleaned, None, author, said)

    def publish(self, item_id: str, revision: int | None = None, at_ms: int | None = None) -> Item:
        """Make ``revision`` (default the newest) live now, or at ``at_ms`` if that is later."""
        now = self.clock()
        if revision is not None:
            self.revision(item_id, revision)  # NotFound before anything changes
        if at_ms is not None and at_ms > now:
            return self._schedule(item_id, "publish", at_ms, revision)
        self._go_live(item_id, revision, now)
        return self.item(item_id)

    def unpublish(self, item_id: str, at_ms: int | None = None) -> Item:
        """Take ``item_id`` off the site now, or at ``at_ms`` if that is later."""
        now = self.clock()
        if at_ms is not None and at_ms > now:
            return self._schedule(item_id, "unpublish", at_ms, None)
        self._take_down(item_id, now)
        return self.item(item_id)

    def due(self, now_ms: int) -> list[tuple[str, str]]:
        """Run the schedules due at ``now_ms``, each once; returns (item id, action) done."""
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(SCHEDULES).where(SCHEDULES.c.at_ms <= now_ms).order_by(SCHEDULES.c.at_ms)
            ).all()
        done: list[tuple[str, str]] = []
        for row in rows:
            if row.action == "publish":
                ran = self._go_live(row.item_id, row.revision, now_ms, due_at=row.at_ms)
            else:
                ran = self._take_down(row.item_id, now_ms, due_at=row.at_ms)
            if ran:
                done.append((row.item_id, row.action))
        return done

    def republish(self) -> int:
        """Hand the publisher the whole catalogue again (live snapshots and tombstones)."""
        messages = [self.topics.live(i.id, self.snapshot(i.id)) for i in self.list()]
        self._send(messages)
        return len(messages)

    # -- the writes' pieces --------------------------------------------------------------

    def _write(
        self, item_id: str, cleaned: dict[str, Any], if_match: int | None, author: str,
        message: str,
    ) -> Revision:  # fmt: skip
        author, message = _label("author", author, MAX_AUTHOR), self._message(message)
        now = self.clock()
        with self._writing() as conn:
            row = self._locked(conn, item_id)
            if if_match is not None and row.revision != if_match:
                raise Stale(row.revision)
            revision = Revision(item_id, row.revision + 1, cleaned, author, now, message)
            self._insert(conn, revision)
            conn.execute(
                sa.update(ITEMS)
                .where(ITEMS.c.id == item_id)
                .values(revision=revision.number, title=self._title(cleaned), updated_ms=now)
            )
            self._prune(conn, item_id, revision.number, row.live_revision)
        self._send([self.topics.revision(row.type, revision)])
        return revision

    def _go_live(
        self, item_id: str, revision: int | None, now: int, due_at: int | None = None
    ) -> bool:
        with self._writing() as conn:
            row = self._locked(conn, item_id)
            if due_at is not None and not self._claim(conn, item_id, "publish", due_at):
                return False
            number = row.revision if revision is None else revision
            found = conn.scalar(
                sa.select(REVISIONS.c.fields).where(
                    REVISIONS.c.item_id == item_id, REVISIONS.c.number == number
                )
            )
            if found is None:
                raise NotFound(f"{item_id} has no revision {number}")
            conn.execute(
                sa.update(ITEMS)
                .where(ITEMS.c.id == item_id)
                .values(live_revision=number, published_ms=now)
            )
            publications.opened(conn, item_id, number, now)
            self._unschedule(conn, item_id, "publish")
        self._send([self.topics.live(item_id, self.snapshot(item_id))])
        return True

    def _take_down(self, item_id: str, now: int, due_at: int | None = None) -> bool:
        with self._writing() as conn:
            self._locked(conn, item_id)
            if due_at is not None and not self._claim(conn, item_id, "unpublish", due_at):
                return False
            conn.execute(
                sa.update(ITEMS)
                .where(ITEMS.c.id == item_id, ITEMS.c.live_revision.is_not(None))
                .values(live_revision=None, unpublished_ms=now)
            )
            publications.closed(conn, item_id, now)
            self._unschedule(conn, item_id, "unpublish")
        self._send([self.topics.live(item_id, None)])
        return True

    def _schedule(self, item_id: str, action: str, at_ms: int, revision: int | None) -> Item:
        with self._writing() as conn:
            self._locked(conn, item_id)
            self._unschedule(conn, item_id, action)
            conn.execute(sa.insert(SCHEDULES).values(
                item_id=item_id, action=action, at_ms=at_ms, revision=revision,
            ))  # fmt: skip
        return self.item(item_id)

    def _claim(self, conn: sa.Connection, item_id: str, action: str, at_ms: int) -> bool:
        """Delete the due schedule; False if another process ran (or replaced) it first."""
        gone = conn.execute(
            sa.delete(SCHEDULES).where(
                SCHEDULES.c.item_id == item_id,
                SCHEDULES.c.action == action,
                SCHEDULES.c.at_ms == at_ms,
            )
        )
        return bool(gone.rowcount)

    def _unschedule(self, conn: sa.Connection, item_id: str, action: str) -> None:
        conn.execute(
            sa.delete(SCHEDULES).where(SCHEDULES.c.item_id == item_id, SCHEDULES.c.action == action)
        )

    def _prune(self, conn: sa.Connection, item_id: str, newest: int, live: int | None) -> None:
        """Drop revisions beyond the newest ``keep_revisions``, never a live or scheduled one."""
        if self.keep_revisions <= 0:
            return
        scheduled = sa.select(SCHEDULES.c.revision).where(
            SCHEDULES.c.item_id == item_id, SCHEDULES.c.revision.is_not(None)
        )
        conn.execute(
            sa.delete(REVISIONS).where(
                REVISIONS.c.item_id == item_id,
                REVISIONS.c.number <= newest - self.keep_revisions,
                REVISIONS.c.number != (live if live is not None else -1),
                REVISIONS.c.number.not_in(scheduled),
            )
        )

    def _locked(self, conn: sa.Connection, item_id: str) -> sa.Row[Any]:
        if not queries.known_id(item_id):
            raise NotFound(f"no content item {str(item_id)[:100]!r}")
        row = conn.execute(sa.select(ITEMS).where(ITEMS.c.id == item_id).with_for_update()).first()
        if row is None:
            raise NotFound(f"no content item {str(item_id)[:100]!r}")
        return row

    def _insert(self, conn: sa.Connection, revision: Revision) -> None:
        conn.execute(sa.insert(REVISIONS).values(
            item_id=revision.item_id, number=revision.number,
            fields=orjson.dumps(revision.fields).decode(), author=revision.author,
            created_ms=revision.created_ms, message=revision.message,
        ))  # fmt: skip

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Every write inside is one transaction: all or nothing; messages follow the commit."""
        if self._batch is not None:
            raise RuntimeError("a batch is open already")
        pending: list[Message] = []
        with dialects.for_writing(self.engine).begin() as conn:
            self._batch, self._pending = conn, pending
            try:
                yield
            finally:
                self._batch, self._pending = None, None
        self.publisher.send(pending)

    def _writing(self) -> contextlib.AbstractContextManager[sa.Connection]:
        if self._batch is not None:
            return contextlib.nullcontext(self._batch)
        return dialects.for_writing(self.engine).begin()

    def _send(self, messages: Sequence[Message]) -> None:
        if self._pending is not None:
            self._pending.extend(messages)
        else:
            self.publisher.send(messages)

    @staticmethod
    def _title(fields: dict[str, Any]) -> str:
        return str(fields.get("title", ""))

    @staticmethod
    def _message(message: object) -> str:
        return _label("message", message, MAX_MESSAGE, empty_ok=True)

    @staticmethod
    def _taken(key: str, item_id: str) -> Invalid:
        return Invalid({key: f"{item_id} exists already: edit it instead"})
