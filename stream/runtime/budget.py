"""Budget: the share of a worker's time that its agents' periodic work may take."""

from __future__ import annotations

from dataclasses import dataclass

REFRESH_EVERY_S = 5.0  # republish unchanged state too: "last 5 minutes" moves with the clock
COST_SHARE = 20  # checkpoints, and snapshots, each get at most 1/20 of a worker's time
MAX_GAP_S = 10.0  # ... but run at least this often (a big state's snapshot is this stale at most)
# Checkpoints may wait longer: a crash replays at most about this much of the worker's time,
# while a whole state written every 10 s cost a big day an eighth of its CPU (bench/: flat cost).
CHECKPOINT_MAX_GAP_S = 30.0


@dataclass
class Budget:
    """The share of a worker's time its agents' periodic work may take, split between them.

    Checkpoints and snapshots cost in proportion to the state, not to the events that just
    arrived; each kind of work gets ``1/COST_SHARE`` of the worker, shared by its agents.
    Given per agent instead, seven agents' big states could spend most of a backlog's
    catch-up encoding checkpoints and merging snapshots (``bench/`` showed it).
    """

    agents: int = 1

    def gap(self, cost_s: float, floor_s: float, most_s: float = MAX_GAP_S) -> float:
        """Seconds to wait before work that took ``cost_s`` runs again: at least ``floor_s``,
        at most ``most_s`` (a state too big for its share still checkpoints)."""
        return max(floor_s, min(cost_s * COST_SHARE * self.agents, most_s))


def snapshot_due(since_s: float, gap_s: float, changed: bool) -> bool:
    """Whether a snapshot published ``since_s`` ago is due again: never within ``gap_s``,
    then when the state changed, or after ``REFRESH_EVERY_S`` to let rolling views move."""
    return since_s >= gap_s and (changed or since_s >= REFRESH_EVERY_S)
