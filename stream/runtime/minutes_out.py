"""minutes_out: closed minutes of the states a worker holds, as ``history.minutes`` records.

Key ``"<channel>|<start>|<part>"`` and value ``{"channel", "start", "part", "tally"}``
(``docs/topics.md``). The topic is compacted: a minute sent again replaces its older record,
so sending is idempotent and a restart may send any minute again.

``MinutesOut`` remembers, per held slot, the version (``stream.metrics.minutes.Marks``) of
every closed minute it sent and sends a minute again only when its version moved (a later
event changed it). The aggregator collects just before a state expires, in the same step as
the checkpoint (``Rollup.checkpoints``): whatever a state drops has been collected, however
much event time one take spans, and what is sent is what the checkpoint holds, so a worker
restarted from it sends the same values again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import orjson

from stream.sketches.tally import Tally, TallyError

TOPIC = "history.minutes"  # under the deployment's prefix: ``settings.topic(TOPIC)``
Record = tuple[bytes, bytes]  # (key, value)


class Versions(Protocol):
    """A state's minute versions (``stream.metrics.minutes.Marks``)."""

    def version(self, start: int) -> int: ...


@runtime_checkable
class MinuteSource(Protocol):
    """A state that keeps minute windows for history (every metric state does)."""

    @property
    def marks(self) -> Versions: ...
    def closed_minutes(self) -> list[int]: ...
    def minute_tally(self, start: int) -> Tally | None: ...


@dataclass(frozen=True)
class MinuteRecord:
    """One record of ``history.minutes``, as read back."""

    channel: str
    start: int
    part: int
    tally: Tally


def minute_key(channel: str, start: int, part: int) -> bytes:
    """The record key: one per channel, minute and source partition."""
    return f"{channel}|{start}|{part}".encode()


def minute_record(channel: str, start: int, part: int, tally: Tally) -> Record:
    """The (key, value) of one closed minute."""
    value = {"channel": channel, "start": start, "part": part, "tally": tally.to_wire()}
    return minute_key(channel, start, part), orjson.dumps(value)


def read_minute_record(value: bytes | None) -> MinuteRecord:
    """Parse a record's value; anything malformed raises ``TallyError``."""
    try:
        raw: Any = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise TallyError(f"a minute record is not JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise TallyError("a minute record is a JSON object")
    channel, start, part = raw.get("channel"), raw.get("start"), raw.get("part")
    if not isinstance(channel, str) or not channel or "|" in channel:
        raise TallyError("a minute record's channel is a non-empty string without '|'")
    for name, number in (("start", start), ("part", part)):
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise TallyError(f"a minute record's {name} is a non-negative integer")
    assert isinstance(start, int) and isinstance(part, int)
    return MinuteRecord(channel, start, part, Tally.from_wire(raw.get("tally")))


class Sender(Protocol):
    """Where records go (a Faust topic): ``send`` returns what resolves once Kafka holds it."""

    async def send(self, *, key: bytes, value: bytes) -> Awaitable[Any]: ...


async def deliver(topic: Sender, records: list[Record]) -> None:
    """Send ``records`` and return once Kafka holds every one of them.

    A metric state drops a closed minute right after collecting it, and its checkpoint no
    longer holds it: the minute must be in Kafka before that checkpoint is, or a worker
    killed in between restores a state without it and never sends it again.
    """
    sent = [await topic.send(key=key, value=value) for key, value in records]
    await asyncio.gather(*sent)


class MinutesOut:
    """What each held slot of one channel has sent, and which closed minutes are due."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        # slot -> (the marks of the state it was sent from, start -> version sent)
        self._sent: dict[int, tuple[Versions, dict[int, int]]] = {}

    def collect(self, part: int, state: MinuteSource) -> list[Record]:
        """Records of the slot's closed minutes not sent yet or changed since sent."""
        marks = state.marks
        held = self._sent.get(part)
        if held is None or held[0] is not marks:  # a new or restored state: all unsent
            held = self._sent[part] = (marks, {})
        sent = held[1]
        out = []
        due = state.closed_minutes()
        for start in due:
            version = marks.version(start)
            if sent.get(start) == version:
                continue
            tally = state.minute_tally(start)
            if tally is not None:
                out.append(minute_record(self.channel, start, part, tally))
            sent[start] = version
        if len(sent) > len(due):  # the state dropped minutes: forget them too
            keep = set(due)
            for start in [s for s in sent if s not in keep]:
                del sent[start]
        return out

    def forget(self, parts: Iterable[int]) -> None:
        """Forget slots that moved to another worker."""
        for part in parts:
            self._sent.pop(part, None)
