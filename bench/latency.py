"""End to end: collector accepted -> admin WebSocket received, at shares of the max rate.

Marker: the ``pipeline`` channel reports how many events the pipeline has judged; a request
counts as delivered at the first update received after its acceptance whose count includes
all events accepted up to it. With partitions processed out of step this can credit a request
slightly early, never late. The channel is published at most 2 Hz and coalesced by the feed,
so these figures include that pacing, as an admin sees it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

from redis.asyncio import Redis

from bench.process import Children
from bench.report import Row
from bench.stack import Accepted, Stack, Watcher, post, start, traffic
from stream.models.keys import Keys
from stream.settings import Settings

CHANNEL = "pipeline"
LEVELS = (0.25, 0.50, 0.80)


def delays(marks: list[tuple[float, int]], updates: list[tuple[float, int]]) -> list[float]:
    """Seconds from each acceptance to the first later update that includes it."""
    out: list[float] = []
    j = 0
    for at, count in marks:
        while j < len(updates) and (updates[j][0] < at or updates[j][1] < count):
            j += 1
        if j == len(updates):
            break
        out.append(updates[j][0] - at)
    return out


def quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


async def judged(redis: Redis, keys: Keys) -> int:
    """Events the pipeline has judged, from its shared counters (not rate-limited like the feed)."""
    totals = await redis.hgetall(keys.pipeline)
    return sum(int(totals.get(k, 0)) for k in (b"valid", b"dead_lettered"))


async def max_rate(stack: Stack, events: int) -> float:
    """Events/s the stack sustains, collector to judged, posting as fast as possible."""
    redis = Redis.from_url(stack.settings.redis_url)
    keys = Keys.of(stack.settings)
    try:
        before = await judged(redis, keys)
        accepted = Accepted()
        began = time.monotonic()
        await post(stack, traffic(events / 10, 10, seed=5), paced=False, accepted=accepted)
        deadline = time.monotonic() + 120
        while await judged(redis, keys) - before < accepted.events and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # polling interval, bounded by the deadline
        return (await judged(redis, keys) - before) / (time.monotonic() - began)
    finally:
        await redis.aclose()


async def measure(
    base: Settings, children: Children, *, tag: str, agents: tuple[str, ...], runs: int,
    seconds: float, probe_events: int, known_max: float | None, say: Callable[[str], None],
    found: dict[str, float] | None = None,
) -> list[Row]:  # fmt: skip
    """p50/p99 end-to-end latency at 25/50/80 % of the measured maximum rate."""
    stack = await start(base, children, tag, agents)
    rows: list[Row] = []
    async with Watcher(stack, CHANNEL) as watcher:
        warm = Accepted()
        await post(stack, traffic(200, 1, seed=3), paced=True, accepted=warm)
        if not await watcher.wait_for(warm.events, 90):
            raise RuntimeError("the pipeline channel never reported the warm-up traffic")
        say(f"latency: probing max rate with {probe_events:,} events")
        t0 = time.monotonic()
        measured = await max_rate(stack, probe_events)
        top = min(measured, known_max) if known_max else measured
        if found is not None:
            found["e2e"] = top
        rows.append(Row("latency", "max rate, collector -> live feed (posting flat out)",
                        "events/s", [measured], time.monotonic() - t0,
                        note=f"levels below use {top:,.0f} ev/s"))  # fmt: skip
        for level in LEVELS:
            p50 = Row("latency", f"e2e p50 at {level:.0%} of max ({level * top:,.0f} ev/s)", "ms")
            p99 = Row("latency", f"e2e p99 at {level:.0%} of max ({level * top:,.0f} ev/s)", "ms",
                      target="< 250 ms at 50 %" if level == 0.5 else "")  # fmt: skip
            for n in range(runs):
                say(f"latency: {level:.0%} of max, run {n + 1}/{runs}")
                t0 = time.monotonic()
                accepted = Accepted(events=watcher.updates[-1][1])
                await post(stack, traffic(level * top, seconds, seed=20 + n), paced=True,
                           accepted=accepted)  # fmt: skip
                # The channel publishes only when new counts arrive, so a short unmeasured
                # trailer at the same rate lets the last measured requests be reported.
                trailer = Accepted(events=accepted.events)
                await post(stack, traffic(level * top, 1.5, seed=90 + n), paced=True,
                           accepted=trailer)  # fmt: skip
                await watcher.wait_for(accepted.events, 30)
                got = [d * 1000 for d in delays(accepted.marks, watcher.updates)]
                if got:
                    p50.values.append(quantile(got, 0.50))
                    p99.values.append(quantile(got, 0.99))
                p50.seconds += time.monotonic() - t0
                p99.seconds = p50.seconds
                p99.note = (
                    f"{len(got)}/{len(accepted.marks)} requests matched; "
                    f"{accepted.refused} refused, {accepted.failed} connection errors"
                )
            rows += [p50, p99]
    for child in (stack.live, stack.collector, stack.worker, stack.redis):
        children.stop(child)
    return rows
