"""When periodic work is due: checkpoints and snapshots paced by the shared budget."""

from __future__ import annotations

import pytest

from stream.runtime.budget import MAX_GAP_S, REFRESH_EVERY_S, Budget, snapshot_due
from stream.runtime.rollup import Rollup
from tests.unit.test_runtime_fold import Count


@pytest.mark.parametrize(
    ("since", "gap", "changed", "due"),
    [
        (0.1, 0.25, True, False),  # changed, but within the gap
        (0.25, 0.25, True, True),
        (1.0, 0.25, False, False),  # unchanged: wait for the refresh
        (REFRESH_EVERY_S, 0.25, False, True),  # rolling views move with the clock
        (REFRESH_EVERY_S, MAX_GAP_S, False, False),  # a big state's gap still holds
        (float("inf"), 0.25, False, True),  # never published
        (-1.0, 0.25, True, False),  # a clock that went backwards publishes nothing early
    ],
)
def test_snapshot_due(since: float, gap: float, changed: bool, due: bool) -> None:
    assert snapshot_due(since, gap, changed) is due


def test_a_costly_checkpoint_spaces_the_next_ones_with_a_fake_clock() -> None:
    now = [50.0]
    rollup: Rollup[Count] = Rollup(Count, Count.load, clock=lambda: now[0])
    budget = Budget(agents=3)
    assert rollup.due()
    rollup.checkpoints(now_ms=0)
    # The encode took 50 ms; three agents share the worker: the next waits 3 s, not 1 s.
    rollup.checkpoint_every_s = budget.gap(0.050, 1.0)
    now[0] += 1.0
    assert not rollup.due()
    now[0] += 2.0
    assert rollup.due()
