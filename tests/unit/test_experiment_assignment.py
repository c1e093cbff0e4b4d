"""Assignment: deterministic, stable under ramps, exclusive within a layer, strict on input."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream.experiments import srm
from stream.experiments.assignment import (
    BUCKETS,
    AssignmentError,
    assign,
    bucket,
    check_layers,
    plan,
    variant_of,
)

HALF = [{"name": "A", "weight": 1}, {"name": "B", "weight": 1}]
UNITS = [f"visitor-{i}" for i in range(20_000)]


def test_buckets_are_stable_and_spread_evenly() -> None:
    # Pinned: a change of hash would silently move every running experiment's units.
    assert [bucket("signup-button", u) for u in ("visitor-1", "visitor-2", "a")] == [
        5808,
        1860,
        2785,
    ]
    assert bucket("other-salt", "visitor-1") != 5808
    tens = Counter(bucket("spread", u) * 10 // BUCKETS for u in UNITS)
    assert srm.p_value([tens[i] for i in range(10)], [0.1] * 10) > 0.01


def test_weights_give_the_planned_split() -> None:
    p = plan("split", [{"name": "A", "weight": 0.7}, {"name": "B", "weight": 0.3}])
    assert p.weights == (0.7, 0.3)
    got = Counter(variant_of(p, u) for u in UNITS)
    assert not srm.mismatch([got["A"], got["B"]], [0.7, 0.3])
    assert abs(got["A"] / len(UNITS) - 0.7) < 0.02


def test_a_ramp_keeps_everyone_who_was_in_and_nobody_switches() -> None:
    small = plan("ramp", HALF, traffic=0.1)
    large = plan("ramp", HALF, traffic=0.5)
    before = {u: variant_of(small, u) for u in UNITS}
    after = {u: variant_of(large, u) for u in UNITS}
    inside = [u for u, v in before.items() if v is not None]
    assert 0.08 < len(inside) / len(UNITS) < 0.12
    assert all(after[u] == before[u] for u in inside)
    assert 0.48 < sum(v is not None for v in after.values()) / len(UNITS) < 0.52


def test_experiments_in_one_layer_never_share_a_unit() -> None:
    left = plan("hero", HALF, layer="home", layer_range=[0, 0.5])
    right = plan("cta", HALF, layer="home", layer_range=[0.5, 1.0])
    check_layers([left, right])
    both = [assign([left, right], {"visitor": u}) for u in UNITS]
    assert not any(len(got) == 2 for got in both)
    assert all(len(got) == 1 for got in both)  # the slices cover the layer: everyone is in one


def test_overlapping_slices_of_a_layer_are_refused() -> None:
    left = plan("hero", HALF, layer="home", layer_range=[0, 0.6])
    right = plan("cta", HALF, layer="home", layer_range=[0.5, 1.0])
    with pytest.raises(AssignmentError, match="cta overlaps hero in layer home"):
        check_layers([right, left])
    check_layers([left, plan("cta", HALF, layer="other", layer_range=[0.5, 1.0])])


def test_holdout_units_see_no_experiment_and_session_unit_uses_the_session() -> None:
    p = plan("held", HALF)
    held = [u for u in UNITS if variant_of(p, u, holdout=0.1) is None]
    assert 0.08 < len(held) / len(UNITS) < 0.12
    other = plan("other", HALF)
    assert all(variant_of(other, u, holdout=0.1) is None for u in held)
    by_session = plan("per-session", HALF, unit="session")
    assert assign([by_session], {"visitor": "v1"}) == {}
    assert assign([by_session], {"session": "s1"}) == {"per-session": variant_of(by_session, "s1")}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(key=JSON, variants=JSON, traffic=JSON, layer=JSON, layer_range=JSON, unit=JSON)
def test_any_json_in_any_field_gives_a_plan_or_a_clear_error(
    key: Any, variants: Any, traffic: Any, layer: Any, layer_range: Any, unit: Any
) -> None:
    try:
        p = plan(key, variants, traffic, layer, layer_range, unit)
    except AssignmentError as exc:
        assert exc.field.split("[")[0] in {
            "key",
            "variants",
            "traffic",
            "layer",
            "layer_range",
            "unit",
        }
        assert exc.message
    else:
        assert math.isclose(sum(p.weights), 1.0)


@pytest.mark.parametrize(
    ("variants", "field", "message"),
    [
        ([{"name": "A", "weight": 1}], "variants", "2 to 8 variants"),
        ([{"name": "A", "weight": 1}, {"name": "A", "weight": 1}], "variants[1].name", "twice"),
        (
            [{"name": "A", "weight": -1}, {"name": "B", "weight": 1}],
            "variants[0].weight",
            "positive",
        ),
        (
            [{"name": "A", "weight": True}, {"name": "B", "weight": 1}],
            "variants[0].weight",
            "positive",
        ),
        (
            [{"name": "A", "weight": math.nan}, {"name": "B", "weight": 1}],
            "variants[0].weight",
            "positive",
        ),
        (
            [{"name": "A", "weight": "50"}, {"name": "B", "weight": 1}],
            "variants[0].weight",
            "positive",
        ),
        (
            [{"name": "A", "weight": 1e-9}, {"name": "B", "weight": 1}],
            "variants",
            "at least 1/10000",
        ),
        ([{"name": "", "weight": 1}, {"name": "B", "weight": 1}], "variants[0].name", "A-Z"),
        ([{"name": "A" * 65, "weight": 1}, {"name": "B", "weight": 1}], "variants[0].name", "A-Z"),
        ([{"name": "A", "weight": 1, "x": 1}, {"name": "B", "weight": 1}], "variants[0]", "name"),
        ([{"name": f"v{i}", "weight": 1} for i in range(9)], "variants", "2 to 8"),
    ],
)
def test_bad_weights_and_names_are_refused_with_the_field(
    variants: Any, field: str, message: str
) -> None:
    with pytest.raises(AssignmentError, match=message) as caught:
        plan("exp", variants)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"key": "Bad Key"}, "key"),
        ({"key": "é"}, "key"),
        ({"traffic": 1.5}, "traffic"),
        ({"traffic": math.inf}, "traffic"),
        ({"layer": 5}, "layer"),
        ({"layer_range": [0.6, 0.4]}, "layer_range"),
        ({"layer_range": [0, "1"]}, "layer_range"),
        ({"layer_range": "0-1"}, "layer_range"),
        ({"unit": "person"}, "unit"),
    ],
)
def test_bad_fields_are_refused_with_the_field(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"key": "exp", "variants": HALF, **kwargs}
    with pytest.raises(AssignmentError) as caught:
        plan(**args)
    assert caught.value.field == field


@pytest.mark.parametrize("unit", ["", "x" * 129, None, 5, ["a"]])
def test_hostile_unit_ids_are_refused(unit: Any) -> None:
    with pytest.raises(AssignmentError, match="unit id"):
        variant_of(plan("exp", HALF), unit)
    assert variant_of(plan("exp", HALF), "\udcff\x00✓") in {"A", "B"}
