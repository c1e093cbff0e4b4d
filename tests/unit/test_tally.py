"""Tallies merge like the data they summarise; their wire form survives hostile input."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from stream.sketches.quantiles import Quantiles
from stream.sketches.tally import Tally, TallyError, merged
from stream.sketches.uniques import Uniques, fingerprint


def _tally(views: int, visitors: range, lcp: list[float]) -> Tally:
    uniques = Uniques()
    for v in visitors:
        uniques.add(fingerprint(f"visitor-{v}"))
    sketch = Quantiles()
    for value in lcp:
        sketch.add(value)
    return Tally({"views": views}, {"visitors": uniques}, {"lcp": sketch})


def test_uniques_are_a_union_and_counts_a_sum() -> None:
    monday, tuesday = _tally(10, range(0, 60), [1000.0]), _tally(5, range(40, 100), [3000.0])
    week = merged([monday, tuesday])
    summary = week.summary()
    assert summary["views"] == 15
    assert summary["visitors"] == 100  # not 120: 20 visitors came on both days
    assert summary["lcp.n"] == 2
    assert monday.summary()["views"] == 10  # inputs untouched


def test_quantiles_come_from_all_values_not_from_averages() -> None:
    day1 = _tally(0, range(0), [100.0] * 90)
    day2 = _tally(0, range(0), [5000.0] * 10)
    p95 = merged([day1, day2]).summary()["lcp.p95"]
    assert p95 == pytest.approx(5000.0, rel=0.02)


def test_wire_round_trip_through_json() -> None:
    tally = _tally(7, range(30), [250.0, 900.0])
    back = Tally.from_wire(orjson.loads(orjson.dumps(tally.to_wire())))
    assert back.summary() == tally.summary()
    assert Tally().is_empty() and not back.is_empty()
    assert merged([]).summary() == {}


@pytest.mark.parametrize(
    "wire",
    [
        None, 1, "x", [], True,
        {"counts": []}, {"counts": {"a": "1"}}, {"counts": {"a": None}}, {"counts": {"a": True}},
        {"counts": {"a": {"b": 1}}}, {"uniques": {"v": 1}}, {"uniques": {"v": "not base64!"}},
        {"uniques": {"v": "AAAA"}}, {"quantiles": {"q": "AAAA"}}, {"quantiles": []},
        {"uniques": {"v": None}},
    ],
)  # fmt: skip
def test_hostile_wire_forms_are_refused_with_a_tally_error(wire: Any) -> None:
    with pytest.raises(TallyError):
        Tally.from_wire(wire)
