"""The decision line: the order of verdicts and the figures behind each."""

from __future__ import annotations

import numpy as np
import pytest

from stream.experiments.analysis import VariantFigures, analyse
from stream.experiments.guardrails import Vital
from stream.experiments.running import Running


def _pair(a: tuple[int, int], b: tuple[int, int]) -> list[VariantFigures]:
    return [VariantFigures("A", 0.5, *a), VariantFigures("B", 0.5, *b)]


def test_waiting_then_collecting() -> None:
    assert analyse(_pair((0, 0), (0, 0)))["status"] == "waiting"
    early = analyse(_pair((40, 4), (42, 9)))
    assert early["status"] == "collecting"
    assert early["decision"].startswith("collecting: 40 of 100 units")


def test_a_clear_winner_is_called_with_its_interval() -> None:
    got = analyse(_pair((5000, 500), (5000, 650)))
    assert got["status"] == "winner"
    assert got["decision"].startswith("B is better: +3.0 points (95 % always-valid interval")
    assert "100 % chance to beat A; safe to stop" in got["decision"]
    b = got["variants"][1]["vs_control"]
    assert b["low"] > 0 and b["p_value"] < 0.05 and b["chance_to_beat"] > 0.99


def test_no_difference_says_how_long_to_keep_running() -> None:
    got = analyse(_pair((1000, 100), (1000, 104)))
    assert got["status"] == "running"
    assert "keep running until about" in got["decision"]
    assert "units per variant to detect +2.0 points" in got["decision"]


def test_every_variant_worse_means_keep_control() -> None:
    got = analyse(_pair((5000, 650), (5000, 500)))
    assert (got["status"], got["decision"]) == (
        "loser",
        "every variant is worse than A: stop and keep A",
    )


def test_sample_ratio_mismatch_overrides_a_winner() -> None:
    got = analyse(_pair((10_400, 1040), (9_600, 1300)))
    assert got["status"] == "srm"
    assert "units split 52.0/48.0 against a planned 50/50" in got["decision"]


def test_a_broken_guardrail_stops_the_experiment() -> None:
    variants = _pair((5000, 500), (5000, 650))
    variants[0].vitals = {"LCP": Vital(2000, 500, 50)}
    variants[1].vitals = {"LCP": Vital(3100, 500, 300)}
    got = analyse(variants)
    assert got["status"] == "harm"
    assert got["decision"] == (
        "stop: B breaks a guardrail (LCP p75 3,100 ms against 2,000 ms; "
        "60% of samples past 2,500 ms against 10%)"
    )
    assert analyse(_pair((5000, 500), (5000, 500)), dead_letter_share=0.3)["status"] == "harm"


def test_three_variants_share_alpha() -> None:
    # 300/3000 against 379/3000: always-valid p = 0.031, a call at 0.05 but not at 0.05 / 2.
    two = analyse(_pair((3000, 300), (3000, 379)))
    assert two["status"] == "winner"
    three = [VariantFigures(n, 1 / 3, 3000, c) for n, c in (("A", 300), ("B", 300), ("C", 379))]
    got = analyse(three)
    assert 0.025 < got["variants"][2]["vs_control"]["p_value"] < 0.05
    assert got["status"] == "running"


def test_one_variant_is_not_an_experiment() -> None:
    with pytest.raises(ValueError, match="control and at least one variant"):
        analyse([VariantFigures("A", 1.0, 10, 1)])


def test_only_the_chosen_guardrails_apply() -> None:
    variants = _pair((5000, 500), (5000, 650))
    variants[0].vitals = {"LCP": Vital(2000, 500, 50)}
    variants[1].vitals = {"LCP": Vital(3100, 500, 300)}
    assert analyse(variants, guarded=frozenset({"errors"}))["status"] == "winner"
    assert analyse(variants, guarded=frozenset({"LCP"}))["status"] == "harm"


def _running(values: list[float]) -> Running:
    r = Running()
    for v in values:
        r.add(v)
    return r


def test_continuous_means_get_an_always_valid_comparison() -> None:
    rng = np.random.default_rng(5)
    variants = _pair((3000, 300), (3000, 300))
    variants[0].means = {"dwell_ms": _running(list(rng.normal(30_000, 10_000, 3000)))}
    variants[1].means = {"dwell_ms": _running(list(rng.normal(33_000, 10_000, 3000)))}
    dwell = analyse(variants)["variants"][1]["vs_control"]["means"]["dwell_ms"]
    assert dwell["p_value"] < 1e-6 and dwell["low"] < 3000 < dwell["high"]
    same = _pair((3000, 300), (3000, 300))
    same[0].means = {"dwell_ms": _running(list(rng.normal(30_000, 10_000, 3000)))}
    same[1].means = {"dwell_ms": _running(list(rng.normal(30_000, 10_000, 3000)))}
    assert analyse(same)["variants"][1]["vs_control"]["means"]["dwell_ms"]["p_value"] > 0.05
    few = _pair((50, 5), (50, 5))
    few[0].means = {"dwell_ms": _running([1.0, 2.0])}
    few[1].means = {"dwell_ms": _running([5.0, 6.0])}
    early = analyse(few)["variants"][1]["vs_control"]["means"]["dwell_ms"]
    assert early == {"difference": 4.0, "p_value": 1.0, "low": None, "high": None}
