"""Web Vitals: threshold classes, quantiles, page ranking, merge and checkpoints."""

from __future__ import annotations

import math
import random
from functools import reduce
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.metrics.vitals import METRICS, THRESHOLDS, VitalsState, classify

T0 = 1_764_028_800_000
NOON = T0 + 43_200_000


def vital(name: str, value: float, ts: int = NOON, url: str = "/") -> dict[str, Any]:
    return {
        "event_id": f"e{ts}",
        "type": "web_vital",
        "ts": ts,
        "session_id": "sess-vital",
        "url": url,
        "props": {"name": name, "value": value},
        "referrer": "",
    }


def batch(events: list[dict[str, Any]], sid: str = "sess-vital") -> dict[str, Any]:
    return {
        "session_id": sid,
        "visitor_id": "v",
        "device": "mobile",
        "received_at": NOON,
        "events": events,
    }


@pytest.mark.parametrize(
    ("metric", "good", "poor"),
    [
        ("LCP", 2500, 4000),
        ("INP", 200, 500),
        ("CLS", 0.1, 0.25),
        ("FCP", 1800, 3000),
        ("TTFB", 800, 1800),
    ],
)
def test_classes_at_the_boundaries(metric: str, good: float, poor: float) -> None:
    assert THRESHOLDS[metric] == (good, poor)
    assert classify(metric, good) == "good"
    assert classify(metric, math.nextafter(good, math.inf)) == "ni"
    assert classify(metric, poor) == "ni"
    assert classify(metric, math.nextafter(poor, math.inf)) == "poor"
    assert classify(metric, 0) == "good"


def test_shares_and_quantiles() -> None:
    s = VitalsState()
    values = [1000.0, 2500.0, 3000.0, 4000.0, 4000.5]
    s.apply(batch([vital("LCP", v) for v in values] + [vital("CLS", 0.3)]), NOON)
    site = s.snapshot(NOON)["site"]
    assert set(site) == set(METRICS)
    lcp = site["LCP"]
    assert (lcp["good"], lcp["ni"], lcp["poor"], lcp["n"]) == (0.4, 0.4, 0.2, 5)
    assert abs(lcp["p50"] - 3000) <= 30
    assert abs(lcp["p95"] - 4000) <= 40
    assert site["CLS"]["poor"] == 1.0
    assert site["INP"] == {
        "p50": None,
        "p75": None,
        "p95": None,
        "good": 0.0,
        "ni": 0.0,
        "poor": 0.0,
        "n": 0,
    }


def test_quantiles_within_one_percent_on_random_data() -> None:
    rng = random.Random(9)
    values = [rng.lognormvariate(6.5, 0.8) for _ in range(5000)]
    s = VitalsState()
    s.apply(batch([vital("INP", v) for v in values]), NOON)
    inp = s.snapshot(NOON)["site"]["INP"]
    ordered = sorted(values)
    for key, q in (("p50", 0.5), ("p75", 0.75), ("p95", 0.95)):
        exact = ordered[math.floor(q * (len(values) - 1))]
        assert abs(inp[key] - exact) <= 0.01 * exact


def test_top_twenty_pages_by_samples() -> None:
    s = VitalsState()
    events = [vital("TTFB", 100.0, url=f"/page{i}") for i in range(30) for _ in range(i + 1)]
    s.apply(batch(events), NOON)
    pages = s.snapshot(NOON)["pages"]
    assert [p["url"] for p in pages] == [f"/page{i}" for i in range(29, 9, -1)]
    assert pages[0]["metrics"]["TTFB"]["n"] == 30


def test_page_cap_folds_into_other() -> None:
    s = VitalsState(max_pages=2)
    s.apply(batch([vital("FCP", 10.0, url=f"/p{i}") for i in range(5)]), NOON)
    pages = {p["url"]: p["metrics"]["FCP"]["n"] for p in s.snapshot(NOON)["pages"]}
    assert pages == {"/p0": 1, "/p1": 1, "(other)": 3}


def _random_batches(rng: random.Random, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        metric = rng.choice(METRICS)
        hi = THRESHOLDS[metric][1] * 2
        evs = [
            vital(
                metric,
                rng.uniform(0, hi),
                NOON + rng.randrange(3_600_000),
                rng.choice(["/", "/a", "/b"]),
            )
            for _ in range(rng.randint(1, 5))
        ]
        out.append(batch(evs, sid=f"sess-{i:06d}"))
    return out


def build(batches: list[dict[str, Any]]) -> VitalsState:
    s = VitalsState()
    for b in batches:
        s.apply(b, NOON)
    return s


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 4), st.integers(1, 60))
def test_merge_of_partitions_equals_one_state(seed: int, partitions: int, n: int) -> None:
    batches = _random_batches(random.Random(seed), n)
    parts: list[list[dict[str, Any]]] = [[] for _ in range(partitions)]
    for b in batches:
        parts[hash(b["session_id"]) % partitions].append(b)
    merged = reduce(VitalsState.merge, [build(p) for p in parts])
    assert merged.snapshot(NOON) == build(batches).snapshot(NOON)


def test_round_trip_and_expire() -> None:
    state = build(_random_batches(random.Random(1), 200))
    back = VitalsState.from_bytes(state.to_bytes())
    assert back.snapshot(NOON) == state.snapshot(NOON)
    before = state.snapshot(NOON)
    state.expire(NOON)
    assert state.snapshot(NOON) == before
    state.expire(NOON + 2 * 86_400_000)
    assert state.snapshot(NOON)["site"]["LCP"]["n"] == 0
