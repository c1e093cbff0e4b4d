"""What ``dlq inspect`` reports: counts by reason and field, samples, unreadable records.

Pure: letters go in (``add``, ``add_unreadable``), text lines or a JSON object come out.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from dojo_pulse.dlq.letters import Letter, Position, printable

FIELD_SHOWN: Final = 48  # a field name is a client's unknown key: any length, any characters
UNREADABLE_LISTED: Final = 20
WHOLE: Final = "(whole event)"


@dataclass(frozen=True, slots=True)
class Filters:
    """Which readable letters count: ``None`` admits any."""

    reason: str | None = None
    field: str | None = None
    since_ms: int | None = None

    def admit(self, letter: Letter) -> bool:
        """Whether ``letter`` matches every filter given."""
        return (
            (self.reason is None or letter.reason == self.reason)
            and (self.field is None or letter.field == self.field)
            and (self.since_ms is None or letter.received_at >= self.since_ms)
        )


@dataclass
class Summary:
    """Counts and the newest ``samples`` letters read per reason."""

    samples: int = 3
    by_reason: Counter[str] = field(default_factory=Counter)
    by_field: Counter[tuple[str, str]] = field(default_factory=Counter)
    kept: dict[str, deque[Letter]] = field(default_factory=dict)
    unreadable: int = 0
    unreadable_at: list[Position] = field(default_factory=list)

    def add(self, letter: Letter) -> None:
        """Count one readable letter (already admitted by the filters)."""
        self.by_reason[letter.reason] += 1
        self.by_field[letter.reason, letter.field] += 1
        self.kept.setdefault(letter.reason, deque(maxlen=self.samples)).append(letter)

    def add_unreadable(self, at: Position) -> None:
        """Count a record that is not a dead letter; only its place is ever shown."""
        self.unreadable += 1
        if len(self.unreadable_at) < UNREADABLE_LISTED:
            self.unreadable_at.append(at)

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())

    def to_json(self) -> dict[str, Any]:
        """The report as one JSON-ready object."""
        by_field: dict[str, dict[str, int]] = {}
        for (reason, name), count in sorted(self.by_field.items()):
            by_field.setdefault(reason, {})[name] = count
        return {
            "total": self.total,
            "by_reason": dict(sorted(self.by_reason.items())),
            "by_field": by_field,
            "unreadable": self.unreadable,
            "unreadable_at": [str(at) for at in self.unreadable_at],
            "samples": {
                reason: [letter.shown() for letter in kept]
                for reason, kept in sorted(self.kept.items())
                if kept
            },
        }

    def lines(self, topic: str) -> list[str]:
        """The report as text for a terminal."""
        out = [f"{topic}: {self.total} dead letters, {self.unreadable} unreadable"]
        if self.by_reason:
            out += ["", f"{'reason':<10} {'count':>8}"]
            out += [f"{r:<10} {n:>8}" for r, n in self.by_reason.most_common()]
            out += ["", f"{'reason':<10} {'field':<{FIELD_SHOWN}} {'count':>8}"]
            for (reason, name), count in self.by_field.most_common():
                shown = printable(name, FIELD_SHOWN) if name else WHOLE
                out.append(f"{reason:<10} {shown:<{FIELD_SHOWN}} {count:>8}")
        for reason, kept in sorted(self.kept.items()):
            if kept:
                out += ["", f"{reason}: {len(kept)} of {self.by_reason[reason]}, newest read last"]
                out += [line for letter in kept for line in _sample(letter)]
        if self.unreadable:
            out += ["", "unreadable (not JSON or not a dead letter; never shown, never replayed):"]
            out += [f"  {at}" for at in self.unreadable_at]
            if self.unreadable > len(self.unreadable_at):
                out.append(f"  and {self.unreadable - len(self.unreadable_at)} more")
        return out


def _sample(letter: Letter) -> list[str]:
    name = printable(letter.field, FIELD_SHOWN) if letter.field else WHOLE
    cut = " (cut)" if letter.truncated else ""
    return [
        f"  {letter.at}  received {moment(letter.received_at)}  {name}: "
        f"{printable(letter.detail, 200)}",
        f"    {printable(letter.payload)}{cut}",
    ]


def moment(ms: int) -> str:
    """Epoch ms as an ISO UTC time (or the number, when no calendar holds it)."""
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return str(ms)
