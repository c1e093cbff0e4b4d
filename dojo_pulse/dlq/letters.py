"""One record of the dead-letter topic, read defensively: a ``Letter`` or nothing."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Final

import orjson

from stream.ingest.contract import REASONS
from stream.metrics.traffic_tallies import DEVICES
from stream.models.dead_letter import DeadLetter

# The documented shape, read from the record itself so the reader follows it.
_KINDS: Final = {"str": str, "int": int, "bool": bool}
SHAPE: Final = {name: _KINDS[kind] for name, kind in DeadLetter.__annotations__.items()}
OPTIONAL: Final = frozenset({"truncated", "device"})  # have a default on the record
UNKNOWN_DEVICE: Final = "unknown"  # the device of a letter written before letters kept it
SHOWN_MAX: Final = 2048  # characters of any one stored string shown, as the DLQ keeps


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a message sits in Kafka."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True, slots=True)
class Letter:
    """A readable dead letter and where it sits on the dead-letter topic."""

    at: Position
    reason: str
    field: str
    detail: str
    payload: str
    truncated: bool
    received_at: int
    visitor_id: str
    source: Position  # the raw message the event came from
    index: int  # the event's place in that message; -1: the whole message
    device: str = UNKNOWN_DEVICE  # one of the traffic state's device classes

    def shown(self) -> dict[str, Any]:
        """What ``inspect`` shows of it: documented fields, no visitor id."""
        return {
            "at": str(self.at),
            "reason": self.reason,
            "field": self.field,
            "detail": self.detail,
            "received_at": self.received_at,
            "source": str(self.source),
            "index": self.index,
            "payload": self.payload[:SHOWN_MAX],
            "truncated": self.truncated,
        }


def read_letter(at: Position, value: bytes | None) -> Letter | None:
    """The dead letter in ``value``, or None when it is not JSON or not a ``DeadLetter``."""
    try:
        record = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    for name, kind in SHAPE.items():
        if name not in record and name in OPTIONAL:
            continue
        item = record.get(name)
        if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
            return None
    if record["reason"] not in REASONS:
        return None
    if min(record["source_partition"], record["source_offset"], record["index"] + 1) < 0:
        return None
    return Letter(
        at=at,
        reason=record["reason"],
        field=record["field"],
        detail=record["detail"],
        payload=record["payload"],
        truncated=record.get("truncated", False),
        received_at=record["received_at"],
        visitor_id=record["visitor_id"],
        source=Position(
            record["source_topic"], record["source_partition"], record["source_offset"]
        ),
        index=record["index"],
        device=device if (device := record.get("device")) in DEVICES else UNKNOWN_DEVICE,
    )


def printable(text: str, limit: int = SHOWN_MAX) -> str:
    """``text`` cut to ``limit`` with control and invisible characters escaped for a terminal.

    A payload is whatever a client sent: an escape sequence in it must not drive the
    operator's terminal, and a right-to-left override must not disguise what is shown.
    """
    cut = text[:limit]
    shown = "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs")
        else ch
        for ch in cut
    )
    return shown + ("…" if len(text) > limit else "")
