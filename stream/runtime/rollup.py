"""Per-partition metric state that survives restarts without counting anything twice.

A metric agent keeps one state object per input partition of ``dojo.events`` and applies
whole messages to it, each a bundle of session batches (aggregating close to the data).
About once a second it checkpoints each changed partition's state, together with the offset
of the last message folded into it, as ONE changelog message per partition; only then are
the messages acknowledged, so Kafka never commits past what a checkpoint holds. After a
crash the state comes back from the changelog and redelivered messages at or below the
checkpoint's offset are skipped: every message is counted exactly once.

The validate agent upstream can itself re-send a batch after a crash (it sends before it
commits). Each batch names its source (raw partition, offset, index); the state remembers
the highest source position folded per raw partition and drops anything at or below it.

The live snapshot is the merge of all partitions' states. A worker that does not own every
partition reads the others' latest checkpoints from Redis (written beside the changelog).

Faust commits an offset once any one of the agents reading a topic is done with it, so
after a crash the committed offset can lie beyond what a state's checkpoint holds. A state
therefore checks that offsets arrive without a gap: when the first message after a restore
is past the next expected offset, it asks for a rewind to that offset (the agent seeks the
consumer back) and skips messages until the expected one arrives.

In shared mode (for states that cannot merge, like online models) one state serves every
partition a worker reads; it still remembers an offset per partition, and its checkpoint
lives under slot 0.

States expire idle sessions, minutes and days on the slot's stream clock, not the wall
clock: the newest receive time folded, moved on by the wall clock since it was folded
(``stream_now``). Live, the two agree within the pipeline's lag; in a backfill or a backlog,
a session of last week stays open while its later batches are still arriving (on the wall
clock it would close between two of them, and count again as a new, bounced session).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, Self, TypeVar

import orjson

_HEADER = struct.Struct(">I")  # length of the JSON header that precedes the state bytes
# "<input partition>/<raw partition>" -> (offset, index) of the last batch folded. Batches of
# one raw partition arrive in order only within one input partition, so the pair is the key.
Sources = dict[str, tuple[int, int]]


class MetricState(Protocol):
    """What every metric state class offers (see ``stream.metrics.traffic.TrafficState``)."""

    def apply(self, batch: Any, now_ms: int) -> None: ...
    def merge(self, other: Self, *, sessions: bool = True) -> Self: ...
    def snapshot(self, now_ms: int) -> dict[str, Any]: ...
    def expire(self, now_ms: int) -> None: ...
    def to_bytes(self) -> bytes: ...


S = TypeVar("S", bound=MetricState)


Offsets = dict[int, int]  # input partition -> offset of the last message folded


def wall_ms() -> int:
    return int(time.time() * 1000)


def encode_checkpoint(
    offsets: Offsets, sources: Sources, state: MetricState, stream_ms: int = 0
) -> bytes:
    """A small JSON header (offsets folded, source positions, the stream clock), then the
    state's own bytes."""
    header: dict[str, Any] = {
        "offsets": {str(p): o for p, o in offsets.items()},
        "sources": {key: list(s) for key, s in sources.items()},
    }
    if stream_ms:
        header["stream_ms"] = stream_ms
    encoded = orjson.dumps(header)
    return _HEADER.pack(len(encoded)) + encoded + state.to_bytes()


