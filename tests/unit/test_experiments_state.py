"""ExperimentsState against the simulator's truth, across partitions and checkpoints."""

from __future__ import annotations

import zlib
from functools import cache
from typing import Any

import pytest

from dojo_pulse.simulation import generate
from dojo_pulse.simulation.truth import Truth
from stream.experiments.design import Catalogue, Design
from stream.experiments.state import MAX_EXPERIMENTS, ExperimentsState
from stream.sketches.codec import CheckpointError

START = 1_764_072_000_000
DURATION_S = 900
NOW = START + DURATION_S * 1000


@cache
def _run(experiments: bool = False) -> tuple[list[dict[str, Any]], Truth]:
    requests, truth = generate(
        5, rate=20, duration_s=DURATION_S, start_ms=START, experiments=experiments
    )
    out = []
    for r in requests:
        events = [e for e, reason in zip(r.body["events"], r.expect, strict=True) if not reason]
        if r.bot or not events:
            continue
        out.append({"session_id": r.session_id, "visitor_id": r.visitor_id, "device": r.device,
                    "received_at": START + int(r.at_s * 1000), "events": events})  # fmt: skip
    return out, truth


def _fold(parts: int = 4, experiments: bool = False) -> ExperimentsState:
    batches, _ = _run(experiments)
    states = [ExperimentsState() for _ in range(parts)]
    for batch in batches:
        states[zlib.crc32(batch["session_id"].encode()) % parts].apply(batch, batch["received_at"])
    merged = states[0]
    for other in states[1:]:
        merged = merged.merge(other)
    return merged


def test_counts_match_the_simulators_truth_exactly_across_partitions() -> None:
    _, truth = _run()
    expected = truth.to_dict()["experiments"]["cta_colour"]
    arms = _fold().arms["cta_colour"]
    assert set(arms) == set(expected) == {"blue", "orange"}
    for name, arm in arms.items():
        assert arm.units == expected[name]["sessions"] > 100
        assert arm.exposures == expected[name]["exposures"]
        assert arm.goals["goal:*"] == expected[name]["converted_sessions"]
        assert arm.goals["goal:newsletter"] == expected[name]["converted_sessions"]


def test_with_the_a_a_experiment_both_match_the_truth_and_units_overlap() -> None:
    _, truth = _run(experiments=True)
    expected = truth.to_dict()["experiments"]
    state = _fold(experiments=True)
    assert set(state.arms) == set(expected) == {"cta_colour", "events_layout"}
    for key, arms in state.arms.items():
        assert set(arms) == set(expected[key])
        for name, arm in arms.items():
            assert (arm.units, arm.exposures) == (
                expected[key][name]["sessions"], expected[key][name]["exposures"],
            )  # fmt: skip
            assert arm.goals.get("goal:*", 0) == expected[key][name].get("converted_sessions", 0)
    assert set(expected["events_layout"]) == {"list", "grid"}


def test_a_checkpoint_restores_the_same_figures_and_folding_goes_on_from_it() -> None:
    batches, _ = _run()
    half = len(batches) // 2
    straight, resumed = ExperimentsState(), ExperimentsState()
    for batch in batches[:half]:
        straight.apply(batch, batch["received_at"])
        resumed.apply(batch, batch["received_at"])
    resumed = ExperimentsState.from_bytes(resumed.to_bytes())
    for batch in batches[half:]:
        straight.apply(batch, batch["received_at"])
        resumed.apply(batch, batch["received_at"])
    assert resumed.snapshot(NOW) == straight.snapshot(NOW)
    assert resumed.to_bytes() == straight.to_bytes()


def test_snapshot_analyses_with_the_published_design() -> None:
    state = _fold()
    guessed = state.snapshot(NOW)["experiments"][0]
    assert [v["name"] for v in guessed["variants"]] == ["blue", "orange"]
    assert guessed["decision"] and guessed["status"] in {"collecting", "running", "winner"}
    catalogue = Catalogue()
    catalogue.put(Design("cta_colour", ("orange", "blue"), (0.5, 0.5), "goal:newsletter"))
    designed = ExperimentsState.from_bytes(state.to_bytes(), catalogue).snapshot(NOW)
    row = designed["experiments"][0]
    assert [v["name"] for v in row["variants"]] == ["orange", "blue"]
    assert row["primary"] == "goal:newsletter"
    assert row["variants"][1]["vs_control"]["difference"] < 0 or row["status"] != "winner"


