"""Traffic, forms and vitals merged from partitions agree with the simulator's ground truth."""

from __future__ import annotations

from functools import reduce
from typing import Any

import pytest

from dojo_pulse.simulation import generate
from stream.metrics.forms import FormsState
from stream.metrics.traffic import TrafficState
from stream.metrics.vitals import VitalsState

START = 1_764_072_000_000  # noon UTC: the whole run falls on one day
DURATION_S = 600
PARTITIONS = 3


@pytest.fixture(scope="module")
def run() -> tuple[dict[str, Any], TrafficState, FormsState, VitalsState]:
    requests, truth = generate(11, rate=30, duration_s=DURATION_S, start_ms=START)
    parts = [(TrafficState(), FormsState(), VitalsState()) for _ in range(PARTITIONS)]
    for r in requests:
        events = [e for e, reason in zip(r.body["events"], r.expect, strict=True) if not reason]
        if r.bot or not events:
            continue
        received = START + int(r.at_s * 1000)
        batch = {"session_id": r.session_id, "visitor_id": r.visitor_id, "device": r.device,
                 "received_at": received, "events": events}  # fmt: skip
        for state in parts[sum(r.session_id.encode()) % PARTITIONS]:
            state.apply(batch, received)
    traffic = reduce(TrafficState.merge, [p[0] for p in parts])
    forms = reduce(FormsState.merge, [p[1] for p in parts])
    vitals = reduce(VitalsState.merge, [p[2] for p in parts])
    return truth.to_dict(), traffic, forms, vitals


NOW = START + DURATION_S * 1000


def test_traffic_is_exact(
    run: tuple[dict[str, Any], TrafficState, FormsState, VitalsState],
) -> None:
    truth, traffic, _, _ = run
    snap = traffic.snapshot(NOW)
    today = snap["today"]
    assert today["views"] == sum(truth["page_views_by_url"].values())
    assert (today["visitors"], today["sessions"]) == (truth["visitors"], truth["sessions"])
    assert today["bounce_rate"] == truth["bounces"] / truth["sessions"]
    assert {k: v for k, v in snap["devices"].items() if v} == {
        k: v for k, v in truth["devices"].items() if v}  # fmt: skip
    top = sorted(truth["page_views_by_url"].items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(p["url"], p["views"]) for p in snap["top_pages"]] == top
    entries = sorted(truth["entry_pages"].items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(p["url"], p["sessions"]) for p in snap["entry_pages"]] == entries
    refs = sorted(truth["referrer_hosts"].items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(r["host"], r["sessions"]) for r in snap["referrers"]] == refs
    assert snap["late"] == 0


def test_forms_are_exact(run: tuple[dict[str, Any], TrafficState, FormsState, VitalsState]) -> None:
    truth, _, forms, _ = run
    got = {f["form_id"]: f for f in forms.snapshot(NOW)["forms"]}
    assert set(got) == set(truth["forms"])
    for form_id, want in truth["forms"].items():
        f = got[form_id]
        assert (f["starts"], f["submits"], f["abandons"]) == (
            want["starts"], want["submits"], want["abandons"])  # fmt: skip
        assert f["dropoff"] == want["dropoff_fields"]
        assert f["fields"] == want["fields"]


def test_vitals_counts_exact_quantiles_close(
    run: tuple[dict[str, Any], TrafficState, FormsState, VitalsState],
) -> None:
    truth, _, _, vitals = run
    site = vitals.snapshot(NOW)["site"]
    for metric, want in truth["vitals"].items():
        assert site[metric]["n"] == want["count"]
        for q in ("p50", "p75"):
            # The truth takes rank int(q * n), the sketch floor(q * (n - 1)): a rank apart.
            assert site[metric][q] == pytest.approx(want[q], rel=0.02)
