"""Following workers while they drain preloaded input: samples, progress lines, peak memory.

The deadline of a drain grows with the data (``deadline_s``): a big day must never be cut by
a clock set for a small one. What ends a drain early is a stall (no progress at all for
``STALL_S``) or a worker that exits, and each says which it was.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata
from redis.asyncio import Redis

from bench.process import cpu_seconds, family_kib
from bench.topics import Broker
from infra.process import Child
from stream.app import folding_agents
from stream.models.keys import Keys
from stream.runtime.lighter import HOLDS
from stream.runtime.progress import folded
from stream.settings import Settings

SAMPLE_S = 0.25
MEMORY_EVERY_S = 1.0  # RSS of the worker family: a /proc scan, so less often than progress
SAY_EVERY_S = 15.0  # a progress line this often while a drain runs
STALL_S = 45.0  # no progress (commits or folds) this long: the agents do not consume the input
# Metric agents acknowledge a take only at their next checkpoint, which needs more input;
# once idle this long with at least TAIL_SHARE committed, the rest is that unacked tail.
TAIL_IDLE_S = 4.0
TAIL_SHARE = 0.9
# The deadline: the slowest all-agents rate seen on the shared 2-core machine was ~600 events/s
# (eight processes busy beside it); below that, times a margin, plus the worker's start
# (imports, group join, topics). It is a cap for a run gone wrong, not a time to aim at: a
# stall or a worker that exits ends a run long before it.
FLOOR_RATE = 500.0
MARGIN = 3.0
START_S = 60.0
MIN_DEADLINE_S = 180.0


def deadline_s(events: int, rate: float | None = None) -> float:
    """Seconds a drain of ``events`` may take: at ``rate`` (measured) or the assumed floor."""
    per_s = rate if rate and rate > 0 else FLOOR_RATE
    return max(MIN_DEADLINE_S, START_S + MARGIN * max(events, 0) / per_s)


def reads_raw(agents: tuple[str, ...]) -> bool:
    """Whether this agent set starts at the raw topic (it includes validation)."""
    return "all" in agents or "validate" in agents


def downstream(agents: tuple[str, ...]) -> bool:
    """Whether agents other than validation read the clean events topic."""
    return "all" in agents or any(a != "validate" for a in agents)


@dataclass(frozen=True)
class Sample:
    at: float
    cpu_s: float  # of every worker together
    raw: int  # committed offsets of the group on the raw topic
    events: int  # ... and on the clean events topic
    folded: int  # clean messages the slowest agent has folded (summed over workers)


@dataclass
class Drain:
    """What following the workers saw; ``ended`` says why it stopped."""

    began: float
    samples: list[Sample] = field(default_factory=list)
    drained: bool = False
    ended: str = ""  # "drained", "stalled", "deadline", "exited"
    peak_kib: int = 0  # largest sum of RSS over the workers and their children

    def observe_memory(self, kib: int) -> None:
        self.peak_kib = max(self.peak_kib, kib)


@dataclass(frozen=True)
class Watch:
    """One drain to follow: the workers, their settings, what they read and how long at most."""

    workers: list[Child]
    settings: Settings
    agents: tuple[str, ...]
    expected: int  # raw messages (or clean ones, for agents that start there)
    timeout_s: float
    say: Callable[[str], None] | None = None
    on_worker: Callable[[Child], None] | None = None


async def follow(broker: Broker, watch: Watch) -> Drain:
    """Sample the workers until the input is drained, they stall or exit, or the deadline."""
    drain = Drain(time.monotonic())
    redis = Redis.from_url(watch.settings.redis_url)
    try:
        await _poll(broker, watch, redis, folding_agents(watch.settings), drain)
    finally:
        await redis.aclose()
    if all(w.alive() for w in watch.workers):
        # The kernel's own high-water mark, read while the workers live: it sees peaks
        # between two samples (VmHWM is gone with the process, hence 0 after it exits).
        drain.observe_memory(family_kib([w.pid for w in watch.workers], "VmHWM"))
    return drain


async def _poll(broker: Broker, watch: Watch, redis: Redis, names: list[str], drain: Drain) -> None:
    settings, agents, pids = watch.settings, watch.agents, [w.pid for w in watch.workers]
    last_progress, last_seen, hooked = drain.began, (-1, -1, -1), False
    said_at = memory_at = drain.began
    while (now := time.monotonic()) - drain.began < watch.timeout_s:
        if not all(w.alive() for w in watch.workers):
            drain.ended = "exited"
            return
        raw, clean = 0, 0
        if reads_raw(agents):
            raw = await broker.committed(settings.validate_group, settings.topic_raw)
        if downstream(agents):
            clean = await broker.committed(settings.app_id, settings.topic_events)
        done = await folded(redis, Keys.of(settings))
        slowest = min((done.get(name, 0) for name in names), default=0)
        cpu = sum(cpu_seconds(p) for p in pids)
        drain.samples.append(Sample(now, cpu, raw, clean, slowest))
        if now - memory_at >= MEMORY_EVERY_S:
            drain.observe_memory(family_kib(pids))
            memory_at = now
        if watch.on_worker is not None and not hooked and (raw or clean):
            hooked = True
            watch.on_worker(watch.workers[0])
        if (raw, clean, slowest) != last_seen:
            last_seen, last_progress = (raw, clean, slowest), now
        elif now - last_progress > STALL_S:
            drain.ended = "stalled"
            return
        if watch.say is not None and now - said_at >= SAY_EVERY_S:
            said_at = now
            watch.say(progress_line(watch, drain, raw, clean, slowest))
        raw_done = not reads_raw(agents) or raw >= watch.expected
        if raw_done and downstream(agents):
            end = await broker.message_count([settings.topic_events])
            idle = now - last_progress > TAIL_IDLE_S
            if clean >= end > 0 or (idle and clean >= TAIL_SHARE * end > 0):
                drain.drained, drain.ended = True, "drained"
                return
        elif raw_done:
            drain.drained, drain.ended = True, "drained"
            return
        await asyncio.sleep(SAMPLE_S)  # sampling interval of the progress poll
    drain.ended = "deadline"


JOIN_S = 120.0  # workers start (imports, topics, group join) well within this


def learns(agents: tuple[str, ...]) -> bool:
    """Whether this agent set runs the online learners (held by one worker)."""
    return "all" in agents or "learning" in agents or "learn_online" in agents


async def joined(
    broker: Broker, groups: list[str], members: int, lighter: str | None = None
) -> None:
    """Wait until each consumer group in ``groups`` is stable with ``members`` members.

    ``lighter``: the validate group, when a worker holds the learners and will join it again
    to validate less (``stream.runtime.lighter``): also wait until a stable generation was
    made with that worker saying so, or the drain would time the rebalance.
    """
    end = time.monotonic() + JOIN_S
    while True:
        states = await group_states(broker, groups)
        settled = lighter is None or await holder_joined(broker, lighter)
        if settled and all(states.get(g) == ("Stable", members) for g in groups):
            return
        if time.monotonic() > end:
            raise TimeoutError(f"consumer groups not joined by {members} workers: {states}")
        await asyncio.sleep(SAMPLE_S)  # polling interval, bounded by JOIN_S


async def holder_joined(broker: Broker, group: str) -> bool:
    """Whether ``group``'s stable generation has a member that joined holding the learners."""
    for response in await broker.admin.describe_consumer_groups([group]):
        for described in response.to_object()["groups"]:
            if described["state"] != "Stable":
                return False
            for member in described["members"]:
                metadata = ConsumerProtocolMemberMetadata.decode(member["member_metadata"])
                if metadata.user_data == HOLDS:
                    return True
    return False


async def group_states(broker: Broker, groups: list[str]) -> dict[str, tuple[str, int]]:
    """(state, member count) of each consumer group, from the group coordinator."""
    out: dict[str, tuple[str, int]] = {}
    for group in groups:
        for response in await broker.admin.describe_consumer_groups([group]):
            for described in response.to_object()["groups"]:
                out[described["group"]] = (described["state"], len(described["members"]))
    return out


def progress_line(watch: Watch, drain: Drain, raw: int, clean: int, slowest: int) -> str:
    """One line on a running drain: how far, how fast (CPU), how big, how long still allowed."""
    elapsed = time.monotonic() - drain.began
    first, last = drain.samples[0], drain.samples[-1]
    cpu = last.cpu_s - first.cpu_s
    share = raw / max(watch.expected, 1) if reads_raw(watch.agents) else 0.0
    return (
        f"  drain: {elapsed:.0f} s, raw {share:.0%} committed, clean messages: {clean:,} "
        f"committed, {slowest:,} folded by the slowest agent; {cpu:.0f} CPU-s, RSS peak "
        f"{drain.peak_kib / 1024:.0f} MiB; deadline in {watch.timeout_s - elapsed:.0f} s"
    )
