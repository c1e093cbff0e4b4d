"""A consumer-group assignor that gives every partition to one member: one holder, fail-over.

State that cannot merge (the online models) must be folded by exactly one process reading
every partition. Kafka's group coordinator already guarantees one assignment per generation
and reassigns when a member leaves or misses its session timeout (a SIGKILL), so a group
whose assignor hands all partitions to one member is a leader lease with fail-over, with no
second consumer or lease topic beside it. The holder stays the holder while it lives (its
join metadata says it held the last generation), so workers joining do not move the models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

HELD = b"held"  # join metadata of the member that held every partition in the last generation


def choose_holder(members: Mapping[str, bytes]) -> str:
    """The member that held last (the lowest id if, after a split, several claim it), else the
    lowest member id. ``members`` maps member id -> its join metadata's user data."""
    held = sorted(member for member, data in members.items() if data == HELD)
    return held[0] if held else min(members)


def sole_owner(holds: Callable[[], bool]) -> type[AbstractPartitionAssignor]:
    """An assignor class for one consumer; ``holds()`` says whether it held the last generation.

    aiokafka calls assignors through class methods, so the consumer's own flag is closed over.
    """

    class SoleOwner(AbstractPartitionAssignor):  # type: ignore[misc]
        name = "dojo-sole-owner"
        version = 0

        @classmethod
        def assign(
            cls,
            cluster: ClusterMetadata,
            members: Mapping[str, ConsumerProtocolMemberMetadata],
        ) -> dict[str, ConsumerProtocolMemberAssignment]:
            holder = choose_holder({m: meta.user_data for m, meta in members.items()})
            topics = sorted({t for meta in members.values() for t in meta.subscription})
            every = [(t, sorted(cluster.partitions_for_topic(t) or ())) for t in topics]
            return {
                member: ConsumerProtocolMemberAssignment(
                    cls.version, every if member == holder else [], b""
                )
                for member in members
            }

        @classmethod
        def metadata(cls, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
            held = HELD if holds() else b""
            return ConsumerProtocolMemberMetadata(cls.version, sorted(topics), held)

        @classmethod
        def on_assignment(cls, assignment: ConsumerProtocolMemberAssignment) -> None:
            """Nothing to remember here: the consumer's rebalance listener tracks holding."""

    return SoleOwner
