"""What the content service hands out: revisions, items and their status, live snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUSES = ("draft", "published", "changed", "scheduled", "unpublished")


@dataclass(frozen=True)
class Revision:
    """One numbered, full snapshot of an item's fields, with who wrote it, when and why."""

    item_id: str
    number: int
    fields: dict[str, Any]
    author: str
    created_ms: int
    message: str

    def summary(self) -> dict[str, Any]:
        """The revision without its fields (a history list)."""
        return {
            "revision": self.number,
            "author": self.author,
            "created_ms": self.created_ms,
            "message": self.message,
        }


@dataclass(frozen=True)
class Item:
    """An item's bookkeeping: its newest and live revisions and pending schedules."""

    id: str
    type: str
    title: str
    revision: int
    live_revision: int | None
    created_ms: int
    updated_ms: int
    published_ms: int | None = None
    unpublished_ms: int | None = None
    # action (publish | unpublish) -> {"at_ms": ..., "revision": ... | None}
    scheduled: dict[str, dict[str, int | None]] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """draft, published, changed (a newer draft than the live one), scheduled or unpublished."""
        if self.live_revision is not None:
            return "published" if self.live_revision == self.revision else "changed"
        if "publish" in self.scheduled:
            return "scheduled"
        return "unpublished" if self.unpublished_ms is not None else "draft"

    def summary(self) -> dict[str, Any]:
        """The item as the admin list shows it."""
        return {
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "revision": self.revision,
            "live_revision": self.live_revision,
            "updated_ms": self.updated_ms,
        }


def snapshot(item_id: str, type_name: str, number: int, fields: dict[str, Any]) -> dict[str, Any]:
    """A live item as delivery, ``dojo.content`` and the agents see it."""
    return {"id": item_id, "type": type_name, "revision": number, **fields}
