"""Flat cost: the all-agents worker at several data sizes in one bench run, interleaved.

A day ten times bigger must cost about ten times the CPU, not more: the row "CPU-s per M
events at <big> / at <small>" pairs the runs of the two sizes made back to back (run 1 of each,
then run 2, ...), so the ratio of each pair sees the same machine load.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.load import DataSet
from bench.pipeline import PipelineRun
from bench.report import Row, ratios
from bench.runner import Runner

TARGET = "≤ 1.25x"


def size_label(events: int) -> str:
    """100000 -> "100k", 1000000 -> "1M", 250 -> "250"."""
    if events >= 1_000_000:
        return f"{events / 1e6:g}M"
    if events >= 1_000:
        return f"{events / 1e3:g}k"
    return str(events)


def per_run(results: list[PipelineRun | None], pick: Callable[[PipelineRun], float]) -> list[float]:
    """``pick`` of each run, 0 for a run that did not complete (so pairs stay aligned)."""
    return [pick(r) if r is not None and r.complete else 0.0 for r in results]


def rows(
    agents: tuple[str, ...], sizes: list[int], runs: dict[int, list[PipelineRun | None]]
) -> list[Row]:
    """Rows per size (events/s, CPU-s per M events, peak RSS) and the cost ratio of the
    largest size to the smallest, pair by pair."""
    label = ",".join(agents)
    out: list[Row] = []
    for size in sizes:
        results = runs[size]
        head = f"worker [{label}] at {size_label(size)} events"
        done = [r for r in results if r is not None and r.complete]
        notes = sorted({r.note for r in results if r is not None and r.note})
        note = "; ".join(notes)[:300]
        seconds = sum(r.seconds for r in done)
        out += [
            Row("flat", f"{head}: steady events/s", "events/s", [r.events_per_s for r in done],
                seconds, note=note),
            Row("flat", f"{head}: CPU-seconds per million events", "CPU-s",
                [r.cpu_s_per_m for r in done], seconds),
            Row("flat", f"{head}: peak RSS", "MiB", [r.peak_rss_mib for r in done], seconds),
        ]  # fmt: skip
    small, big = min(sizes), max(sizes)
    cost = (
        per_run(runs[big], lambda r: r.cpu_s_per_m),
        per_run(runs[small], lambda r: r.cpu_s_per_m),
    )
    what = f"worker [{label}]: CPU-s per M events at {size_label(big)} / at {size_label(small)}"
    out.append(Row("flat", what, "x", ratios(*cost), target=TARGET,
                   note="pairs of runs made back to back"))  # fmt: skip
    return out


async def measure(
    runner: Runner, agents: tuple[str, ...], data: dict[int, DataSet], runs: int
) -> list[Row]:
    """``runs`` interleaved rounds over every size of ``data`` (requested size -> data set)."""
    sizes = sorted(data)
    results: dict[int, list[PipelineRun | None]] = {s: [] for s in sizes}
    for n in range(runs):
        for size in sizes:
            runner.say(f"flat: [{','.join(agents)}] {size_label(size)} events, run {n + 1}/{runs}")
            result = await runner.once(agents, data[size])
            if not result.complete:
                runner.say(f"flat: {size_label(size)}: {result.note}")
            results[size].append(result)
    return rows(agents, sizes, results)
