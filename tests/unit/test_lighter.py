"""The validate stage's assignor: raw partitions go first to workers that hold no learner."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata
from hypothesis import given
from hypothesis import strategies as st

from stream.runtime.lighter import HOLDS, Lighter, share_out
from tests.unit.test_sole_owner import Cluster

RAW = "dojo.events.raw"


def member(data: bytes = b"", topics: tuple[str, ...] = (RAW,)) -> ConsumerProtocolMemberMetadata:
    return ConsumerProtocolMemberMetadata(0, list(topics), data)


def test_two_workers_the_holder_validates_nothing() -> None:
    assert share_out([0, 1, 2, 3], {"a": True, "b": False}) == {"a": [], "b": [0, 1, 2, 3]}


def test_alone_a_holder_validates_every_partition() -> None:
    assert share_out([3, 1, 0, 2], {"only": True}) == {"only": [0, 1, 2, 3]}


def test_without_a_holder_the_partitions_are_spread_evenly() -> None:
    assert share_out(list(range(8)), {"b": False, "a": False, "c": False}) == {
        "a": [0, 3, 6], "b": [1, 4, 7], "c": [2, 5],
    }  # fmt: skip


def test_three_workers_the_two_without_the_learners_share_the_partitions() -> None:
    shares = share_out(list(range(8)), {"a": False, "b": True, "c": False})
    assert shares == {"a": [0, 2, 4, 6], "b": [], "c": [1, 3, 5, 7]}


@given(
    partitions=st.lists(st.integers(0, 200), unique=True, max_size=64),
    holders=st.dictionaries(st.text(min_size=1, max_size=8), st.booleans(), min_size=1, max_size=9),
)
def test_every_partition_goes_to_exactly_one_member(
    partitions: list[int], holders: dict[str, bool]
) -> None:
    shares = share_out(partitions, holders)
    given_out = sorted(p for ps in shares.values() for p in ps)
    assert given_out == sorted(partitions) and set(shares) == set(holders)
    free = [len(ps) for m, ps in shares.items() if not holders[m]]
    assert not free or max(free) - min(free) <= 1  # the members without learners: even


def test_the_assignor_reads_the_join_metadata_and_only_subscribed_topics() -> None:
    lighter = Lighter(lambda: False)
    assignor: Any = lighter.assignor
    cluster = Cluster({RAW: {0, 1, 2, 3}, "other": {0, 1}})
    members = {"a": member(HOLDS), "b": member(), "c": member(topics=("other",))}
    out = assignor.assign(cluster, members)
    assert out["a"].partitions() == []
    assert out["b"].partitions() == [TopicPartition(RAW, p) for p in range(4)]
    assert out["c"].partitions() == [TopicPartition("other", 0), TopicPartition("other", 1)]
    assert assignor.assign(Cluster({}), {"a": member()})["a"].partitions() == []


def test_a_change_of_holding_makes_the_join_metadata_stale() -> None:
    holds = [False]
    lighter = Lighter(lambda: holds[0])
    assignor: Any = lighter.assignor
    assert assignor.metadata({RAW}).user_data == b"" and not lighter.stale()
    holds[0] = True
    assert lighter.stale()  # the worker now holds the learners: join again
    assert assignor.metadata({RAW}).user_data == HOLDS and not lighter.stale()
    holds[0] = False
    assert lighter.stale()
