"""A consumer-group assignor that gives every partition to one member: one holder, fail-over.

State that cannot merge (the online models) must be folded by exactly one process reading
every partition. Kafka's group coordinator already guarantees one assignment per generation
and reassigns when a member leaves or misses its session timeout (a SIGKILL), so a group
whose assignor hands all partitions to one member is a leader lease with fail-over, with no
second consumer or lease topic beside it. The holder stays the holder while it lives (its
join metadata says it held the last generation), so workers joining do not move the models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor

from stream.runtime.assignors import assignor

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

    def share(partitions: list[int], said: Mapping[str, bytes]) -> dict[str, list[int]]:
        holder = choose_holder(dict(said))
        return {member: partitions if member == holder else [] for member in said}

    return assignor("dojo-sole-owner", lambda: HELD if holds() else b"", share)
