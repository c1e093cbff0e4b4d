"""The one place Dojo Pulse meets aiokafka's partition-assignor interface.

A consumer group's assignor decides which member reads which partitions. aiokafka calls an
assignor through class methods; ``assignor`` builds such a class from two plain functions:
what a member says when it joins (its user data, read at every join) and how the topics'
partitions are shared out among the members, given what each said. Both assignors of the
product (``sole_owner``, ``lighter``) are made here, so a change in aiokafka's interface
is met in this file alone. aiokafka documents custom assignors, but its base class and the
protocol structures live in its ``coordinator`` package: ``WRITTEN_FOR`` is the version this
adapter was checked against (``tests/unit/test_library_pins.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

LIBRARY = "aiokafka"
WRITTEN_FOR = "0.14.0"

# member id -> what it said at the join -> its partitions of one topic
Share = Callable[[list[int], Mapping[str, bytes]], Mapping[str, list[int]]]


def assignor(name: str, says: Callable[[], bytes], share: Share) -> type[AbstractPartitionAssignor]:
    """An assignor class: members join saying ``says()``; each topic's partitions go out by
    ``share(partitions, {member: what it said})`` among the members subscribed to it."""

    class Assignor(AbstractPartitionAssignor):  # type: ignore[misc]
        version = 0

        @classmethod
        def assign(
            cls,
            cluster: ClusterMetadata,
            members: Mapping[str, ConsumerProtocolMemberMetadata],
        ) -> dict[str, ConsumerProtocolMemberAssignment]:
            topics = sorted({t for meta in members.values() for t in meta.subscription})
            out: dict[str, list[tuple[str, list[int]]]] = {m: [] for m in members}
            for topic in topics:
                said = {
                    m: meta.user_data for m, meta in members.items() if topic in meta.subscription
                }
                partitions = sorted(cluster.partitions_for_topic(topic) or ())
                for member, given in share(partitions, said).items():
                    if given:
                        out[member].append((topic, sorted(given)))
            return {m: ConsumerProtocolMemberAssignment(cls.version, out[m], b"") for m in members}

        @classmethod
        def metadata(cls, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
            return ConsumerProtocolMemberMetadata(cls.version, sorted(topics), says())

        @classmethod
        def on_assignment(cls, assignment: ConsumerProtocolMemberAssignment) -> None:
            """Nothing to remember: the consumer knows its assignment."""

    Assignor.name = name
    return Assignor
