"""Our worker as a child process, running chosen agents over the benchmark data.

Figures per run: events/s over the middle 80 % of the drain (the steady state: the input is
preloaded, so lag falls at a constant slope there), CPU-seconds per million events over the
same span (``/proc/<pid>/stat``), changelog messages written per input event (the worker's
``*-changelog`` topics), and peak RSS (``VmHWM``).

Progress is what the slowest agent has folded (the worker's ``stream.runtime.progress`` counters),
the measure the Kafka Streams baseline reports too. Committed offsets are measured beside
it: they move only at checkpoints (a second or more apart), so over a drain of a few
seconds they show the checkpoint cadence more than the speed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from aiokafka import AIOKafkaConsumer
from redis.asyncio import Redis

from bench.load import produce
from bench.process import Child, Children, cpu_seconds, free_port, memory_kib
from bench.topics import Broker
from stream.app import folding_agents
from stream.ingest.bundles import unpack
from stream.models.keys import Keys
from stream.runtime.progress import folded
from stream.settings import Settings
from stream.topics import ensure_topics

SAMPLE_S = 0.25
STALL_S = 45.0  # no progress (commits or folds) this long: the agents do not consume the input
# Metric agents acknowledge a take only at their next checkpoint, which needs more input;
# once idle this long with at least TAIL_SHARE committed, the rest is that unacked tail.
TAIL_IDLE_S = 4.0
TAIL_SHARE = 0.9


@dataclass(frozen=True)
class Sample:
    at: float
    cpu_s: float
    raw: int  # committed offsets of the group on the raw topic
    events: int  # ... and on the clean events topic
    folded: int  # clean messages the slowest agent has folded


@dataclass(frozen=True)
class PipelineRun:
    """What one worker run measured; ``events_per_s`` is 0 when it never drained."""

    agents: str
    events: int
    events_per_s: float  # folded by the slowest agent (validated, for validation alone)
    committed_per_s: float  # committed by the worker's consumer group
    cpu_s_per_m: float
    changelog_per_event: float
    peak_rss_mib: float
    seconds: float
    drained: bool
    note: str = ""


def reads_raw(agents: tuple[str, ...]) -> bool:
    """Whether this agent set starts at the raw topic (it includes validation)."""
    return "all" in agents or "validate" in agents


def downstream(agents: tuple[str, ...]) -> bool:
    """Whether agents other than validation read the clean events topic."""
    return "all" in agents or any(a != "validate" for a in agents)


def _at_fraction(
    samples: list[Sample], pick: Callable[[Sample], int], total: int, share: float
) -> Sample:
    goal = total * share
    return next((s for s in samples if pick(s) >= goal), samples[-1])


def steady(samples: list[Sample], pick: Callable[[Sample], int], total: int) -> tuple[float, float]:
    """(fraction of input per second, CPU-seconds per fraction) over 10 %-90 % of the drain."""
    lo = _at_fraction(samples, pick, total, 0.10)
    hi = _at_fraction(samples, pick, total, 0.90)
    if hi.at <= lo.at or pick(hi) <= pick(lo):
        # Drained between two commits: fall back to first progress .. end.
        lo = next((s for s in samples if pick(s) > 0), samples[0])
        hi = samples[-1]
    share = (pick(hi) - pick(lo)) / total
    seconds = max(hi.at - lo.at, 1e-6)
    return share / seconds, (hi.cpu_s - lo.cpu_s) / max(share, 1e-9)


async def capture(
    settings: Settings, topic: str, expected: int
) -> tuple[list[tuple[bytes, bytes]], list[int], int]:
    """Every message of the clean ``topic`` (key, value), its partitions and the events they
    hold, to replay elsewhere."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka, group_id=None, auto_offset_reset="earliest",
        enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    out: list[tuple[bytes, bytes]] = []
    partitions: list[int] = []
    events = 0
    deadline = time.monotonic() + 60
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200, max_records=10_000)).values():
                for r in records:
                    out.append((r.key or b"", r.value or b""))
                    partitions.append(r.partition)
                    events += sum(len(b["events"]) for b in unpack(r.value) or ())
    finally:
        await consumer.stop()
    return out, partitions, events


