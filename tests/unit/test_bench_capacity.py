"""The capacity plan's arithmetic, from measured costs to processes, partitions and bytes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from bench.capacity import Costs, collector_cost, door_cost, lines, plan, processes

COSTS = Costs(
    worker_cpu_s_per_m=75.0, events_per_request=3.0, bytes_per_message=1000.0,
    redis_commands_per_event=0.5, redis_used_mib=20.0, worker_rss_mib=400.0,
    collector_us_per_request=300.0,
)  # fmt: skip


def test_processes_round_up_at_the_planned_utilisation() -> None:
    assert processes(0.0) == 1
    assert processes(0.6) == 1
    assert processes(0.61) == 2
    assert processes(6.0) == 10


def test_a_thousand_events_a_second_fits_one_worker_and_one_collector() -> None:
    p = plan(1_000.0, COSTS)
    assert p.worker_cores == pytest.approx(0.075)
    assert (p.workers, p.partitions, p.collectors) == (1, 4, 1)
    assert p.collector_cores == pytest.approx(1000 / 3 * 300e-6)
    assert p.kafka_in_mb_s == pytest.approx(1000 / 3 * 1000 * 2 / 1e6)
    assert p.kafka_disk_gb == pytest.approx(1000 / 3 * 1000 * 2 * 86_400 * 7 * 3 / 1e9)
    assert (p.redis_ops_s, p.redis_cores) == (500.0, 1)


def test_a_hundred_thousand_events_a_second_scales_every_figure() -> None:
    p = plan(100_000.0, COSTS)
    assert p.worker_cores == pytest.approx(7.5)
    assert p.workers == 13  # 7.5 cores at 60 % busy
    assert p.partitions == 26  # two per worker: room to double the workers
    assert p.collectors == 17  # 10 cores of requests at 60 % busy
    assert p.redis_cores == 1  # 50,000 commands/s under 60 % of one core's 100,000


def test_without_a_collector_figure_the_plan_says_so() -> None:
    costs = Costs(75.0, 3.0, 1000.0, 0.5, 20.0, 400.0, None)
    p = plan(1_000.0, costs)
    assert (p.collectors, p.collector_cores) == (None, None)
    text = "\n".join(lines(costs, [p]))
    assert "not measured (run the door section)" in text
    assert "| 1,000 | 0.07 | 1 | 4 | - | - |" in text


def test_door_cost_takes_the_collector_row_with_the_most_connections() -> None:
    rows: list[object] = [
        {"section": "door", "what": "collector: CPU per request (16 conns)", "median": 250.0},
        {
            "section": "door",
            "what": "collector (1 process): CPU per request (64 conns)",
            "median": 310.0,
        },
        {
            "section": "door",
            "what": "collector (2 processes): CPU per request (64 conns)",
            "median": 9.0,
        },
        {"section": "door", "what": "bare-stack floor: CPU per request (64 conns)", "median": 40.0},
        {"section": "pipeline", "what": "collector: CPU per request (128 conns)", "median": 1.0},
    ]
    assert door_cost(rows) == 310.0


@pytest.mark.parametrize(
    "rows",
    [
        [],
        ["text", 3, None, [], {}],
        [{"section": "door", "what": 5, "median": 300.0}],
        [{"section": "door", "what": "collector: CPU per request (x conns)", "median": 300.0}],
        [{"section": "door", "what": "collector: CPU per request (64 conns)", "median": None}],
        [{"section": "door", "what": "collector: CPU per request (64 conns)", "median": "300"}],
        [{"section": "door", "what": "collector: CPU per request (64 conns)", "median": -1}],
        [{"section": "door", "what": "collector: CPU per request (64 conns)", "median": True}],
    ],
)
def test_door_cost_ignores_rows_it_cannot_read(rows: list[object]) -> None:
    assert door_cost(rows) is None


def test_collector_cost_reads_result_files_and_skips_broken_ones(tmp_path: Path) -> None:
    assert collector_cost(tmp_path) is None
    (tmp_path / "broken.json").write_bytes(b"\xff\xfe{not json")
    (tmp_path / "list.json").write_bytes(b"[1, 2]")
    (tmp_path / "rows.json").write_bytes(orjson.dumps({"rows": "nope"}))
    assert collector_cost(tmp_path) is None
    row = {"section": "door", "what": "collector: CPU per request (64 conns)", "median": 280.0}
    (tmp_path / "door.json").write_bytes(orjson.dumps({"meta": {}, "rows": [row]}))
    assert collector_cost(tmp_path) == 280.0


def test_the_plan_names_the_row_its_worker_cost_comes_from() -> None:
    costs = Costs(75.0, 3.0, 1000.0, 0.5, 20.0, 400.0, None, "worker [all] at 1M events")
    assert "75.0 CPU-s per million events (median, worker [all] at 1M events)" in "\n".join(
        lines(costs, [])
    )
