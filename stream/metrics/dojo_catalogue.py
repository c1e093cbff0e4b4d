"""The catalogue the dojo figures are joined with: events (capacity, dates, ages) and resources.

It follows ``dojo.content`` (compacted, key = item id, value = the live snapshot as JSON or a
tombstone on unpublish). A snapshot's fields may sit at its top level or under ``fields``;
what cannot be read (not JSON, a missing title, a capacity that is not a whole number >= 0,
a date without an offset) leaves the item out: the figures of its id are still counted and
shown under the id, never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class DojoEvent:
    """A dojo event of the catalogue, as the figures need it."""

    id: str
    title: str
    capacity: int
    starts_ms: int
    closes_ms: int  # registration close; the start when the catalogue gives none
    tags: tuple[str, ...] = ()
    age_min: int | None = None
    age_max: int | None = None
    status: str = "scheduled"


@dataclass(frozen=True, slots=True)
class Resource:
    """A learning resource of the catalogue."""

    id: str
    title: str
    tags: tuple[str, ...] = ()
    age_min: int | None = None
    age_max: int | None = None


def _ms(value: Any) -> int | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return None if moment.tzinfo is None else int(moment.timestamp() * 1000)


def _whole(value: Any, low: int = 0, high: int = 100_000) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    return value if ok else None


def _text(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) and value.strip() else None


def _tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(tag[:40] for tag in value[:20] if isinstance(tag, str) and tag)


def read_item(item_id: str, value: bytes | None) -> DojoEvent | Resource | None:
    """The catalogue entry in one ``dojo.content`` record (None: a tombstone or unreadable)."""
    if value is None:
        return None
    try:
        snapshot = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(snapshot, dict):
        return None
    fields = snapshot.get("fields")
    fields = fields if isinstance(fields, dict) else snapshot
    title = _text(fields.get("title"))
    if title is None:
        return None
    ages = (_whole(fields.get("age_min"), 0, 99), _whole(fields.get("age_max"), 0, 99))
    if item_id.startswith("resource:"):
        return Resource(item_id, title, _tags(fields.get("tags")), *ages)
    if not item_id.startswith("event:"):
        return None
    capacity = _whole(fields.get("capacity"))
    starts = _ms(fields.get("starts_at"))
    if capacity is None or starts is None:
        return None
    closes = _ms(fields.get("registration_closes")) or starts
    status = fields.get("status")
    status = status if status in ("full", "cancelled") else "scheduled"
    return DojoEvent(item_id, title, capacity, starts, closes, _tags(fields.get("tags")), *ages,
                     status=status)  # fmt: skip


class Catalogue:
    """The live events and resources by id, kept from ``dojo.content`` records."""

    def __init__(self) -> None:
        self.events: dict[str, DojoEvent] = {}
        self.resources: dict[str, Resource] = {}
        self.version = 0  # bumped on every change, so joins can be cached

    def apply(self, key: bytes | str | None, value: bytes | None) -> None:
        """Take one record: an item published, changed or (tombstone) unpublished."""
        if key is None:
            return
        item_id = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        item = read_item(item_id, value)
        self.events.pop(item_id, None)
        self.resources.pop(item_id, None)
        if isinstance(item, DojoEvent):
            self.events[item_id] = item
        elif isinstance(item, Resource):
            self.resources[item_id] = item
        self.version += 1
