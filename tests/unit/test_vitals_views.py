"""A page view's CLS and INP count once, with their latest value, however often it reports them.

web-vitals reports CLS and INP again at every hide while they grow; the beacon marks a later
report with the value it replaces (``props.replaces``), and the fold takes that one back.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.metrics.vitals import VitalsState
from stream.sketches.quantiles import Quantiles
from tests.unit.test_vitals import NOON, batch, vital

MINUTE_MS = 60_000


def again(name: str, value: float, replaces: float, ts: int = NOON, url: str = "/") -> Any:
    event = vital(name, value, ts, url)
    event["props"]["replaces"] = replaces
    event["event_id"] += f"-{value}"
    return event


def site(state: VitalsState, metric: str) -> dict[str, Any]:
    stats: dict[str, Any] = state.snapshot(NOON)["site"][metric]
    return stats


def minute(state: VitalsState, start: int, metric: str) -> tuple[int, int, int]:
    tally = state.minute_tally(start)
    assert tally is not None
    return tuple(tally.counts.get(f"{metric}.{kind}", 0) for kind in ("good", "needs", "poor"))  # type: ignore[return-value]


@pytest.mark.parametrize(("metric", "first", "latest"), [("CLS", 0.05, 0.3), ("INP", 120, 640)])
def test_a_view_reported_at_two_hides_counts_once_with_its_latest_value(
    metric: str, first: float, latest: float
) -> None:
    state = VitalsState()
    state.apply(batch([vital(metric, first)]), NOON)
    state.apply(batch([again(metric, latest, replaces=first, ts=NOON + 1000)]), NOON)

    stats = site(state, metric)
    assert stats["n"] == 1
    assert (stats["good"], stats["poor"]) == (0.0, 1.0)
    assert stats["p75"] == pytest.approx(latest, rel=0.01)
    page = state.snapshot(NOON)["pages"][0]["metrics"][metric]
    assert page["n"] == 1 and page["p75"] == pytest.approx(latest, rel=0.01)
    assert minute(state, NOON - NOON % MINUTE_MS, metric) == (0, 0, 1)


def test_three_reports_and_other_views_leave_one_value_per_view() -> None:
    reports = [
        vital("CLS", 0.0),
        again("CLS", 0.12, 0.0, NOON + 1),
        again("CLS", 0.3, 0.12, NOON + 2),
    ]
    others = [vital("CLS", v, NOON + 3 + n) for n, v in enumerate((0.0, 0.02, 0.2))]
    state = VitalsState()
    for event in reports + others:
        state.apply(batch([event]), NOON)
    only_latest = VitalsState()
    for event in [vital("CLS", 0.3), *others]:
        only_latest.apply(batch([event]), NOON)

    assert site(state, "CLS") == site(only_latest, "CLS")
    assert site(state, "CLS")["n"] == 4


def test_a_report_that_replaces_one_in_an_earlier_minute_stays_counted_there() -> None:
    state = VitalsState()
    state.apply(batch([vital("CLS", 0.05)]), NOON)
    later = NOON + 2 * MINUTE_MS
    state.apply(batch([again("CLS", 0.4, replaces=0.05, ts=later)]), later)

    assert site(state, "CLS")["n"] == 1  # the day: once, with the latest value
    assert site(state, "CLS")["poor"] == 1.0
    assert minute(state, NOON - NOON % MINUTE_MS, "CLS") == (1, 0, 0)  # the first minute
    assert state.minute_tally(later - later % MINUTE_MS) is None  # not twice in minutes


def test_replacing_a_value_never_counted_counts_the_report_as_a_view() -> None:
    # The earlier report was lost or dead-lettered: nothing to take back, nothing taken.
    state = VitalsState()
    state.apply(batch([vital("CLS", 0.02)]), NOON)
    state.apply(batch([again("CLS", 0.3, replaces=0.9, ts=NOON + 1)]), NOON)
    assert site(state, "CLS")["n"] == 2


@pytest.mark.parametrize("metric", ["LCP", "FCP", "TTFB"])
def test_metrics_reported_once_per_view_ignore_replaces(metric: str) -> None:
    state = VitalsState()
    state.apply(batch([vital(metric, 900)]), NOON)
    state.apply(batch([again(metric, 1200, replaces=900, ts=NOON + 1)]), NOON)
    assert site(state, metric)["n"] == 2


def test_a_state_with_values_taken_back_survives_checkpoint_and_merge() -> None:
    state = VitalsState()
    state.apply(batch([vital("INP", 80), again("INP", 300, 80, NOON + 1)]), NOON)
    restored = VitalsState.from_bytes(state.to_bytes())
    assert site(restored, "INP") == site(state, "INP")
    other = VitalsState()
    other.apply(batch([vital("INP", 80, NOON + 5)], sid="other"), NOON)
    merged = restored.merge(other)
    assert site(merged, "INP")["n"] == 2
    assert (site(merged, "INP")["good"], site(merged, "INP")["ni"]) == (0.5, 0.5)


values = st.floats(min_value=0, max_value=3_600_000, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(kept=st.lists(values, max_size=30), taken=st.lists(values, max_size=30))
def test_taking_back_values_leaves_the_sketch_of_the_rest(
    kept: list[float], taken: list[float]
) -> None:
    sketch, rest = Quantiles(), Quantiles()
    for value in kept + taken:
        sketch.add(value)
    for value in kept:
        rest.add(value)
    assert all(sketch.remove(value) for value in taken)
    assert sketch.count == rest.count
    for q in (0.0, 0.25, 0.5, 0.75, 0.95, 1.0):
        assert sketch.quantile(q) == rest.quantile(q)
    assert Quantiles.from_bytes(sketch.to_bytes()).quantile(0.75) == rest.quantile(0.75)


@pytest.mark.parametrize("absent", [500.0, 0.0, 3_600_000.0, 1e-12, -1.0])
def test_taking_back_a_value_not_held_changes_nothing(absent: float) -> None:
    sketch = Quantiles()
    for value in (1.0, 2.0, 40.0):
        sketch.add(value)
    before = sketch.to_bytes()
    assert not sketch.remove(absent)
    assert sketch.to_bytes() == before and sketch.count == 3
    assert not Quantiles().remove(absent)
