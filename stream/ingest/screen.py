"""Turn one raw collector message into clean session batches and dead letters.

Two pure steps around one stateful one: ``screen`` decodes the message and judges each
event against the contract (and sanitises the ones that pass); the caller then claims the
survivors' ids in the dedupe store; ``assemble`` groups the claimed events by session and
dead-letters the duplicates. Whatever the input, every event ends in exactly one of the
two outputs: ``len(batched events) + len(dead) == events in`` (a message that cannot be
read at all counts as one event). That holds by construction, not only because the checks
are total: whatever a check raises while judging one event makes that event a dead letter
(reason ``invalid``) instead of stopping the stage, and ``Faults`` keeps the bug visible.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from stream.ingest.contract import DEFAULT_LIMITS, Limits, Rejection, Unjudged, validate_event
from stream.ingest.sanitize import sanitize_event

log = logging.getLogger(__name__)

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
                "device": self.device,
                "received_at": self.received_at,
                "source_topic": self.position.topic,
                "source_partition": self.position.partition,
                "source_offset": self.position.offset,
                "index": index,
            }
        )


Validate = Callable[[Any, int, Limits], "dict[str, Any] | Rejection"]


class Faults:
    """Exceptions raised while judging events: counted by type, each type logged once.

    Such an exception is a bug of ours, not the sender's fault: the event becomes a dead
    letter (``invalid``) so the stage keeps going, and one warning per type says where the
    bug is. Only the type and the place are logged; the message may quote the event, and
    events may hold personal data.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def rejection(self, exc: Exception) -> Rejection:
        """Count ``exc`` (logged the first time its type is seen) and say why it refuses."""
        cause = exc.__cause__ if isinstance(exc, Unjudged) and exc.__cause__ else exc
        name = type(cause).__name__
        if name not in self.counts:
            frames = traceback.extract_tb(cause.__traceback__)
            where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "unknown"
            log.warning(
                "validate: judging an event raised %s at %s; such events are dead-lettered "
                "as invalid (logged once per exception type)",
                name,
                where,
            )
        self.counts[name] += 1
        field = exc.field if isinstance(exc, Unjudged) else ""
        return Rejection("invalid", field, f"the event could not be judged ({name})")


# The process's own tally, for callers that do not pass theirs (the validate stage).
FAULTS: Final = Faults()


def screen(
    value: bytes | None,
    position: Position,
    limits: Limits = DEFAULT_LIMITS,
    faults: Faults = FAULTS,
    validate: Validate = validate_event,
    keep: tuple[str, ...] = (),
) -> Screened:
    """Decode one raw message and judge its events; never raises, whatever the input.

    ``keep`` names the query parameters that survive sanitising besides ``utm_*``.
    """
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
    bot: bool = envelope["bot"]
    seen: set[str] = set()
    check_size = len(value or b"") > _SMALL_MESSAGE

    def judge(item: Any) -> tuple[dict[str, Any], bool] | Rejection:
        if bot:
            return Rejection("bot", "", "sent by a crawler or automated client")
        if check_size and _encoded_size(item) > EVENT_MAX_BYTES:
            return Rejection("size", "", f"event larger than {EVENT_MAX_BYTES} bytes")
        verdict = validate(item, out.received_at, limits)
        if isinstance(verdict, Rejection):
            return verdict
        if verdict["event_id"] in seen:
            return Rejection("duplicate", "event_id", "repeated within one request")
        return sanitize_event(verdict, keep)

    for index, item in enumerate(envelope["events"]):
        try:
            judged = judge(item)
        except Exception as exc:  # any check, any bug: one dead letter, never a dead stage
            judged = faults.rejection(exc)
        if isinstance(judged, Rejection):
            out.reject(judged, item, index)
            continue
        clean, changed = judged
        seen.add(clean["event_id"])
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


def _encoded_size(item: Any) -> int:
    try:
        return len(orjson.dumps(item))
    except orjson.JSONEncodeError:
        # Only nesting deeper than orjson writes gets here: too big in every sense.
        return EVENT_MAX_BYTES + 1


def _payload(item: Any) -> str:
    if isinstance(item, str):
        return item
    try:
        return orjson.dumps(item).decode()
    except orjson.JSONEncodeError:
        pass
    try:
        return repr(item)
    except RecursionError:  # orjson reads 1024 levels; repr gives up near 1000
        return "(nested too deep to show)"


def _text(value: bytes | None) -> str:
    return (value or b"")[: PAYLOAD_MAX * 4].decode("utf-8", errors="replace")
