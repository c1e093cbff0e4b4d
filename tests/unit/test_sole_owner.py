"""The learner's assignor: every partition to one member, and the holder keeps it."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata

from stream.runtime.sole_owner import HELD, choose_holder, sole_owner


class Cluster:
    """The one question an assignor asks of aiokafka's cluster metadata."""

    def __init__(self, partitions: dict[str, set[int]]) -> None:
        self.partitions = partitions

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions.get(topic)


def member(topics: list[str], data: bytes = b"") -> ConsumerProtocolMemberMetadata:
    return ConsumerProtocolMemberMetadata(0, topics, data)


def test_the_last_holder_keeps_the_state() -> None:
    assert choose_holder({"a": b"", "b": HELD, "c": b""}) == "b"


def test_without_a_holder_the_lowest_member_id_takes_it() -> None:
    assert choose_holder({"m-2": b"", "m-1": b"", "m-3": b""}) == "m-1"


@pytest.mark.parametrize(
    "data",
    [b"hel", b"HELD", b"held\x00", b"\xff" * 64, b"held" * 2],
)
def test_only_the_exact_mark_claims_the_state(data: bytes) -> None:
    assert choose_holder({"a": b"", "b": data}) == "a"


def test_two_claims_after_a_split_resolve_to_one() -> None:
    assert choose_holder({"z": HELD, "y": HELD, "x": b""}) == "y"


def test_every_partition_goes_to_one_member_and_the_others_get_none() -> None:
    assignor: Any = sole_owner(lambda: False)
    cluster = Cluster({"dojo.events": {3, 0, 2, 1}})
    members = {"a": member(["dojo.events"]), "b": member(["dojo.events"], HELD)}
    out = assignor.assign(cluster, members)
    assert out["b"].partitions() == [TopicPartition("dojo.events", p) for p in range(4)]
    assert out["a"].partitions() == []


def test_a_topic_without_metadata_assigns_nothing_rather_than_failing() -> None:
    assignor: Any = sole_owner(lambda: False)
    out = assignor.assign(Cluster({}), {"a": member(["dojo.events"])})
    assert out["a"].partitions() == []


def test_join_metadata_says_whether_this_member_held() -> None:
    held = [False]
    assignor: Any = sole_owner(lambda: held[0])
    assert assignor.metadata({"dojo.events"}).user_data == b""
    held[0] = True
    assert assignor.metadata({"dojo.events"}).user_data == HELD
    assert assignor.metadata({"dojo.events"}).subscription == ["dojo.events"]
