"""Exact-then-HLL unique counting."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.sketches.uniques import EXACT_LIMIT, RELATIVE_ERROR, Uniques, fingerprint


def _count(keys: list[str]) -> Uniques:
    u = Uniques()
    for k in keys:
        u.add(fingerprint(k))
    return u


def test_fingerprint_is_stable_across_processes() -> None:
    # A fixed value: Python's own hash() is salted per process and would fail this.
    assert fingerprint("visitor-1") == 0x2751F0FA398B26BB
    assert 0 <= fingerprint("visitor-1") < 2**64


def test_exact_up_to_the_limit() -> None:
    keys = [f"v{i}" for i in range(EXACT_LIMIT)]
    u = _count(keys + keys[:100])
    assert u.is_exact
    assert u.count() == EXACT_LIMIT


def test_switches_to_hll_within_stated_error() -> None:
    n = 60_000
    u = _count([f"visitor-{i}" for i in range(n)])
    assert not u.is_exact
    # Three standard errors: fails far less than once in a hundred runs, and is deterministic here.
    assert abs(u.count() - n) <= 3 * RELATIVE_ERROR * n


@settings(max_examples=50, deadline=None)
@given(st.sets(st.text(min_size=1, max_size=8)), st.sets(st.text(min_size=1, max_size=8)))
def test_merge_counts_the_union(a: set[str], b: set[str]) -> None:
    merged = _count(sorted(a)).merge(_count(sorted(b)))
    assert merged.count() == len(a | b)
    assert merged == _count(sorted(a | b))


def test_merge_across_the_limit_equals_counting_in_one_place() -> None:
    a = [f"a{i}" for i in range(EXACT_LIMIT - 10)]
    b = [f"b{i}" for i in range(3000)]
    merged = _count(a).merge(_count(b))
    assert not merged.is_exact
    assert merged == _count(a + b)
    # and the other way round, exact merged into HLL
    assert _count(b).merge(_count(a + b)) == _count(a + b)


def test_round_trip_exact_and_hll() -> None:
    small = _count(["x", "y", "z"])
    assert Uniques.from_bytes(small.to_bytes()) == small
    assert len(small.to_bytes()) == 1 + 3 * 8
    big = _count([str(i) for i in range(EXACT_LIMIT + 5)])
    back = Uniques.from_bytes(big.to_bytes())
    assert back == big
    assert back.count() == big.count()


def test_merge_does_not_change_inputs() -> None:
    a, b = _count(["1"]), _count(["2"])
    a.merge(b)
    assert (a.count(), b.count()) == (1, 1)


def test_bulk_fold_matches_datasketch_update() -> None:
    from datasketch import HyperLogLogPlusPlus

    from stream.sketches.uniques import HLL_P

    hashes = [fingerprint(f"k{i}") for i in range(EXACT_LIMIT + 1)] + [0, 1, 2**64 - 1, 2**14]
    reference = HyperLogLogPlusPlus(p=HLL_P, hashfunc=lambda h: h)
    for h in hashes:
        reference.update(h)
    u = Uniques()
    for h in hashes:
        u.add(h)  # converts to HLL in bulk past the limit, then adds one by one
    assert not u.is_exact
    assert Uniques.from_bytes(b"H" + reference.digest().tobytes()) == u
    assert u.count() == round(reference.count())
