"""The dojo forecasts: better than naive on simulated history, deterministic, past-only."""

from __future__ import annotations

import pytest

from dojo_pulse.simulation.dojo_history import past_events
from stream.metrics.dojo_forecast import DAY_MS, Forecaster, PastEvent, booked


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_both_models_beat_their_naive_baselines(seed: int) -> None:
    model = Forecaster.fit(past_events(seed, 40))
    fill, turnout = model.fill_score.summary(), model.turnout_score.summary()
    assert fill["n"] == 40 * 9
    assert fill["mae"] < 0.6 * fill["naive_mae"]  # type: ignore[operator]
    assert turnout["mae"] < 0.9 * turnout["naive_mae"]  # type: ignore[operator]


def test_fit_is_deterministic_and_order_free() -> None:
    events = past_events(4, 20)
    a, b = Forecaster.fit(events), Forecaster.fit(list(reversed(events)))
    assert a.fill_score == b.fill_score
    assert a.turnout_score == b.turnout_score
    last = events[-1]
    assert a.predict_fill(last.capacity, last.curve, last.closes_ms, last.closes_ms - 7 * DAY_MS) == (
        b.predict_fill(last.capacity, last.curve, last.closes_ms, last.closes_ms - 7 * DAY_MS))  # fmt: skip


def test_each_event_is_scored_before_it_is_learned() -> None:
    events = past_events(5, 12)
    prefix = Forecaster.fit(events[:6])
    whole = Forecaster.fit(events)
    # Learning later events cannot change how the earlier ones were scored.
    assert whole.fill_score.n > prefix.fill_score.n
    again = Forecaster.fit(events[:6])
    assert again.fill_score == prefix.fill_score


def test_before_any_past_event_the_forecasts_are_the_baselines() -> None:
    model = Forecaster()
    curve = {0: 5, DAY_MS: 3}
    assert model.predict_fill(20, curve, 10 * DAY_MS, 2 * DAY_MS) == pytest.approx(8 / 20)
    assert model.predict_turnout(20, curve, 10 * DAY_MS) == 8
    assert model.turnout_score.summary() == {"n": 0, "mae": None, "naive_mae": None}


def test_after_the_close_the_fill_is_what_was_booked() -> None:
    model = Forecaster.fit(past_events(6, 10))
    event = PastEvent(10, 5 * DAY_MS, 5 * DAY_MS, {0: 4, 4 * DAY_MS: 2, 9 * DAY_MS: 3})
    assert model.predict_fill(10, event.curve, event.closes_ms, 8 * DAY_MS) == 0.6
    assert booked(event.curve, 10 * DAY_MS, 4 * DAY_MS) == 5


def test_forecasts_are_never_below_what_is_booked() -> None:
    model = Forecaster.fit(past_events(7, 30))
    for event in past_events(8, 10):
        at = event.closes_ms - 3 * DAY_MS
        assert model.predict_fill(event.capacity, event.curve, event.closes_ms, at) >= (
            booked(event.curve, at) / event.capacity)  # fmt: skip
        assert model.predict_turnout(event.capacity, event.curve, event.starts_ms) >= 0
