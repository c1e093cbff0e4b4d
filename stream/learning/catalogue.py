"""The published catalogue as the recommender sees it, followed from ``dojo.content``.

``dojo.content`` is compacted: key = content item id (``event:scratch-2026-12-05``), value =
the live snapshot as JSON, or a tombstone (no value) once the item is unpublished. Each
record is folded in with ``follow``; ``allows`` then says whether a site path may be
recommended at ``now_ms``:

- until the catalogue holds a published item, every path may (the behaviour from before
  content existed: the recommender's own item rules still apply);
- afterwards only the paths of published items: ``/events/<slug>``, ``/resources/<slug>``
  and a page's own path; never a dojo event that has ended (or, without an end, begun), is
  full or is cancelled.

A record that cannot be read (not JSON, not an object, an unknown type, no usable path)
withdraws what its key said before: only what is understood is recommended.

>>> catalogue = Catalogue()
>>> catalogue.allows("/events/x", 0)
True
>>> catalogue.follow(b"event:x", b'{"type": "event", "slug": "x", "status": "full"}')
True
>>> catalogue.allows("/events/x", 0), catalogue.allows("/about", 0)
(False, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

KINDS: Final = {"event": "/events/", "resource": "/resources/"}
CLOSED: Final = frozenset({"full", "cancelled"})
MAX_KEY_BYTES: Final = 500


@dataclass(frozen=True, slots=True)
class Entry:
    """What the recommender needs of one published item."""

    path: str
    until_ms: int | None = None  # an event: when it stops being worth recommending
    closed: bool = False  # an event that is full or cancelled


class Catalogue:
    """Published items by site path, folded from ``dojo.content`` records."""

    def __init__(self) -> None:
        self._paths: dict[str, str] = {}  # item id -> its path
        self._entries: dict[str, Entry] = {}  # path -> entry
        self.version = 0  # counts the records folded in: what was served from an older one is stale

    def __len__(self) -> int:
        return len(self._entries)

    def follow(self, key: bytes | str | None, value: bytes | str | None) -> bool:
        """Fold one ``dojo.content`` record in; False when its value could not be read."""
        item_id = _text(key)
        if item_id is None:
            return False
        entry = entry_of(item_id, value) if value is not None else None
        old = self._paths.pop(item_id, None)
        if old is not None:
            self._entries.pop(old, None)
        if entry is not None:
            self._paths[item_id] = entry.path
            self._entries[entry.path] = entry
        self.version += 1
        return entry is not None or value is None

    def allows(self, path: str, now_ms: int) -> bool:
        """Whether ``path`` may be recommended at ``now_ms``."""
        if not self._entries:
            return True
        entry = self._entries.get(path)
        if entry is None or entry.closed:
            return False
        return entry.until_ms is None or entry.until_ms > now_ms


def entry_of(item_id: str, value: bytes | str) -> Entry | None:
    """The entry a live snapshot describes, or None when it describes nothing recommendable."""
    try:
        snapshot = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(snapshot, dict):
        return None
    fields = snapshot  # the type's fields sit beside its id, type and revision
    kind = snapshot.get("type")
    kind = kind if isinstance(kind, str) else item_id.partition(":")[0]
    if kind == "page":
        path = fields.get("path", item_id.partition(":")[2])
        return Entry(path) if isinstance(path, str) and path.startswith("/") else None
    prefix = KINDS.get(kind)
    if prefix is None:
        return None
    slug = fields.get("slug") or item_id.partition(":")[2]
    if not isinstance(slug, str) or not slug or "/" in slug:
        return None
    if kind == "resource":
        return Entry(prefix + slug)
    until = _ms(fields.get("ends_at"))
    until = until if until is not None else _ms(fields.get("starts_at"))
    status = fields.get("status", "scheduled")
    # A status that is not a word of the contract cannot say the event is open.
    return Entry(prefix + slug, until, not isinstance(status, str) or status in CLOSED)


def _text(key: bytes | str | None) -> str | None:
    if isinstance(key, bytes):
        if len(key) > MAX_KEY_BYTES:
            return None
        try:
            key = key.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return key if isinstance(key, str) and key else None


def _ms(value: Any) -> int | None:
    """Epoch ms of an ISO 8601 time (no offset: UTC), or None."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)
