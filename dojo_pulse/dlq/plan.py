"""Which dead letters a replay sends, and the raw messages and records it writes. Pure.

A replayed event goes back to ``dojo.events.raw`` in a ``RawBatch`` like the one the
collector wrote, one per original request, so the validate stage judges it again exactly
as it judges new traffic. What the batch keeps and why:

- ``received_at`` is the original: the contract judges an event's time against it, so an
  event that was on time when it arrived is on time again, and one whose client clock was
  wrong stays refused (``too_old`` and ``too_new`` judge the client, not the replay).
  Replaying the receive time of now would also put old events into today's windows.
- ``visitor_id`` and ``device`` are the original (the day's salted id; ``unknown`` for
  letters written before dead letters kept the device) and ``bot`` is false: the user agent
  is never stored, so a ``bot`` replay is the operator's word that those requests were people.

Never replayed: an unreadable record, a ``malformed`` letter (it was not an event object,
and no contract change makes it one), a whole-message letter (``index`` -1), a payload cut
to 2 KiB, and a letter already replayed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from collector.app import message_key
from dojo_pulse.dlq.letters import Letter, Position
from stream.models.raw import RawBatch


@dataclass(frozen=True, slots=True)
class Replay:
    """One raw message to send: the original request's replayable events, in their order."""

    source: Position
    letters: tuple[Letter, ...]
    key: bytes
    value: bytes


@dataclass
class Plan:
    """What a replay of one reason does."""

    letters: list[tuple[Letter, dict[str, Any]]] = field(default_factory=list)
    already: int = 0  # replayed before
    unfit: int = 0  # can never be replayed (see the module's docstring)

    def add(self, letter: Letter, replayed: set[str]) -> None:
        """Take ``letter`` (of the reason being replayed) into the plan, or count why not."""
        if str(letter.at) in replayed:
            self.already += 1
            return
        event = _event_of(letter)
        if event is None:
            self.unfit += 1
        else:
            self.letters.append((letter, event))

    def replays(self, site: str) -> list[Replay]:
        """One ``RawBatch`` message per original request, events in their original order."""
        groups: dict[Position, list[tuple[Letter, dict[str, Any]]]] = {}
        for letter, event in self.letters:
            groups.setdefault(letter.source, []).append((letter, event))
        out = []
        for source, members in sorted(groups.items()):
            members.sort(key=lambda pair: pair[0].index)
            first = members[0][0]
            events = [event for _letter, event in members]
            batch = RawBatch(
                received_at=first.received_at,
                visitor_id=first.visitor_id,
                device=first.device,
                bot=False,
                site=site,
                events=events,
            )
            out.append(
                Replay(
                    source=source,
                    letters=tuple(letter for letter, _event in members),
                    key=message_key(events),
                    value=orjson.dumps(batch.asdict()),
                )
            )
        return out


def plan(letters: Iterable[Letter], replayed: set[str]) -> Plan:
    """The plan for ``letters`` (already filtered), given the positions replayed before."""
    out = Plan()
    for letter in letters:
        out.add(letter, replayed)
    return out


def _event_of(letter: Letter) -> dict[str, Any] | None:
    if letter.reason == "malformed" or letter.index < 0 or letter.truncated:
        return None
    try:
        event = orjson.loads(letter.payload)
    except orjson.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


def record(letter: Letter, now_ms: int, raw: Position | None) -> tuple[bytes, bytes]:
    """The ``dojo.events.dlq.replayed`` message for ``letter`` (``raw``: None until sent)."""
    value = {
        "reason": letter.reason,
        "replayed_at": now_ms,
        "raw_partition": -1 if raw is None else raw.partition,
        "raw_offset": -1 if raw is None else raw.offset,
    }
    return str(letter.at).encode(), orjson.dumps(value)
