"""Resident memory of the whole stack (Kafka, Redis, worker, collector, live feed).

Idle: after start-up and a warm-up. Under load: the peak of samples taken while the stack
takes paced beacon traffic. Kafka is the shared broker; Redis is the stack's own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import infra
from bench.process import Children, memory_kib
from bench.report import Row
from bench.stack import Accepted, Watcher, post, start, traffic
from stream.settings import Settings

SAMPLE_S = 0.5


def _kafka_pid(settings: Settings) -> int | None:
    for item in infra.status_all(settings):
        if item.get("name") == "kafka" and item.get("running"):
            pid = item.get("pid")
            return int(str(pid)) if pid else None
    return None


def total_mib(pids: dict[str, int]) -> dict[str, float]:
    """RSS of each named process and their sum, MiB."""
    sizes = {name: memory_kib(pid) / 1024 for name, pid in pids.items()}
    sizes["total"] = sum(sizes.values())
    return sizes


async def measure(
    base: Settings, children: Children, *, tag: str, agents: tuple[str, ...], runs: int,
    seconds: float, rate: float, say: Callable[[str], None],
) -> list[Row]:  # fmt: skip
    """Rows for idle and loaded RSS, whole stack and per process."""
    stack = await start(base, children, tag, agents)
    pids = stack.pids()
    kafka = _kafka_pid(base)
    if kafka:
        pids["kafka"] = kafka
    rows: dict[str, Row] = {}

    def row(key: str, what: str, target: str = "") -> Row:
        return rows.setdefault(key, Row("footprint", what, "MiB RSS", target=target))

    async with Watcher(stack, "pipeline") as watcher:
        warm = Accepted()
        await post(stack, traffic(200, 1, seed=3), paced=True, accepted=warm)
        await watcher.wait_for(warm.events, 90)
        idle = total_mib(pids)
        for name, mib in idle.items():
            row(f"idle-{name}", f"idle: {name}").values.append(mib)
        for n in range(runs):
            say(f"footprint: {rate:,.0f} ev/s for {seconds:.0f} s, run {n + 1}/{runs}")
            t0 = time.monotonic()
            peak: dict[str, float] = {}
            accepted = Accepted(events=watcher.updates[-1][1])
            sending = asyncio.create_task(
                post(stack, traffic(rate, seconds, seed=40 + n), paced=True, accepted=accepted)
            )
            while not sending.done():
                for name, mib in total_mib(pids).items():
                    peak[name] = max(peak.get(name, 0.0), mib)
                await asyncio.sleep(SAMPLE_S)  # sampling interval
            await sending
            await watcher.wait_for(accepted.events, 60)
            for name, mib in peak.items():
                r = row(f"load-{name}", f"under load ({rate:,.0f} ev/s): {name}",
                        "≤ 2048 MiB whole stack" if name == "total" else "")  # fmt: skip
                r.values.append(mib)
                r.seconds += time.monotonic() - t0
    for child in (stack.live, stack.collector, stack.worker, stack.redis):
        children.stop(child)
    if not kafka:
        for r in rows.values():
            r.note = "Kafka pid unknown: not included"
    return list(rows.values())