def _exposure(sid: str, ts: int, experiment: str, variant: str) -> dict[str, Any]:
    return {"event_id": f"{sid}-{ts}", "type": "experiment_exposure", "ts": ts,
            "session_id": sid, "url": "/", "referrer": "",
            "props": {"experiment": experiment, "variant": variant}}  # fmt: skip


def _conversion(sid: str, ts: int) -> dict[str, Any]:
    return {"event_id": f"{sid}-c{ts}", "type": "conversion", "ts": ts, "session_id": sid,
            "url": "/", "referrer": "", "props": {"goal": "newsletter"}}  # fmt: skip


def _batch(sid: str, ts: int, events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"session_id": sid, "visitor_id": "v", "device": "mobile", "received_at": ts,
            "events": events}  # fmt: skip


def test_a_unit_keeps_its_first_variant_and_converts_once() -> None:
    state = ExperimentsState()
    t = START
    state.apply(_batch("s1", t, [_conversion("s1", t), _exposure("s1", t, "x", "A")]), t)
    state.apply(_batch("s1", t, [_exposure("s1", t, "x", "B"), _conversion("s1", t)]), t)
    state.apply(_batch("s1", t, [_conversion("s1", t)]), t)
    arms = state.arms["x"]
    assert set(arms) == {"A"}  # the conversion before exposure and the switch do not count
    assert (arms["A"].units, arms["A"].exposures, arms["A"].goals["goal:*"]) == (1, 2, 1)


def test_idle_sessions_are_forgotten_and_their_later_conversions_not_attributed() -> None:
    state = ExperimentsState()
    state.apply(_batch("s1", START, [_exposure("s1", START, "x", "A")]), START)
    later = START + 31 * 60_000
    state.expire(later)
    state.apply(_batch("s1", later, [_conversion("s1", later)]), later)
    assert state.progress == {} and state.arms["x"]["A"].goals == {}


def test_experiments_and_variants_beyond_the_caps_are_counted_as_overflow() -> None:
    state = ExperimentsState()
    events = [_exposure(f"s{i}", START, f"exp{i}", "A") for i in range(MAX_EXPERIMENTS + 3)]
    for i, e in enumerate(events):
        state.apply(_batch(f"s{i}", START, [e]), START)
    state.apply(
        _batch("many", START, [_exposure("many", START, "exp0", f"v{i}") for i in range(3)]), START
    )
    for i in range(10):
        state.apply(_batch(f"w{i}", START, [_exposure(f"w{i}", START, "wide", f"v{i}")]), START)
    assert len(state.arms) == MAX_EXPERIMENTS
    assert state.overflow == 3 + 10
    assert "wide" not in state.arms


def test_closed_minutes_tally_units_and_conversions() -> None:
    state = ExperimentsState()
    state.apply(
        _batch("s1", START, [_exposure("s1", START, "x", "A"), _conversion("s1", START + 1)]), START
    )
    late = START + 10 * 60_000
    state.apply(_batch("s2", late, [_conversion("s2", late)]), late)
    assert state.closed_minutes() == [START]
    tally = state.minute_tally(START)
    assert tally is not None and tally.counts == {"x.A.units": 1.0, "x.A.conversions": 1.0}


@pytest.mark.parametrize("data", [b"", b"DJCK", b"\x00" * 40, zlib.compress(b"[]")])
def test_corrupt_checkpoints_are_refused(data: bytes) -> None:
    with pytest.raises(CheckpointError):
        ExperimentsState.from_bytes(data)


def test_secondary_metrics_are_compared_with_control() -> None:
    catalogue = Catalogue()
    catalogue.put(Design("cta_colour", ("blue", "orange"), (0.5, 0.5), "goal:newsletter",
                         secondary=("goal:*", "registration")))  # fmt: skip
    state = ExperimentsState.from_bytes(_fold().to_bytes(), catalogue)
    rows = state.snapshot(NOW)["experiments"][0]["variants"]
    assert "secondary" not in rows[0]
    second = rows[1]["secondary"]
    assert set(second) == {"goal:*", "registration"}
    assert second["goal:*"]["difference"] == pytest.approx(
        rows[1]["goals"]["goal:*"] / rows[1]["units"]
        - rows[0]["goals"]["goal:*"] / rows[0]["units"]
    )
    assert 0 <= second["registration"]["p_value"] <= 1
