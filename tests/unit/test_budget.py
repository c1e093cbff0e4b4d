"""The periodic-work budget: agents of one worker share it, and a floor always holds."""

from __future__ import annotations

import pytest

from stream.runtime.budget import CHECKPOINT_MAX_GAP_S, COST_SHARE, MAX_GAP_S, Budget


def test_agents_share_one_budget() -> None:
    alone, crowd = Budget(agents=1), Budget(agents=7)
    assert alone.gap(0.010, 1.0) == 1.0  # cheap work: the floor decides
    assert alone.gap(0.060, 1.0) == pytest.approx(0.060 * COST_SHARE)
    # Seven agents each doing the same work wait seven times longer: together they keep
    # to the share one agent alone would have.
    assert crowd.gap(0.060, 1.0) == pytest.approx(7 * alone.gap(0.060, 1.0))


def test_a_state_too_big_for_its_share_still_runs_now_and_then() -> None:
    assert Budget(agents=8).gap(0.6, 1.0) == MAX_GAP_S


def test_checkpoints_of_a_big_state_may_wait_longer_than_its_snapshots() -> None:
    big = Budget(agents=1)
    assert big.gap(1.3, 1.0) == MAX_GAP_S  # a snapshot of it is never staler than this
    assert big.gap(1.3, 1.0, CHECKPOINT_MAX_GAP_S) == pytest.approx(1.3 * COST_SHARE)
    assert big.gap(5.0, 1.0, CHECKPOINT_MAX_GAP_S) == CHECKPOINT_MAX_GAP_S  # still, now and then
    assert big.gap(0.01, 1.0, CHECKPOINT_MAX_GAP_S) == 1.0  # small states: as before
