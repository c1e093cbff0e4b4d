"""Fold, checkpoint, acknowledge and revoke in the agent's order, with a fake clock.

The agent's loop (``stream.runtime.aggregate``) is: for each message of a take, skip it if
its partition was revoked mid-take, fold it, hold it unacknowledged; when the rollup says a
checkpoint is due, encode the changed states and release exactly the held messages in the
same step, then acknowledge them. These tests run that order on the real ``Rollup`` and
``Unacked`` without Kafka or Faust.
"""

from __future__ import annotations

from typing import Any, Self

from stream.runtime.rollup import Rollup, decode_checkpoint
from stream.runtime.unacked import Unacked

Message = tuple[int, int]  # (partition, offset)


class Count:
    """The smallest metric state: how many batches it folded."""

    def __init__(self, n: int = 0) -> None:
        self.n = n

    def apply(self, batch: Any, now_ms: int) -> None:
        self.n += 1

    def merge(self, other: Self, *, sessions: bool = True) -> Self:
        return type(self)(self.n + other.n)

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        return {"n": self.n}

    def expire(self, now_ms: int) -> None:
        """Nothing ages out of a count."""

    def to_bytes(self) -> bytes:
        return str(self.n).encode()

    @classmethod
    def load(cls, data: bytes) -> Count:
        return cls(int(data))


class Agent:
    """The agent's loop over the pure runtime pieces; ``changelog`` stands in for the table."""

    def __init__(self, changelog: dict[int, bytes], now: list[float]) -> None:
        self.rollup: Rollup[Count] = Rollup(Count, Count.load, clock=lambda: now[0])
        self.unacked: Unacked[Message] = Unacked()
        self.changelog = changelog
        self.acked: list[Message] = []

    def fold(self, take: list[Message], revoked_after: int | None = None) -> None:
        self.unacked.begin_take()
        for i, (partition, offset) in enumerate(take):
            if revoked_after is not None and i == revoked_after:
                self.revoke({1})  # a rebalance lands while the take is folded
            if not self.unacked.admits(partition):
                continue
            if not self.rollup.owns(partition):
                self.rollup.restore(partition, self.changelog.get(partition))
            self.rollup.apply(partition, offset, [{"n": 1}], now_ms=0)
            self.unacked.hold(partition, (partition, offset))

    def checkpoint(self) -> None:
        if not self.rollup.due() or not self.unacked:
            return
        saved = self.rollup.checkpoints(now_ms=0)
        covered = self.unacked.release()  # no await between: the checkpoint holds these
        self.changelog.update(saved)
        self.acked += covered

    def revoke(self, partitions: set[int]) -> None:
        self.rollup.revoke(partitions)
        self.unacked.revoke(partitions)


def held(changelog: dict[int, bytes], partition: int) -> tuple[int, int]:
    """(offset folded, count) that a partition's checkpoint holds."""
    offsets, _, state = decode_checkpoint(changelog[partition], Count.load)
    return offsets[partition], state.n


def test_nothing_is_acknowledged_before_a_checkpoint_holds_it() -> None:
    now, changelog = [100.0], {}
    agent = Agent(changelog, now)
    agent.fold([(0, 0), (1, 0), (0, 1)])
    agent.checkpoint()  # the rollup starts due: the first checkpoint goes at once
    assert agent.acked == [(0, 0), (1, 0), (0, 1)]
    assert held(changelog, 0) == (1, 2) and held(changelog, 1) == (0, 1)

    agent.fold([(0, 2), (0, 3)])
    now[0] += 0.5
    agent.checkpoint()  # not due yet: folded, neither saved nor acknowledged
    assert agent.acked[3:] == [] and held(changelog, 0) == (1, 2)
    now[0] += 0.5
    agent.checkpoint()
    assert agent.acked[3:] == [(0, 2), (0, 3)]
    assert held(changelog, 0) == (3, 4)


def test_a_restart_skips_what_the_checkpoint_holds_and_counts_the_rest_once() -> None:
    now, changelog = [100.0], {}
    first = Agent(changelog, now)
    first.fold([(0, 0), (0, 1), (0, 2)])
    first.checkpoint()
    first.fold([(0, 3)])  # folded but never checkpointed: the crash loses it
    assert first.acked == [(0, 0), (0, 1), (0, 2)]

    # Kafka redelivers from the last commit, and also (hostile) from before it.
    second = Agent(changelog, now)
    second.fold([(0, 1), (0, 2), (0, 3), (0, 4), (0, 3)])
    assert second.rollup.skipped == 3  # 1 and 2 (held by the checkpoint), then 3 again
    second.checkpoint()
    assert held(changelog, 0) == (4, 5)  # offsets 0..4 each counted exactly once


def test_a_gap_after_a_restore_asks_for_a_rewind_and_folds_nothing_past_it() -> None:
    now, changelog = [100.0], {}
    first = Agent(changelog, now)
    first.fold([(0, 0), (0, 1)])
    first.checkpoint()
    second = Agent(changelog, now)
    second.fold([(0, 5), (0, 6)])  # another agent's commit ran ahead of this checkpoint
    assert second.rollup.rewinds == [(0, 2)] and second.rollup.rewinding == {0: 2}
    second.fold([(0, 2), (0, 3), (0, 4), (0, 5), (0, 6)])  # the seek took effect
    now[0] += 1.0
    second.checkpoint()
    assert held(changelog, 0) == (6, 7)


def test_a_revoked_partition_is_never_acknowledged_nor_folded_further_in_the_take() -> None:
    now, changelog = [100.0], {}
    agent = Agent(changelog, now)
    agent.fold([(0, 0), (1, 0)])
    agent.checkpoint()
    agent.fold([(1, 1), (0, 1), (1, 2), (0, 2)], revoked_after=2)
    now[0] += 1.0
    agent.checkpoint()
    # Partition 1's offset 1 was folded before the revoke, 2 came after it in the take:
    # neither may be acknowledged; its next owner reads both again from the commit.
    assert agent.acked == [(0, 0), (1, 0), (0, 1), (0, 2)]
    assert held(changelog, 1) == (0, 1) and held(changelog, 0) == (2, 3)
    assert not agent.rollup.owns(1)

    agent.fold([(1, 1), (1, 2)])  # given back in the next take: restored from its checkpoint
    now[0] += 1.0
    agent.checkpoint()
    assert held(changelog, 1) == (2, 3)
    assert agent.acked[4:] == [(1, 1), (1, 2)]


def test_unacked_keeps_fold_order_and_forgets_only_revoked_partitions() -> None:
    unacked: Unacked[str] = Unacked()
    for partition, event in [(0, "a"), (2, "b"), (1, "c"), (2, "d")]:
        unacked.hold(partition, event)
    unacked.revoke([2, 7])
    assert len(unacked) == 2 and not unacked.admits(2) and unacked.admits(0)
    assert unacked.release() == ["a", "c"] and len(unacked) == 0
    unacked.begin_take()
    assert unacked.admits(2)  # revoked in an earlier take: may be ours again
