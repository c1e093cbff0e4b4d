"""Raw partitions read in step: a take goes on in order of receive time, never one partition ahead.

Metric states window events on their partition's event clock, and an event whose minute
has closed is late (``stream.sketches.windows``). One take of the validate stage holds a
run of each raw partition; sent in fetch order (all of partition 0, then all of 1), one
clean partition would see partition 0's newest events before partition 1's oldest. Live,
a take spans a second; in a backlog or a backfill of quiet hours, a run of 150 requests
spans hours, and half the events of every take came late.

``in_step`` keeps of each partition's run only the records received up to the earliest
of the runs' last receive times (the partition furthest behind is taken whole) and orders
the take by receive time, stably, so a session's batches keep their order. The rest is
read again from the offset it names: the next take starts there. A partition with more
to read that a fetch lacks (its fetch is still on the way) holds the take back to the time
that partition has reached; once every partition is read again, one fetch brings them all.
Pure: records in, records out.

Reading again by seeking the consumer back threw away what it had fetched ahead, so every
take waited for a new fetch of each partition cut (``bench/``: the validate stage ran at a
few hundred events/s in a backlog). ``Ahead`` keeps what a take left in memory instead: it
goes first in the next take, and only what follows it is fetched.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Generic, NamedTuple, Protocol, TypeVar

import orjson


class Received(Protocol):
    """What ``in_step`` reads of a raw record: where it is and its JSON value."""

    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


R = TypeVar("R", bound=Received)
K = TypeVar("K")


def received_at(value: bytes | None) -> int:
    """A raw message's receive time; 0 for one that has none (the screen rejects it)."""
    try:
        envelope = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return 0
    at = envelope.get("received_at") if isinstance(envelope, dict) else None
    return at if isinstance(at, int) and not isinstance(at, bool) else 0


class Step(NamedTuple, Generic[K, R]):
    """One take's plan: what goes on, from where, and what to read again."""

    take: list[R]  # in receive order
    kept: dict[K, list[R]]  # per partition, the prefix of its run that goes on
    again: dict[K, int]  # per partition, the offset of the first record left
    reached: dict[K, int]  # per partition with records taken, the receive time reached


def in_step(fetched: Mapping[K, Sequence[R]], behind: Mapping[K, int] | None = None) -> Step[K, R]:
    """The take of ``fetched``; ``behind``: partitions with more to read that this fetch
    lacks, with the receive time each has reached (nothing after it goes on yet).

    >>> from collections import namedtuple
    >>> Rec = namedtuple("Rec", "offset value")
    >>> def rec(offset, at): return Rec(offset, b'{"received_at": %d}' % at)
    >>> step = in_step({0: [rec(0, 10), rec(1, 50)], 1: [rec(7, 20), rec(8, 30)]})
    >>> [r.offset for r in step.take], step.again, step.reached
    ([0, 7, 8], {0: 1}, {0: 10, 1: 30})
    >>> in_step({0: [rec(0, 10), rec(1, 50)]}, behind={1: 5}).take
    []
    """
    times = {key: _running_max(records) for key, records in fetched.items()}
    ends = [at[-1] for at in times.values() if at] + list((behind or {}).values())
    cut = min(ends, default=0)
    step: Step[K, R] = Step([], {}, {}, {})
    take: list[tuple[int, R]] = []
    for key, records in fetched.items():
        at = times[key]
        # A prefix, so that offsets stay contiguous: commit and re-read points are exact.
        n = next((i for i, t in enumerate(at) if t > cut), len(at))
        if n:
            step.kept[key] = list(records[:n])
            step.reached[key] = at[n - 1]
            take += zip(at[:n], records[:n], strict=True)
        if n < len(records):
            step.again[key] = records[n].offset
    take.sort(key=lambda item: item[0])  # stable: a partition's records keep their order
    step.take.extend(record for _, record in take)
    return step


def _running_max(records: Sequence[Received]) -> list[int]:
    # Never decreasing, so the partition furthest behind is always taken whole: a record
    # without a time, or received a little before the one ahead of it, goes with that one.
    out, high = [], 0
    for record in records:
        high = max(high, received_at(record.value))
        out.append(high)
    return out


class Ahead(Generic[K, R]):
    """What takes left per partition (it ran ahead), to go first in the next take.

    The held run of a partition is the tail of what the consumer returned, so the consumer's
    position is just past it. A position elsewhere means the consumer was moved (a rebalance
    or a seek): that partition's held run is dropped and the consumer's records are the truth
    (from its last commit, or past what another owner committed). This relies on the raw
    topic's offsets being contiguous: no transactions, no compaction (``stream.topics``).
    """

    def __init__(self) -> None:
        self.held: dict[K, list[R]] = {}

    def __bool__(self) -> bool:
        return bool(self.held)

    def size(self, key: K) -> int:
        """How many records of ``key`` are held."""
        return len(self.held.get(key, ()))

    def join(
        self, fetched: Mapping[K, Sequence[R]], positions: Mapping[K, int | None]
    ) -> dict[K, list[R]]:
        """Each partition's held run followed by its newly ``fetched`` run; empties the hold.

        ``positions``: the consumer's next offset of each assigned partition (None: unknown).
        A held run is kept only where the consumer stands right after it, past what ``fetched``
        brought; a partition not in ``positions`` is no longer this consumer's.
        """
        out: dict[K, list[R]] = {}
        for key, held in self.held.items():
            new = fetched.get(key, ())
            last = new[-1].offset if new else held[-1].offset
            if positions.get(key) == last + 1 and (not new or new[0].offset == held[-1].offset + 1):
                out[key] = held
        self.held = {}
        for key, records in fetched.items():
            if records:
                out[key] = out.get(key, []) + list(records)
        return out

    def keep(
        self, joined: Mapping[K, Sequence[R]], again: Mapping[K, int], mine: Collection[K]
    ) -> None:
        """Hold the records of each partition from the offset ``in_step`` would read again."""
        for key, offset in again.items():
            if key in mine:
                records = joined[key]
                self.held[key] = [r for r in records if r.offset >= offset]

    def drop(self, keys: Collection[K]) -> None:
        """Forget the held runs of ``keys`` (the consumer is sent back to read them)."""
        for key in keys:
            self.held.pop(key, None)
