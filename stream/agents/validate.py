"""validate_events: dojo.events.raw -> dojo.events (session batches, bundled) + dojo.events.dlq."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, cast

import faust
import orjson

from stream.bundles import pack
from stream.contract import Limits
from stream.dedupe import Claims
from stream.ingest import Position, assemble, screen
from stream.pipeline_stats import PipelineStats

TAKE_MAX = 500  # raw messages per take: one Redis round trip and one bundle per partition
TAKE_WITHIN_S = 0.05  # latency bound: a lone message waits at most this long


def validate_events(
    app: faust.App,
    source: faust.TopicT,
    events: faust.TopicT,
    dlq: faust.TopicT,
    claims: Claims,
    stats: PipelineStats,
    limits: Limits,
    *,
    partitions: int = 1,
) -> Any:
    """Register the agent that judges, sanitises and de-duplicates raw beacon requests."""

    async def validate(stream: faust.StreamT[bytes]) -> None:
        concrete = cast("faust.Stream[bytes]", stream)  # StreamT does not declare noack_take
        # noack_take, not take_events: take_events acknowledges a take even when the worker
        # stops half-way through it, and a graceful stop would then commit unsent input.
        async for values in concrete.noack_take(TAKE_MAX, within=TAKE_WITHIN_S):
            taken = cast("list[faust.EventT[bytes]]", values)  # the events themselves
            screened = [
                screen(
                    e.message.value,
                    Position(e.message.topic, e.message.partition, e.message.offset),
                    limits,
                )
                for e in taken
            ]
            wanted = [claim for s in screened for claim in s.claims()]
            owned = iter(await claims.claim(wanted))
            batches: list[dict[str, Any]] = []
            delivered: list[Awaitable[Any]] = []
            for one in screened:
                clean, dead = assemble(one, [next(owned) for _ in one.accepted])
                batches += clean
                for letter in dead:
                    delivered.append(
                        await dlq.send(
                            key=letter["session_id"].encode(), value=orjson.dumps(letter)
                        )
                    )
                stats.add(clean, dead, one.scrubbed)
            for partition, bundle in pack(batches, partitions):
                delivered.append(await events.send(value=bundle, partition=partition))
            # Acknowledge only once Kafka holds every output: a crash can make the next
            # worker re-send (readers drop the copies) but never lose one.
            await asyncio.gather(*delivered)
            for event in taken:
                await concrete.ack(event)
            await stats.flush()

    return app.agent(source, name="validate_events")(validate)
