"""Content reads: items, revisions, the admin list and the live catalogue."""

from __future__ import annotations

import builtins
import contextlib
from typing import Any

import orjson
import sqlalchemy as sa

from stream.content import publications
from stream.content.diff import diff_fields
from stream.content.errors import NotFound
from stream.content.records import STATUSES, Item, Revision, snapshot
from stream.content.tables import ITEMS, REVISIONS, SCHEDULES
from stream.content.types import TYPES

MAX_QUERY = 200
MAX_ID = 300  # "page:" and a path of at most 200 characters, with room to spare


def known_id(item_id: object) -> bool:
    """Whether ``item_id`` could name an item (PostgreSQL cannot even compare a NUL)."""
    return isinstance(item_id, str) and 0 < len(item_id) <= MAX_ID and item_id.isprintable()


class Reader:
    """Reads of the content tables of one store (the service's read half)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._batch: sa.Connection | None = None  # see ContentService.batch

    def _connect(self) -> contextlib.AbstractContextManager[sa.Connection]:
        """A connection to read on: the open batch's (it sees its own writes), else a new one."""
        if self._batch is not None:
            return contextlib.nullcontext(self._batch)
        return self.engine.connect()

    def item(self, item_id: str) -> Item:
        """The bookkeeping of ``item_id``; ``NotFound`` if there is none."""
        items = self._items(ITEMS.c.id == item_id) if known_id(item_id) else []
        if not items:
            raise NotFound(f"no content item {str(item_id)[:100]!r}")
        return items[0]

    def get(self, item_id: str) -> dict[str, Any]:
        """The item with its newest fields: what the admin edit form loads."""
        item = self.item(item_id)
        return {
            "id": item.id,
            "type": item.type,
            "fields": self.revision(item_id, item.revision).fields,
            "revision": item.revision,
            "live_revision": item.live_revision,
            "status": item.status,
            "scheduled": item.scheduled,
        }

    def revision(self, item_id: str, number: int) -> Revision:
        """Revision ``number`` of ``item_id``; ``NotFound`` if it never was or was pruned."""
        if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 2**31:
            raise NotFound("a revision is a whole number")
        if not known_id(item_id):
            raise NotFound(f"no content item {str(item_id)[:100]!r}")
        with self._connect() as conn:
            row = conn.execute(
                sa.select(REVISIONS).where(
                    REVISIONS.c.item_id == item_id, REVISIONS.c.number == number
                )
            ).first()
        if row is None:
            raise NotFound(f"{str(item_id)[:100]!r} has no revision {number}")
        return _revision(row)

    def revisions(self, item_id: str) -> builtins.list[Revision]:
        """Every kept revision of ``item_id``, newest first."""
        self.item(item_id)
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(REVISIONS)
                .where(REVISIONS.c.item_id == item_id)
                .order_by(REVISIONS.c.number.desc())
            ).all()
        return [_revision(row) for row in rows]

    def list(
        self, type: str | None = None, status: str | None = None, q: str | None = None
    ) -> builtins.list[Item]:
        """Items by id, of one ``type``, ``status`` and/or with ``q`` in the title or id."""
        if type and type not in TYPES:
            return []
        items = self._items(ITEMS.c.type == type if type else sa.true())
        if status:
            if status not in STATUSES:
                return []
            items = [i for i in items if i.status == status]
        if q:
            # Matched here, not in SQL: LIKE treats % and _ as wildcards and folds case
            # differently per database; a dojo's catalogue is hundreds of items.
            needle = q[:MAX_QUERY].casefold()
            items = [i for i in items if needle in i.title.casefold() or needle in i.id.casefold()]
        return items

    def snapshot(self, item_id: str) -> dict[str, Any] | None:
        """The live snapshot of ``item_id`` (None: not published)."""
        item = self.item(item_id)
        if item.live_revision is None:
            return None
        live = self.revision(item_id, item.live_revision)
        return snapshot(item.id, item.type, live.number, live.fields)

    def published(self, type: str | None = None) -> builtins.list[dict[str, Any]]:
        """The live snapshots (of one ``type``), by id: all that delivery may show."""
        if type is not None and type not in TYPES:
            return []
        query = (
            sa.select(ITEMS.c.id, ITEMS.c.type, REVISIONS.c.number, REVISIONS.c.fields)
            .join(
                REVISIONS,
                (REVISIONS.c.item_id == ITEMS.c.id) & (REVISIONS.c.number == ITEMS.c.live_revision),
            )
            .order_by(ITEMS.c.id)
        )
        if type is not None:
            query = query.where(ITEMS.c.type == type)
        with self._connect() as conn:
            rows = conn.execute(query).all()
        return [snapshot(r.id, r.type, r.number, orjson.loads(r.fields)) for r in rows]

    def diff(self, item_id: str, a: int, b: int | None = None) -> builtins.list[dict[str, Any]]:
        """What revision ``a`` changes against ``b`` (default the live one; none: nothing live)."""
        after = self.revision(item_id, a).fields
        base = b if b is not None else self.item(item_id).live_revision
        before = self.revision(item_id, base).fields if base is not None else {}
        return diff_fields(before, after)

    def live_at(self, at_ms: int) -> dict[str, int]:
        """``{item id: revision}`` live at ``at_ms`` (the publication log)."""
        with self._connect() as conn:
            return publications.live_at(conn, at_ms)

    def changes(
        self, from_ms: int, to_ms: int, type: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """What was published or unpublished in [from_ms, to_ms) (of one ``type``), oldest first."""
        with self._connect() as conn:
            return publications.changes(conn, from_ms, to_ms, type)

    def _items(self, where: sa.ColumnElement[bool]) -> builtins.list[Item]:
        with self._connect() as conn:
            rows = conn.execute(sa.select(ITEMS).where(where).order_by(ITEMS.c.id)).all()
            ids = [row.id for row in rows]
            plans: dict[str, dict[str, dict[str, int | None]]] = {}
            if ids:
                for s in conn.execute(sa.select(SCHEDULES).where(SCHEDULES.c.item_id.in_(ids))):
                    plans.setdefault(s.item_id, {})[s.action] = {
                        "at_ms": s.at_ms,
                        "revision": s.revision,
                    }
        return [
            Item(
                row.id, row.type, row.title, row.revision, row.live_revision, row.created_ms,
                row.updated_ms, row.published_ms, row.unpublished_ms, plans.get(row.id, {}),
            )
            for row in rows
        ]  # fmt: skip


def _revision(row: sa.Row[Any]) -> Revision:
    return Revision(
        row.item_id, row.number, orjson.loads(row.fields), row.author, row.created_ms, row.message
    )
