"""What publishing writes to Kafka, and the seam (``Publisher``) it is written through.

``dojo.content`` (compacted, key = item id) carries each item's live snapshot, or a
tombstone (no value) once it is unpublished: the newest message per key is the catalogue.
``dojo.content.revisions`` (key = item id) carries every revision as it is written.
Messages are sent after the database commit; sending one again changes nothing a reader
keeps (the same key, the same value), so the live feed re-sends the live catalogue at start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from stream.content.records import Revision
from stream.settings import Settings
from stream.topics import content_revisions_topic, content_topic


@dataclass(frozen=True)
class Message:
    """One Kafka message: ``value`` None is a tombstone."""

    topic: str
    key: str
    value: bytes | None


class Publisher(Protocol):
    """Where the service hands its messages after each commit (must not block on Kafka)."""

    def send(self, messages: Sequence[Message]) -> None:
        """Queue ``messages`` for sending, in order."""


class Outbox:
    """A publisher that keeps the messages in memory (tests, and commands that send later)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def send(self, messages: Sequence[Message]) -> None:
        """Keep ``messages``."""
        self.messages.extend(messages)


@dataclass(frozen=True)
class Topics:
    """The two content topics of one deployment."""

    content: str
    revisions: str

    @classmethod
    def of(cls, settings: Settings) -> Topics:
        """The content topics under ``settings``' prefix."""
        return cls(content_topic(settings), content_revisions_topic(settings))

    def live(self, item_id: str, snapshot: dict[str, Any] | None) -> Message:
        """The catalogue message of ``item_id``: its live snapshot, or a tombstone."""
        value = None if snapshot is None else orjson.dumps(snapshot)
        return Message(self.content, item_id, value)

    def revision(self, type_name: str, revision: Revision) -> Message:
        """The record of one written revision."""
        record = {"id": revision.item_id, "type": type_name, **_revision_fields(revision)}
        return Message(self.revisions, revision.item_id, orjson.dumps(record))


def _revision_fields(revision: Revision) -> dict[str, Any]:
    return {**revision.summary(), "fields": revision.fields}
