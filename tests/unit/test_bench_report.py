"""Result rows carry their spread; ratios pair interleaved runs; the flat-cost and scale-out
rows come out of their runs as documented."""

from __future__ import annotations

import pytest

from bench.flatcost import TARGET as FLAT_TARGET
from bench.flatcost import per_run, size_label
from bench.flatcost import rows as flat_rows
from bench.pipeline import PipelineRun
from bench.report import Row, markdown, ratios, spread, width
from bench.scaleout import TARGET as SCALE_TARGET
from bench.scaleout import mismatches
from bench.scaleout import rows as scale_rows


def run(rate: float, cpu: float, *, complete: bool = True, **totals: int) -> PipelineRun:
    return PipelineRun("all", 1000, rate, rate, cpu, 0.0, 300.0, 10.0, True,
                       complete=complete, totals=dict(totals))  # fmt: skip


def test_width_is_the_spread_over_the_median() -> None:
    assert width([90.0, 100.0, 110.0]) == pytest.approx(0.2)
    assert width([5.0]) is None
    assert width([]) is None
    assert width([0.0, 0.0]) is None


def test_spread_shows_min_max_and_their_width() -> None:
    assert spread(Row("s", "w", "u", [90.0, 100.0, 110.0])) == "90.0 .. 110.0 (20%)"
    assert spread(Row("s", "w", "u", [4.0])) == "4 .. 4"
    assert spread(Row("s", "w", "u")) == "-"


def test_ratios_pair_runs_and_leave_out_failed_ones() -> None:
    assert ratios([10.0, 0.0, 30.0], [5.0, 4.0, 0.0]) == [2.0]
    assert ratios([], [1.0]) == []


def test_size_labels() -> None:
    assert [size_label(n) for n in (250, 100_000, 1_000_000, 1_500_000)] == [
        "250", "100k", "1M", "1.5M",
    ]  # fmt: skip


def test_per_run_keeps_failed_runs_in_place_as_zero() -> None:
    runs = [run(1.0, 50.0), None, run(1.0, 70.0, complete=False), run(1.0, 60.0)]
    assert per_run(runs, lambda r: r.cpu_s_per_m) == [50.0, 0.0, 0.0, 60.0]


def test_flat_cost_ratio_is_big_over_small_pair_by_pair() -> None:
    runs: dict[int, list[PipelineRun | None]] = {
        100_000: [run(10.0, 50.0), run(10.0, 40.0), run(10.0, 60.0)],
        1_000_000: [run(9.0, 55.0), run(9.0, 60.0, complete=False), run(9.0, 90.0)],
    }
    out = flat_rows(("all",), [100_000, 1_000_000], runs)
    ratio = out[-1]
    assert ratio.what == "worker [all]: CPU-s per M events at 1M / at 100k"
    assert ratio.values == pytest.approx([1.1, 1.5])
    assert ratio.target == FLAT_TARGET
    by_what = {r.what: r.values for r in out}
    assert by_what["worker [all] at 1M events: CPU-seconds per million events"] == [55.0, 90.0]


def test_mismatches_name_only_totals_that_must_not_depend_on_workers() -> None:
    one = {"pipeline.valid": 100, "pipeline.dead": 3, "folded.count_traffic": 40,
           "topic.clean_messages": 40, "traffic.today_views": 70}  # fmt: skip
    two = {**one, "folded.count_traffic": 60, "topic.clean_messages": 61}
    assert mismatches(one, two) == []
    assert mismatches(one, {**two, "pipeline.valid": 99}) == ["pipeline.valid: 100 vs 99"]
    assert mismatches(one, {k: v for k, v in two.items() if k != "traffic.today_views"}) == [
        "traffic.today_views: 70 vs None"
    ]


def test_scale_out_row_gives_the_ratio_and_says_whether_counts_were_exact() -> None:
    pairs = [
        (run(100.0, 50.0, **{"pipeline.valid": 9}), run(180.0, 55.0, **{"pipeline.valid": 9})),
        (run(100.0, 50.0, **{"pipeline.valid": 9}), run(150.0, 60.0, **{"pipeline.valid": 8})),
        (run(100.0, 50.0), run(0.0, 0.0, complete=False)),
    ]
    ratio = scale_rows(("all",), pairs)[0]
    assert ratio.values == pytest.approx([1.8, 1.5])
    assert ratio.target == SCALE_TARGET
    assert ratio.note.startswith(
        "counts exact in 1/2 pairs (valid); differ: pipeline.valid: 9 vs 8"
    )


def test_markdown_carries_the_capacity_plan_lines() -> None:
    meta = {"started": "t", "machine": "m", "events": 10, "messages": 3, "seed": 7, "runs": 3,
            "capacity": ["Capacity plan, derived from this run's measured costs:"]}  # fmt: skip
    text = markdown([Row("s", "w", "u", [1.0, 2.0, 3.0])], meta)
    assert "| s | w | 2 | 1 .. 3 (100%) | u | 3 |" in text
    assert text.rstrip().endswith("Capacity plan, derived from this run's measured costs:")


def test_markdown_says_a_warm_up_was_made_only_when_it_was() -> None:
    meta = {"started": "t", "machine": "m", "events": 10, "messages": 3, "seed": 7, "runs": 3}
    assert "warm-up" not in markdown([], {**meta, "warmup": False})
    assert "warm-up run that is not counted" in markdown([], {**meta, "warmup": True})