async def run_once(
    base: Settings, children: Children, broker: Broker, *, agents: tuple[str, ...], tag: str,
    raw: list[tuple[bytes, bytes]], raw_events: int, clean: list[tuple[bytes, bytes]],
    clean_partitions: list[int], clean_events: int, timeout_s: float,
    on_worker: Callable[[Child], None] | None = None,
) -> PipelineRun:  # fmt: skip
    """One worker run with ``agents`` on its own topics, consumer group and empty Redis."""
    settings = replace(
        base, topic_prefix=tag, app_id=tag, agents=agents, worker_web_port=free_port(),
        data_dir=children.workdir / tag,
    )  # fmt: skip
    label = ",".join(agents)
    await ensure_topics(settings)
    from_raw = reads_raw(agents)
    if from_raw:
        await produce(settings, settings.topic_raw, raw)
        events, expected = raw_events, len(raw)
    else:
        await produce(settings, settings.topic_events, clean, clean_partitions)
        events, expected = clean_events, len(clean)
    worker = children.dojo(f"worker-{tag}", "worker", settings)
    try:
        samples, drained, began = await _follow(
            broker, worker, settings, agents, expected, timeout_s, on_worker
        )
        peak = memory_kib(worker.pid, "VmHWM") / 1024
    finally:
        children.stop(worker)
    changelog = await broker.message_count(
        [t for t in await broker.topics() if t.startswith(tag) and t.endswith("-changelog")]
    )
    total_wall = time.monotonic() - began
    last = samples[-1] if samples else None
    progressed = last is not None and (last.events if downstream(agents) else last.raw) > 0
    if not progressed or last is None:
        note = "did not drain: " + (worker.tail(3).replace("\n", " / ")[-200:] or "no progress")
        return PipelineRun(label, events, 0.0, 0.0, 0.0, 0.0, peak, total_wall, False, note)
    note = ""
    if downstream(agents):
        # Out of time: the rate over the part consumed still is a steady-state figure.
        total = last.events if drained else await broker.message_count([settings.topic_events])
        rate, cpu = _scaled(samples, lambda s: s.folded, last.folded, total)
        committed, _ = _scaled(samples, lambda s: s.events, last.events, total)
        if not drained:
            note = f"timed out after {last.events / max(total, 1):.0%} of the clean events"
    else:
        rate, cpu = _scaled(samples, lambda s: s.raw, last.raw, expected)
        committed = rate  # validation commits every take: its progress is its commits
        if not drained:
            note = f"timed out after {last.raw / expected:.0%} of the raw messages"
    return PipelineRun(
        label, events, rate * events, committed * events, cpu / events * 1e6, changelog / events,
        peak, total_wall, True, note,
    )  # fmt: skip


def _scaled(
    samples: list[Sample], pick: Callable[[Sample], int], reached: int, total: int
) -> tuple[float, float]:
    """``steady`` over the part reached, as shares of ``total`` messages."""
    rate, cpu = steady(samples, pick, max(reached, 1))
    share = reached / max(total, 1)
    return rate * share, cpu / max(share, 1e-9)


async def _follow(
    broker: Broker, worker: Child, settings: Settings, agents: tuple[str, ...], expected: int,
    timeout_s: float, on_worker: Callable[[Child], None] | None,
) -> tuple[list[Sample], bool, float]:  # fmt: skip
    began = time.monotonic()
    redis = Redis.from_url(settings.redis_url)
    try:
        return await _poll(broker, worker, settings, agents, expected, timeout_s, on_worker,
                           redis, folding_agents(settings), began)  # fmt: skip
    finally:
        await redis.aclose()


async def _poll(
    broker: Broker, worker: Child, settings: Settings, agents: tuple[str, ...], expected: int,
    timeout_s: float, on_worker: Callable[[Child], None] | None, redis: Redis, names: list[str],
    began: float,
) -> tuple[list[Sample], bool, float]:  # fmt: skip
    samples: list[Sample] = []
    last_progress, last_seen = began, (-1, -1, -1)
    hooked = False
    raw_topic, clean_topic = settings.topic_raw, settings.topic_events
    while time.monotonic() - began < timeout_s:
        if not worker.alive():
            return samples, False, began
        raw = await broker.committed(settings.validate_group, raw_topic) if reads_raw(agents) else 0
        clean = await broker.committed(settings.app_id, clean_topic) if downstream(agents) else 0
        done = await folded(redis, Keys.of(settings))
        slowest = min((done.get(name, 0) for name in names), default=0)
        now = time.monotonic()
        samples.append(Sample(now, cpu_seconds(worker.pid), raw, clean, slowest))
        if on_worker is not None and not hooked and (raw or clean):
            hooked = True
            on_worker(worker)
        if (raw, clean, slowest) != last_seen:
            last_seen, last_progress = (raw, clean, slowest), now
        elif now - last_progress > STALL_S:
            return samples, False, began
        raw_done = not reads_raw(agents) or raw >= expected
        if raw_done and downstream(agents):
            end = await broker.message_count([clean_topic])
            idle = now - last_progress > TAIL_IDLE_S
            if clean >= end > 0 or (idle and clean >= TAIL_SHARE * end > 0):
                return samples, True, began
        elif raw_done:
            return samples, True, began
        await asyncio.sleep(SAMPLE_S)  # sampling interval of the progress poll
    return samples, False, began
