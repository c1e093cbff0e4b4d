"""Unacked: the messages folded since the last checkpoint, which it must cover before any ack.

A metric agent acknowledges a message only once a checkpoint holds it. This is the
bookkeeping of that order, kept apart from Faust so it can be tested with plain values:
fold (``admits`` then ``hold``), checkpoint (``release`` in the same step as the encode),
and revoke (drop what a partition taken away still holds).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

E = TypeVar("E")


class Unacked(Generic[E]):
    """Folded messages by partition, not yet checkpointed nor acknowledged."""

    def __init__(self) -> None:
        self.pending: list[tuple[int, E]] = []
        self.revoked: set[int] = set()  # partitions taken away during the current take

    def begin_take(self) -> None:
        """A new take starts: partitions revoked before it may be ours again."""
        self.revoked = set()

    def admits(self, partition: int) -> bool:
        """Whether a message of ``partition`` in this take may be folded at all.

        A partition taken away mid-take is not folded further: its next owner reads those
        messages again from the last commit.
        """
        return partition not in self.revoked

    def hold(self, partition: int, event: E) -> None:
        """Remember a folded message until a checkpoint covers it."""
        self.pending.append((partition, event))

    def release(self) -> list[E]:
        """The messages the checkpoint being written covers, in fold order; none remain."""
        pending, self.pending = self.pending, []
        return [event for _, event in pending]

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget the messages of partitions taken away: they must never be acknowledged.

        Acknowledging them later would commit what no checkpoint of this worker holds.
        """
        lost = set(partitions)
        self.pending = [(p, e) for p, e in self.pending if p not in lost]
        self.revoked |= lost

    def __len__(self) -> int:
        return len(self.pending)
