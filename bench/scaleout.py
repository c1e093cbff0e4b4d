"""Scale-out: two worker processes (one consumer group) against one, same data, same run.

Both are started before the input is written and it is written only once every worker has
joined (``bench.drain.joined``), so no rebalance moves partitions during a drain. Counts
must be exact: the validate stage's totals and today's page views (merged from the traffic
checkpoints once they hold every clean message: the last snapshot may be seconds older) of
the two-worker run equal the one-worker run's. Bundle counts (clean messages, messages
folded) are not compared: the takes, hence the bundles, differ with the partitions each
worker holds.
"""

from __future__ import annotations

from bench.load import DataSet
from bench.pipeline import PipelineRun
from bench.report import Row, ratios
from bench.runner import Runner

TARGET = "≥ 1.7x"
EXACT = ("pipeline.", "traffic.")  # totals that must not depend on the number of workers


def mismatches(one: dict[str, int], two: dict[str, int]) -> list[str]:
    """Exact totals that differ between two runs of the same data, as "name: a vs b"."""
    names = sorted(n for n in one.keys() | two.keys() if n.startswith(EXACT))
    return [f"{n}: {one.get(n)} vs {two.get(n)}" for n in names if one.get(n) != two.get(n)]


def rows(agents: tuple[str, ...], pairs: list[tuple[PipelineRun, PipelineRun]]) -> list[Row]:
    """events/s of one and two workers, their ratio pair by pair, CPU and RSS of each."""
    label = ",".join(agents)
    done = [(a, b) for a, b in pairs if a.complete and b.complete]
    differ = [mismatches(a.totals, b.totals) for a, b in done]
    wrong = [m for found in differ for m in found]
    note = f"counts exact in {sum(not found for found in differ)}/{len(done)} pairs"
    compared = sorted({n for a, _ in done for n in a.totals if n.startswith(EXACT)})
    note += f" ({', '.join(n.split('.', 1)[1] for n in compared) or 'no totals found'})"
    note += "; differ: " + "; ".join(wrong[:4]) if wrong else ""
    failed = sorted({r.note for a, b in pairs for r in (a, b) if not r.complete and r.note})
    out = [
        Row("scale-out", f"worker [{label}] x2 / x1: steady events/s", "x",
            ratios([b.events_per_s for _, b in done], [a.events_per_s for a, _ in done]),
            sum(a.seconds + b.seconds for a, b in done), target=TARGET,
            note="; ".join([note, *failed])[:400]),
    ]  # fmt: skip
    for n, pick in ((1, 0), (2, 1)):
        runs = [p[pick] for p in done]
        head, seconds = f"worker [{label}] x{n}", sum(r.seconds for r in runs)
        out += [
            Row("scale-out", f"{head}: steady events/s", "events/s",
                [r.events_per_s for r in runs], seconds),
            Row("scale-out", f"{head}: CPU-seconds per million events (all workers)", "CPU-s",
                [r.cpu_s_per_m for r in runs], seconds),
            Row("scale-out", f"{head}: peak RSS (all workers)", "MiB",
                [r.peak_rss_mib for r in runs], seconds),
        ]  # fmt: skip
    return out


async def measure(runner: Runner, agents: tuple[str, ...], data: DataSet, runs: int) -> list[Row]:
    """``runs`` pairs (one worker, then two) over ``data``."""
    pairs: list[tuple[PipelineRun, PipelineRun]] = []
    for n in range(runs):
        got = []
        for workers in (1, 2):
            runner.say(f"scale-out: [{','.join(agents)}] x{workers}, run {n + 1}/{runs}")
            result = await runner.once(
                agents, data, workers=workers, joined_first=True, exact_views=True
            )
            if not result.complete:
                runner.say(f"scale-out: x{workers}: {result.note}")
            got.append(result)
        pairs.append((got[0], got[1]))
    return rows(agents, pairs)
