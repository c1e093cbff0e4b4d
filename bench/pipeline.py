"""Our worker as a child process, running chosen agents over the benchmark data.

Figures per run: events/s over the middle 80 % of the drain (the steady state: the input is
preloaded, so lag falls at a constant slope there), CPU-seconds per million events over the
same span (``/proc/<pid>/stat``), changelog messages written per input event (the worker's
``*-changelog`` topics), and peak RSS: the largest sum of RSS over the workers and their
children, sampled while they run, or their ``VmHWM`` read before they stop, whichever is
larger (read after a worker exits, both are gone: that is how the 1M-event row once said 0).
Several workers (one consumer group) measure scale-out; their CPU and RSS are summed.

Progress is what the slowest agent has folded (the worker's ``stream.runtime.progress`` counters),
the measure the Kafka Streams baseline reports too. Committed offsets are measured beside
it: they move only at checkpoints (a second or more apart), so over a drain of a few
seconds they show the checkpoint cadence more than the speed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

import orjson
from aiokafka import AIOKafkaConsumer
from redis.asyncio import Redis

from bench.drain import STALL_S, Drain, Sample, Watch, downstream, follow, reads_raw
from bench.load import produce
from bench.process import Children
from bench.topics import Broker
from infra.process import Child, free_port
from stream.ingest.bundles import unpack
from stream.metrics.traffic import TrafficState
from stream.models.keys import Keys
from stream.runtime.budget import CHECKPOINT_MAX_GAP_S
from stream.runtime.rollup import decode_checkpoint
from stream.settings import Settings
from stream.topics import ensure_topics

__all__ = ["PipelineRun", "capture", "downstream", "reads_raw", "run_once", "steady"]

SETTLE_VIEWS_S = CHECKPOINT_MAX_GAP_S + 15.0  # the slowest checkpoint cadence, and a margin


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
    drained: bool  # it made progress: the figures mean something
    note: str = ""
    complete: bool = False  # ... and it consumed all its input
    # Exact counts to compare between runs of the same data: the validate stage's totals
    # (valid, dead by reason) and the messages each agent folded.
    totals: dict[str, int] = field(default_factory=dict)
    redis_commands_per_event: float = 0.0
    redis_used_mib: float = 0.0


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
    on_worker: Callable[[Child], None] | None = None, workers: int = 1,
    say: Callable[[str], None] | None = None,
    ready: Callable[[Settings], Awaitable[None]] | None = None,
    exact_views: bool = False,
) -> PipelineRun:  # fmt: skip
    """One run of ``workers`` worker processes (one consumer group) with ``agents`` on their
    own topics and an empty Redis; with ``ready``, the input is written only once it returns
    (e.g. once every worker has joined: no rebalance while they drain). ``exact_views``:
    today's page views are read from the traffic checkpoints once they hold every clean
    message, not from the last snapshot (which may be seconds older than the drain's end)."""
    settings = replace(base, topic_prefix=tag, app_id=tag, agents=agents)
    label = ",".join(agents)
    await ensure_topics(settings)
    if reads_raw(agents):
        topic, messages, partitions = settings.topic_raw, raw, None
        events, expected = raw_events, len(raw)
    else:
        topic, messages, partitions = settings.topic_events, clean, clean_partitions
        events, expected = clean_events, len(clean)
    if ready is None:
        await produce(settings, topic, messages, partitions)
    redis = Redis.from_url(settings.redis_url)
    commands = await _commands(redis)
    started = [
        children.dojo(f"worker-{tag}-{n}", "worker", replace(
            settings, worker_web_port=free_port(), data_dir=children.workdir / f"{tag}-{n}"))
        for n in range(workers)
    ]  # fmt: skip
    try:
        if ready is not None:
            await ready(settings)
            await produce(settings, topic, messages, partitions)
        watch = Watch(started, settings, agents, expected, timeout_s, say, on_worker)
        drain = await follow(broker, watch)
        settled = None
        if exact_views and drain.drained and counts_traffic(agents):
            settled = await settled_views(redis, settings, broker)
        tails = " / ".join(w.tail(3).replace("\n", " / ")[-200:] for w in started if not w.alive())
    finally:
        for worker in started:
            children.stop(worker)
    try:
        totals = await _totals(redis, Keys.of(settings))
        totals["topic.clean_messages"] = await broker.message_count([settings.topic_events])
        views = settled if exact_views else await _views(redis, Keys.of(settings))
        if views is not None:
            totals["traffic.today_views"] = views
        commands = (await _commands(redis)) - commands
        used = int((await redis.info("memory")).get("used_memory", 0)) / 2**20
    finally:
        await redis.aclose()
    changelog = await broker.message_count(
        [t for t in await broker.topics() if t.startswith(tag) and t.endswith("-changelog")]
    )
    peak = drain.peak_kib / 1024
    run = PipelineRun(label, events, 0.0, 0.0, 0.0, 0.0, peak, time.monotonic() - drain.began,
                      False, totals=totals, redis_commands_per_event=commands / max(events, 1),
                      redis_used_mib=used)  # fmt: skip
    return await _figures(run, drain, broker, settings, agents, expected, tails, changelog)


async def _commands(redis: Redis) -> int:
    return int((await redis.info("stats")).get("total_commands_processed", 0))


async def _totals(redis: Redis, keys: Keys) -> dict[str, int]:
    """The validate stage's counters and each agent's folded messages, by name."""
    out: dict[str, int] = {}
    for prefix, key in (("pipeline", keys.pipeline), ("folded", keys.folded)):
        for name, value in (await redis.hgetall(key)).items():
            text = value.decode() if isinstance(value, bytes) else str(value)
            if text.isdigit():
                label = name.decode() if isinstance(name, bytes) else str(name)
                out[f"{prefix}.{label}"] = int(text)
    return out


def counts_traffic(agents: tuple[str, ...]) -> bool:
    return "all" in agents or "traffic" in agents or "count_traffic" in agents


async def settled_views(redis: Redis, settings: Settings, broker: Broker) -> int | None:
    """Today's page views merged from the traffic checkpoints in Redis, once they hold every
    message of the clean topic (checkpoints of big states wait up to CHECKPOINT_MAX_GAP_S);
    None if they do not within that and a margin."""
    ends = await broker.end_offsets([settings.topic_events])
    wanted = {tp.partition: end - 1 for tp, end in ends.items() if end > 0}
    key = Keys.of(settings).checkpoints("count_traffic")
    end = time.monotonic() + SETTLE_VIEWS_S
    while time.monotonic() < end:
        blobs = await redis.hgetall(key)
        covered: dict[int, int] = {}
        states = []
        for blob in blobs.values():
            offsets, _, state = decode_checkpoint(blob, TrafficState.from_bytes)
            covered.update(offsets)
            states.append(state)
        if states and all(covered.get(p, -1) >= last for p, last in wanted.items()):
            merged = states[0]
            for state in states[1:]:
                merged = merged.merge(state, sessions=False)
            views = merged.snapshot(int(time.time() * 1000))["today"]["views"]
            return views if isinstance(views, int) else None
        await asyncio.sleep(0.5)  # polling interval, bounded by SETTLE_VIEWS_S
    return None


async def _views(redis: Redis, keys: Keys) -> int | None:
    """Today's page views in the latest traffic snapshot (None without one)."""
    raw = await redis.get(keys.snapshot("traffic"))
    try:
        views = orjson.loads(raw)["data"]["today"]["views"] if raw is not None else None
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return views if isinstance(views, int) else None


async def _figures(
    run: PipelineRun, drain: Drain, broker: Broker, settings: Settings, agents: tuple[str, ...],
    expected: int, tails: str, changelog: int,
) -> PipelineRun:  # fmt: skip
    samples, events = drain.samples, run.events
    last = samples[-1] if samples else None
    progressed = last is not None and (last.events if downstream(agents) else last.raw) > 0
    why = {"exited": "a worker exited", "stalled": f"no progress for {STALL_S:.0f} s",
           "deadline": "out of time"}.get(drain.ended, drain.ended)  # fmt: skip
    if not progressed or last is None:
        return replace(run, note=f"did not drain ({why}): " + (tails or "no progress"))
    note = ""
    if downstream(agents):
        # Cut short: the rate over the part consumed still is a steady-state figure.
        total = (
            last.events if drain.drained else await broker.message_count([settings.topic_events])
        )
        rate, cpu = _scaled(samples, lambda s: s.folded, last.folded, total)
        committed, _ = _scaled(samples, lambda s: s.events, last.events, total)
        if not drain.drained:
            note = f"{why} after {last.events / max(total, 1):.0%} of the clean events"
    else:
        rate, cpu = _scaled(samples, lambda s: s.raw, last.raw, expected)
        committed = rate  # validation commits every take: its progress is its commits
        if not drain.drained:
            note = f"{why} after {last.raw / expected:.0%} of the raw messages"
    if tails:
        note += f" ({tails})"
    return replace(
        run, events_per_s=rate * events, committed_per_s=committed * events,
        cpu_s_per_m=cpu / events * 1e6, changelog_per_event=changelog / events, drained=True,
        note=note, complete=drain.drained,
    )  # fmt: skip


def _scaled(
    samples: list[Sample], pick: Callable[[Sample], int], reached: int, total: int
) -> tuple[float, float]:
    """``steady`` over the part reached, as shares of ``total`` messages."""
    rate, cpu = steady(samples, pick, max(reached, 1))
    share = reached / max(total, 1)
    return rate * share, cpu / max(share, 1e-9)