def checkpoint_stream_ms(data: bytes) -> int:
    """The newest receive time a checkpoint's state had folded (0: written before it was kept)."""
    (size,) = _HEADER.unpack_from(data)
    value = orjson.loads(data[_HEADER.size : _HEADER.size + size]).get("stream_ms", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def decode_checkpoint(data: bytes, load: Callable[[bytes], S]) -> tuple[Offsets, Sources, S]:
    """Inverse of ``encode_checkpoint``."""
    (size,) = _HEADER.unpack_from(data)
    header = orjson.loads(data[_HEADER.size : _HEADER.size + size])
    offsets = {int(p): int(o) for p, o in header["offsets"].items()}
    sources = {key: (s[0], s[1]) for key, s in header["sources"].items()}
    return offsets, sources, load(data[_HEADER.size + size :])


@dataclass
class _Slot(Generic[S]):
    state: S
    offsets: Offsets = field(default_factory=dict)
    sources: Sources = field(default_factory=dict)
    dirty: bool = False
    stream_ms: int = 0  # the newest receive time folded (0: none yet)
    stream_seen_ms: int = 0  # the wall clock when it was folded (or restored)

    def stream_now(self, wall_ms: int) -> int:
        """The slot's stream clock at wall time ``wall_ms`` (never ahead of the wall)."""
        if not self.stream_ms:
            return wall_ms
        return min(wall_ms, self.stream_ms + max(0, wall_ms - self.stream_seen_ms))


@dataclass
class Rollup(Generic[S]):
    """The states of the partitions this worker owns, and when to checkpoint them."""

    new: Callable[[], S]
    load: Callable[[bytes], S]
    checkpoint_every_s: float = 1.0
    shared: bool = False
    clock: Callable[[], float] = time.monotonic
    slots: dict[int, _Slot[S]] = field(default_factory=dict)
    skipped: int = 0
    changed: bool = False
    rewinding: dict[int, int] = field(default_factory=dict)  # partition -> offset awaited
    rewinds: list[tuple[int, int]] = field(default_factory=list)  # seeks to make
    _last_checkpoint: float = 0.0

    def slot_of(self, partition: int) -> int:
        """The slot (and checkpoint key) holding ``partition``'s state."""
        return 0 if self.shared else partition

    def restore(self, partition: int, checkpoint: bytes | None) -> None:
        """Start ``partition``'s slot from a checkpoint (or empty when there is none)."""
        key = self.slot_of(partition)
        if key in self.slots:
            return
        if checkpoint is None:
            self.slots[key] = _Slot(self.new())
        else:
            offsets, sources, state = decode_checkpoint(checkpoint, self.load)
            stream_ms = checkpoint_stream_ms(checkpoint)
            # The stream clock goes on from where it stood, not from the downtime's end.
            self.slots[key] = _Slot(state, offsets, sources, False, stream_ms, wall_ms())

    def shared_state(self) -> S | None:
        """The one state of a shared rollup (None until a partition is restored)."""
        slot = self.slots.get(0)
        return None if slot is None else slot.state

    def mark_dirty(self, partition: int) -> None:
        """Have the next checkpoint save ``partition``'s state though no message changed it."""
        slot = self.slots.get(self.slot_of(partition))
        if slot is not None:
            slot.dirty = True

    def owns(self, partition: int) -> bool:
        return self.slot_of(partition) in self.slots

    def apply(self, partition: int, offset: int, batches: list[Any], now_ms: int) -> int:
        """Fold one message's batches into its partition's state; returns how many were new.

        0 for a message folded before (or skipped while a rewind is awaited); fewer than
        ``len(batches)`` when the validate agent re-sent some of them after a crash.
        """
        slot = self.slots[self.slot_of(partition)]
        last = slot.offsets.get(partition, -1)
        awaited = self.rewinding.get(partition)
        if awaited is not None and offset > awaited:
            self.skipped += 1  # read ahead before the rewind took effect
            return 0
        if awaited is not None and offset == awaited:
            del self.rewinding[partition]
        elif offset > last + 1:  # a gap: someone committed past this state's checkpoint
            self.rewinding[partition] = last + 1
            self.rewinds.append((partition, last + 1))
            self.skipped += 1
            return 0
        if offset <= last:  # redelivered after a restart
            self.skipped += 1
            return 0
        slot.offsets[partition] = offset
        slot.dirty = True
        folded = 0
        for batch in batches:
            source = batch.get("source_partition", -1)
            if source >= 0:
                key = f"{partition}/{source}"
                position = (batch["source_offset"], batch["source_index"])
                if position <= slot.sources.get(key, (-1, -1)):  # re-sent by the validate agent
                    self.skipped += 1
                    continue
                slot.sources[key] = position
            slot.state.apply(batch, now_ms)
            received = batch.get("received_at")
            if isinstance(received, int) and received > slot.stream_ms:
                slot.stream_ms, slot.stream_seen_ms = received, now_ms
            folded += 1
        self.changed = self.changed or folded > 0
        return folded

    def due(self) -> bool:
        """Whether a checkpoint is due (about once per ``checkpoint_every_s``)."""
        return self.clock() - self._last_checkpoint >= self.checkpoint_every_s

    def checkpoints(
        self, now_ms: int, closing: Callable[[int, S], None] | None = None
    ) -> list[tuple[int, bytes]]:
        """Expire and encode every changed partition; marks them clean.

        ``closing`` sees each changed state just before it expires: what expiring drops
        must be read first (``stream.runtime.minutes_out``).
        """
        self._last_checkpoint = self.clock()
        out = []
        for partition, slot in self.slots.items():
            if slot.dirty:
                if closing is not None:
                    closing(partition, slot.state)
                slot.state.expire(slot.stream_now(now_ms))
                blob = encode_checkpoint(slot.offsets, slot.sources, slot.state, slot.stream_ms)
                out.append((partition, blob))
                slot.dirty = False
        return out

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget partitions that moved to another worker.

        A shared state is forgotten only with partition 0, where its checkpoint lives: the
        next owner of partition 0 (maybe this worker again) restores it from there.
        """
        partitions = set(partitions)
        for partition in partitions:
            self.rewinding.pop(partition, None)
        self.rewinds = [(p, o) for p, o in self.rewinds if p not in partitions]
        if self.shared:
            partitions = {0} if 0 in partitions else set()
        for partition in partitions:
            self.slots.pop(partition, None)

    def merged(self, others: Iterable[S] = ()) -> S | None:
        """All owned states (plus ``others``) merged into one, for a snapshot."""
        states = [slot.state for slot in self.slots.values()] + list(others)
        if not states:
            return None
        total = states[0]
        for state in states[1:]:
            # Snapshots never read per-session facts, so the display merge skips them.
            total = total.merge(state, sessions=False)
        return total
