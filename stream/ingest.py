"""Turn one raw collector message into clean session batches and dead letters.

Two pure steps around one stateful one: ``screen`` decodes the message and judges each
event against the contract (and sanitises the ones that pass); the caller then claims the
survivors' ids in the dedupe store; ``assemble`` groups the claimed events by session and
dead-letters the duplicates. Whatever the input, every event ends in exactly one of the
two outputs: ``len(batched events) + len(dead) == events in`` (a message that cannot be
read at all counts as one event).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from stream.contract import DEFAULT_LIMITS, Limits, Rejection, validate_event
from stream.sanitize import sanitize_event

PAYLOAD_MAX: Final = 2048  # characters of the original kept on a dead letter
EVENT_MAX_BYTES: Final = 8 * 1024
_SMALL_MESSAGE: Final = 8 * 1024  # below this no single event can exceed EVENT_MAX_BYTES


@dataclass(frozen=True, slots=True)
class Position:
    """Where a raw message sits in Kafka: enough to find it again and to own its claims."""

    topic: str
    partition: int
    offset: int

    def token(self) -> str:
        return f"{self.partition}:{self.offset}"


@dataclass(slots=True)
class Screened:
    """A raw message after the contract check, before duplicate detection."""

    position: Position
    visitor_id: str = ""
    device: str = "unknown"
    received_at: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    accepted_index: list[int] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)
    scrubbed: int = 0

    def claims(self) -> list[tuple[str, str]]:
        """(event id, owner token) for each accepted event, for the dedupe store."""
        token = self.position.token()
        return [(event["event_id"], token) for event in self.accepted]

    def reject(self, rejection: Rejection, item: Any, index: int) -> None:
        payload = _payload(item)
        session = item.get("session_id") if isinstance(item, dict) else None
        self.dead.append(
            {
                "reason": rejection.reason,
                "field": rejection.field,
                "detail": rejection.detail,
                "payload": payload[:PAYLOAD_MAX],
                "truncated": len(payload) > PAYLOAD_MAX,
                "session_id": session[:64] if isinstance(session, str) else "",
                "visitor_id": self.visitor_id,
                "received_at": self.received_at,
                "source_topic": self.position.topic,
                "source_partition": self.position.partition,
                "source_offset": self.position.offset,
                "index": index,
            }
        )


def screen(value: bytes | None, position: Position, limits: Limits = DEFAULT_LIMITS) -> Screened:
    """Decode one raw message and judge its events; never raises on bad input."""
    out = Screened(position)
    try:
        envelope = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        out.reject(Rejection("malformed", "", "message is not valid JSON"), _text(value), -1)
        return out
    problem = _check_envelope(envelope)
    if problem is not None:
        out.reject(problem, envelope, -1)
        return out
    out.visitor_id = envelope["visitor_id"]
    out.device = envelope["device"]
    out.received_at = envelope["received_at"]
    seen: set[str] = set()
    check_size = len(value or b"") > _SMALL_MESSAGE
    for index, item in enumerate(envelope["events"]):
        if envelope["bot"]:
            out.reject(Rejection("bot", "", "sent by a crawler or automated client"), item, index)
            continue
        if check_size and len(orjson.dumps(item)) > EVENT_MAX_BYTES:
            out.reject(
                Rejection("size", "", f"event larger than {EVENT_MAX_BYTES} bytes"), item, index
            )
            continue
        verdict = validate_event(item, out.received_at, limits)
        if isinstance(verdict, Rejection):
            out.reject(verdict, item, index)
            continue
        if verdict["event_id"] in seen:
            out.reject(
                Rejection("duplicate", "event_id", "repeated within one request"), item, index
            )
            continue
        seen.add(verdict["event_id"])
        clean, changed = sanitize_event(verdict)
        out.scrubbed += changed
        out.accepted.append(clean)
        out.accepted_index.append(index)
    return out


def assemble(
    screened: Screened, owned: list[bool]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Group owned events into one batch per session; dead-letter the rest as duplicates."""
    sessions: dict[str, list[dict[str, Any]]] = {}
    rejection = Rejection("duplicate", "event_id", "event_id already seen")
    for event, index, mine in zip(screened.accepted, screened.accepted_index, owned, strict=True):
        if mine:
            sessions.setdefault(event["session_id"], []).append(event)
        else:
            screened.reject(rejection, event, index)
    position = screened.position
    batches = [
        {
            "session_id": session_id,
            "visitor_id": screened.visitor_id,
            "device": screened.device,
            "received_at": screened.received_at,
            "events": events,
            "source_partition": position.partition,
            "source_offset": position.offset,
            "source_index": index,
        }
        for index, (session_id, events) in enumerate(sessions.items())
    ]
    return batches, screened.dead


BATCH_KEYS: Final = frozenset({"session_id", "visitor_id", "device", "received_at", "events"})
EVENT_KEYS: Final = frozenset({"event_id", "type", "ts", "session_id", "url", "props"})


def is_clean_batch(value: Any) -> bool:
    """Whether ``value`` has the shape ``assemble`` gives batches (a cheap guard for readers)."""
    return (
        isinstance(value, dict)
        and value.keys() >= BATCH_KEYS
        and isinstance(value["events"], list)
        and all(isinstance(e, dict) and e.keys() >= EVENT_KEYS for e in value["events"])
    )


def _check_envelope(envelope: Any) -> Rejection | None:
    if not isinstance(envelope, dict):
        return Rejection("malformed", "", "message is not a JSON object")
    expected = (
        ("received_at", int),
        ("visitor_id", str),
        ("device", str),
        ("bot", bool),
        ("events", list),
    )
    for name, kind in expected:
        value = envelope.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return Rejection("malformed", name, f"envelope field {name!r} missing or wrong type")
    return None


def _payload(item: Any) -> str:
    if isinstance(item, str):
        return item
    try:
        return orjson.dumps(item).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(item)


def _text(value: bytes | None) -> str:
    return (value or b"")[: PAYLOAD_MAX * 4].decode("utf-8", errors="replace")
