"""The publication log: which revision of each item was live, from when until when.

``content_publications`` (migration 0004) holds one row per stretch an item was live: the
revision, ``live_from_ms`` and ``live_until_ms`` (None while it still is). The service writes
it in the transaction of every publish and unpublish, scheduled ones too, so an item has an
open row exactly when ``content_items.live_revision`` is set. The reads answer the history
and BI views: what was live at a moment (``live_at``), what went live or off in a range
(``changes``). A new revision going live closes the old stretch and opens the next at the
same moment: that is one "published", not an "unpublished" too.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from stream.content.tables import ITEMS, METADATA, REVISIONS
from stream.content.types import TYPES

MAX_MS = 2**53  # times stay exact in JSON numbers (and far inside BIGINT)
MAX_CHANGES = 500  # per answer, oldest first: a dojo's catalogue changes a few times a day
PUBLICATIONS = sa.Table(
    "content_publications",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.Text, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("live_from_ms", sa.BigInteger, nullable=False),
    sa.Column("live_until_ms", sa.BigInteger, nullable=True),  # None: live now
)


def check_ms(name: str, value: object) -> int:
    """``value`` as epoch ms; ``ValueError`` unless a whole number from 0 to 2**53."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_MS:
        raise ValueError(f"{name} is epoch ms from 0 to {MAX_MS}")
    return value


def opened(conn: sa.Connection, item_id: str, revision: int, at_ms: int) -> None:
    """Log ``revision`` of ``item_id`` live from ``at_ms`` (the stretch before it ends there)."""
    now_live = conn.execute(
        sa.select(PUBLICATIONS.c.revision, PUBLICATIONS.c.live_from_ms).where(
            PUBLICATIONS.c.item_id == item_id, PUBLICATIONS.c.live_until_ms.is_(None)
        )
    ).first()
    if now_live is not None and now_live.revision == revision:
        return  # published again as it was: nothing changed on the site
    # A clock that stepped back must not end a stretch before it began.
    at_ms = max(at_ms, now_live.live_from_ms) if now_live is not None else at_ms
    closed(conn, item_id, at_ms)
    conn.execute(
        sa.insert(PUBLICATIONS).values(
            item_id=item_id, revision=revision, live_from_ms=at_ms, live_until_ms=None
        )
    )


def closed(conn: sa.Connection, item_id: str, at_ms: int) -> None:
    """End the live stretch of ``item_id`` at ``at_ms`` (none open: nothing to do)."""
    until = sa.case((PUBLICATIONS.c.live_from_ms > at_ms, PUBLICATIONS.c.live_from_ms), else_=at_ms)
    conn.execute(
        sa.update(PUBLICATIONS)
        .where(PUBLICATIONS.c.item_id == item_id, PUBLICATIONS.c.live_until_ms.is_(None))
        .values(live_until_ms=until)
    )


def live_at(conn: sa.Connection, at_ms: int) -> dict[str, int]:
    """``{item id: revision}`` of every item live at ``at_ms``."""
    at_ms = check_ms("at", at_ms)
    rows = conn.execute(
        sa.select(PUBLICATIONS.c.item_id, PUBLICATIONS.c.revision)
        .where(
            PUBLICATIONS.c.live_from_ms <= at_ms,
            sa.or_(PUBLICATIONS.c.live_until_ms.is_(None), PUBLICATIONS.c.live_until_ms > at_ms),
        )
        .order_by(PUBLICATIONS.c.item_id, PUBLICATIONS.c.live_from_ms, PUBLICATIONS.c.id)
    ).all()
    return {row.item_id: row.revision for row in rows}


def changes(
    conn: sa.Connection, from_ms: int, to_ms: int, type: str | None = None
) -> list[dict[str, Any]]:
    """What went live or off in [from_ms, to_ms), oldest first, at most ``MAX_CHANGES``.

    Each is ``{item_id, title, revision, action: published | unpublished, at_ms}``; the
    title is the one that revision had (the item's present one if the revision was pruned).
    """
    from_ms, to_ms = check_ms("from", from_ms), check_ms("to", to_ms)
    if from_ms >= to_ms:
        raise ValueError("from must be before to")
    if type is not None and (not isinstance(type, str) or type not in TYPES):
        raise ValueError(f"type is one of {', '.join(TYPES)}")
    log = PUBLICATIONS.c
    began = log.live_from_ms.between(from_ms, to_ms - 1)
    ended = log.live_until_ms.between(from_ms, to_ms - 1)
    query = (
        sa.select(log.item_id, log.revision, log.live_from_ms, log.live_until_ms, ITEMS.c.title,
                  REVISIONS.c.fields)
        .join(ITEMS, ITEMS.c.id == log.item_id)
        .outerjoin(REVISIONS, (REVISIONS.c.item_id == log.item_id)
                   & (REVISIONS.c.number == log.revision))
        .where(sa.or_(began, ended))
        .order_by(log.live_from_ms, log.id)
        .limit(2 * MAX_CHANGES)  # each row is at most two changes
    )  # fmt: skip
    if type is not None:
        query = query.where(ITEMS.c.type == type)
    rows = conn.execute(query).all()
    went_live = {(row.item_id, row.live_from_ms) for row in rows}
    found: list[dict[str, Any]] = []
    for row in rows:
        title = _title(row.fields, row.title)
        if from_ms <= row.live_from_ms < to_ms:
            found.append(_change(row.item_id, title, row.revision, "published", row.live_from_ms))
        until = row.live_until_ms
        if until is not None and from_ms <= until < to_ms and (row.item_id, until) not in went_live:
            found.append(_change(row.item_id, title, row.revision, "unpublished", until))
    found.sort(key=lambda change: (change["at_ms"], change["action"] == "published"))
    return found[:MAX_CHANGES]


def _change(item_id: str, title: str, revision: int, action: str, at_ms: int) -> dict[str, Any]:
    return {
        "item_id": item_id, "title": title, "revision": revision, "action": action,
        "at_ms": at_ms,
    }  # fmt: skip


def _title(fields: str | None, present: str) -> str:
    if fields is None:
        return present
    title = orjson.loads(fields).get("title")
    return title if isinstance(title, str) and title else present
