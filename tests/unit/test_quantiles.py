"""DDSketch quantiles: accuracy, merge and serialisation."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.sketches.quantiles import RELATIVE_ACCURACY, Quantiles

QS = (0.0, 0.1, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)


def _exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


def _sketch(values: list[float]) -> Quantiles:
    s = Quantiles()
    for v in values:
        s.add(v)
    return s


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.001, 1e7, allow_nan=False), min_size=1, max_size=300))
def test_quantiles_within_relative_accuracy(values: list[float]) -> None:
    s = _sketch(values)
    for q in QS:
        got, want = s.quantile(q), _exact(values, q)
        assert got is not None
        assert abs(got - want) <= RELATIVE_ACCURACY * want + 1e-9


def test_large_random_sample() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(7, 1) for _ in range(20_000)]
    s = _sketch(values)
    assert s.count == 20_000
    for q in QS:
        assert abs(s.quantile(q) - _exact(values, q)) <= RELATIVE_ACCURACY * _exact(values, q)  # type: ignore[operator]


def test_empty_and_zero() -> None:
    assert Quantiles().quantile(0.5) is None
    s = _sketch([0.0, 0.0, 0.0, 5.0])
    assert s.quantile(0.5) == 0
    assert s.count == 4


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0.0, 1e5, allow_nan=False), max_size=100),
    st.lists(st.floats(0.0, 1e5, allow_nan=False), max_size=100),
)
def test_merge_equals_one_sketch(a: list[float], b: list[float]) -> None:
    merged = _sketch(a).merge(_sketch(b))
    whole = _sketch(a + b)
    assert merged.count == len(a) + len(b)
    for q in QS:
        assert merged.quantile(q) == whole.quantile(q)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e4, 1e6, allow_nan=False), max_size=200))
def test_round_trip(values: list[float]) -> None:
    s = _sketch(values)
    back = Quantiles.from_bytes(s.to_bytes())
    assert back == s
    assert back.count == s.count
    for q in QS:
        assert back.quantile(q) == s.quantile(q)


def test_serialisation_is_compact() -> None:
    s = _sketch([float(v) for v in range(100, 5000)])
    # About 390 one-percent bins cover 100..5000; 8 bytes each plus a small header.
    assert len(s.to_bytes()) < 4000


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0.0, 1e5, allow_nan=False), max_size=60),
    st.lists(st.floats(0.0, 1e5, allow_nan=False), max_size=60),
    st.lists(st.floats(0.0, 1e6, allow_nan=False), max_size=60),
)
def test_merged_and_restored_sketches_keep_learning(
    a: list[float], b: list[float], c: list[float]
) -> None:
    merged = _sketch(a).merge(_sketch(b))
    restored = Quantiles.from_bytes(merged.to_bytes())
    for v in c:
        merged.add(v)
        restored.add(v)
    whole = _sketch(a + b + c)
    for q in QS:
        assert merged.quantile(q) == whole.quantile(q) == restored.quantile(q)
