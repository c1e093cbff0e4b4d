"""Per-partition metric state that survives restarts without counting anything twice.

A metric agent keeps one state object per input partition of ``dojo.events`` and applies
whole batches to it (aggregating close to the data). About once a second it checkpoints
each changed partition's state, together with the offset of the last message folded into
it, as ONE changelog message per partition; only then are the messages acknowledged, so
Kafka never commits past what a checkpoint holds. After a crash the state comes back from
the changelog and redelivered messages at or below the checkpoint's offset are skipped:
every message is counted exactly once.

The live snapshot is the merge of all partitions' states. A worker that does not own every
partition reads the others' latest checkpoints from Redis (written beside the changelog).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, Self, TypeVar

_OFFSET = struct.Struct(">q")


class MetricState(Protocol):
    """What every metric state class offers (see ``stream.traffic.TrafficState``)."""

    def apply(self, batch: Any, now_ms: int) -> None: ...
    def merge(self, other: Self, *, sessions: bool = True) -> Self: ...
    def snapshot(self, now_ms: int) -> dict[str, Any]: ...
    def expire(self, now_ms: int) -> None: ...
    def to_bytes(self) -> bytes: ...


S = TypeVar("S", bound=MetricState)


def encode_checkpoint(offset: int, state: MetricState) -> bytes:
    """Offset of the last folded message, then the state's own bytes."""
    return _OFFSET.pack(offset) + state.to_bytes()


def decode_checkpoint(data: bytes, load: Callable[[bytes], S]) -> tuple[int, S]:
    """Inverse of ``encode_checkpoint``."""
    (offset,) = _OFFSET.unpack_from(data)
    return offset, load(data[_OFFSET.size :])


@dataclass
class _Slot(Generic[S]):
    state: S
    offset: int = -1  # last message offset folded into ``state``
    dirty: bool = False


@dataclass
class Rollup(Generic[S]):
    """The states of the partitions this worker owns, and when to checkpoint them."""

    new: Callable[[], S]
    load: Callable[[bytes], S]
    checkpoint_every_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    slots: dict[int, _Slot[S]] = field(default_factory=dict)
    skipped: int = 0
    changed: bool = False
    _last_checkpoint: float = 0.0

    def restore(self, partition: int, checkpoint: bytes | None) -> None:
        """Start ``partition`` from a checkpoint (or empty when there is none)."""
        if checkpoint is None:
            self.slots[partition] = _Slot(self.new())
        else:
            offset, state = decode_checkpoint(checkpoint, self.load)
            self.slots[partition] = _Slot(state, offset)

    def owns(self, partition: int) -> bool:
        return partition in self.slots

    def apply(self, partition: int, offset: int, batch: Any, now_ms: int) -> bool:
        """Fold one message into its partition's state; False if a checkpoint already holds it."""
        slot = self.slots[partition]
        if offset <= slot.offset:
            self.skipped += 1
            return False
        slot.state.apply(batch, now_ms)
        slot.offset = offset
        slot.dirty = True
        self.changed = True
        return True

    def due(self) -> bool:
        """Whether a checkpoint is due (about once per ``checkpoint_every_s``)."""
        return self.clock() - self._last_checkpoint >= self.checkpoint_every_s

    def checkpoints(self, now_ms: int) -> list[tuple[int, bytes]]:
        """Expire and encode every changed partition; marks them clean."""
        self._last_checkpoint = self.clock()
        out = []
        for partition, slot in self.slots.items():
            if slot.dirty:
                slot.state.expire(now_ms)
                out.append((partition, encode_checkpoint(slot.offset, slot.state)))
                slot.dirty = False
        return out

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget partitions that moved to another worker."""
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
