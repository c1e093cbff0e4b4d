"""A consumer-group assignor for partitioned work that leaves the learner's holder lighter.

The online learners fold every partition in one worker (``stream.runtime.sole_owner``), and
on a busy day they cost about as much as validating every raw partition (``bench/``:
``learning_apply`` against ``validate_cost``). With the raw partitions spread evenly, the
worker that holds the learners does their work on top of its share, and two workers are
no faster than that one: it is the slowest. This assignor gives the raw partitions of the
validate stage to the members that hold no learner first: each member starts with a head
start of ``HOLDER_WEIGHT`` x the partition count if its join metadata says it holds, and
each partition goes to the member with the least load so far (ties by member id). Alone, a
holder still gets every partition; among several workers it gets none, and the others
share them. A worker whose holding changes joins the group again (``Lighter.stale``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from stream.runtime.assignors import assignor

HOLDS = b"holds"  # join metadata of a member that holds the learners
HOLDER_WEIGHT = 1.0  # the learners weigh about as much as validating every raw partition


def share_out(partitions: list[int], holders: Mapping[str, bool]) -> dict[str, list[int]]:
    """Each member's partitions: to the least loaded member in turn, holders weighed down."""
    head = HOLDER_WEIGHT * len(partitions)
    load = {member: head if holds else 0.0 for member, holds in holders.items()}
    out: dict[str, list[int]] = {member: [] for member in holders}
    for partition in sorted(partitions):
        member = min(load, key=lambda m: (load[m], m))
        out[member].append(partition)
        load[member] += 1
    return out


class Lighter:
    """The assignor class for one consumer, and whether its join metadata is out of date.

    aiokafka calls assignors through class methods, so ``holds`` (this worker holds the
    learners now) is closed over, and so is what the last join said.
    """

    def __init__(self, holds: Callable[[], bool]) -> None:
        self.holds = holds
        self.advertised = False

        def says() -> bytes:
            self.advertised = self.holds()
            return HOLDS if self.advertised else b""

        def share(partitions: list[int], said: Mapping[str, bytes]) -> dict[str, list[int]]:
            return share_out(partitions, {m: data == HOLDS for m, data in said.items()})

        self.assignor = assignor("dojo-holder-lighter", says, share)

    def stale(self) -> bool:
        """Whether this worker's holding changed since its last join (time to join again)."""
        return self.holds() != self.advertised
