"""One pipeline run as the sections call it: fresh topics and Redis, a deadline sized to the data.

Every run of the pipeline, flat-cost and scale-out rows goes through ``Runner.once`` so they
all get the same treatment: Redis flushed, a tag of their own, the topics deleted after, and
a deadline from ``bench.drain.deadline_s`` with the rate the agent set last measured.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis

from bench import drain, pipeline
from bench.load import DataSet
from bench.process import Children
from bench.topics import Broker
from infra.process import Child
from stream.settings import Settings


@dataclass
class Clean:
    """The clean output of a validating run, captured to feed agent sets that start there."""

    messages: list[tuple[bytes, bytes]] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)
    events: int = 0


@dataclass
class Runner:
    """What every run shares: settings (with the private Redis), children, broker, run id."""

    settings: Settings
    children: Children
    broker: Broker
    redis: Redis
    run_id: str
    say: Callable[[str], None]
    rates: dict[str, float] = field(default_factory=dict)  # events/s last measured, by label
    counter: Counter[str] = field(default_factory=Counter)

    async def once(
        self, agents: tuple[str, ...], data: DataSet, *, clean: Clean | None = None,
        workers: int = 1, joined_first: bool = False, exact_views: bool = False,
        on_worker: Callable[[Child], None] | None = None,
    ) -> pipeline.PipelineRun:  # fmt: skip
        """One run of ``agents`` over ``data`` (or over ``clean``, for sets that start there);
        an empty ``clean`` is filled from the clean output of this run."""
        label = ",".join(agents)
        self.counter[label] += 1
        tag = f"{self.run_id}-p{len(self.counter)}-{self.counter[label]}"
        await self.redis.flushall()
        capture = clean is not None and not clean.messages and drain.reads_raw(agents)
        clean = clean or Clean()
        events = data.events if drain.reads_raw(agents) else clean.events
        timeout = drain.deadline_s(events, self.rates.get(label))
        ready = self._joined(agents, workers) if joined_first else None
        try:
            result = await pipeline.run_once(
                self.settings, self.children, self.broker, agents=agents, tag=tag,
                raw=data.messages, raw_events=data.events, clean=clean.messages,
                clean_partitions=clean.partitions, clean_events=clean.events, timeout_s=timeout,
                on_worker=on_worker, workers=workers, say=self.say, ready=ready,
                exact_views=exact_views,
            )  # fmt: skip
            if result.complete and workers == 1:
                self.rates[label] = result.events_per_s
            if capture and result.complete:
                await self._capture(tag, clean)
        finally:
            await self.broker.delete_prefixed(tag)
        return result

    async def _capture(self, tag: str, into: Clean) -> None:
        count = await self.broker.message_count([f"{tag}.events"])
        into.messages, into.partitions, into.events = await pipeline.capture(
            self.settings, f"{tag}.events", count
        )

    def _joined(
        self, agents: tuple[str, ...], workers: int
    ) -> Callable[[Settings], Awaitable[None]]:
        async def ready(settings: Settings) -> None:
            groups = [settings.validate_group] if drain.reads_raw(agents) else []
            groups += [settings.app_id] if drain.downstream(agents) else []
            both = drain.reads_raw(agents) and drain.learns(agents) and workers > 1
            lighter = settings.validate_group if both else None
            await drain.joined(self.broker, groups, workers, lighter)

        return ready
