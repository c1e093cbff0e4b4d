"""validate_events: dojo.events.raw -> dojo.events (clean session batches) + dojo.events.dlq."""

from __future__ import annotations

from typing import Any, cast

import faust
import orjson

from stream.contract import Limits
from stream.dedupe import Claims
from stream.ingest import Position, assemble, screen
from stream.pipeline_stats import PipelineStats

TAKE_MAX = 500  # raw messages per take: one Redis round trip serves them all
TAKE_WITHIN_S = 0.05  # latency bound: a lone message waits at most this long


def validate_events(
    app: faust.App,
    source: faust.TopicT,
    events: faust.TopicT,
    dlq: faust.TopicT,
    claims: Claims,
    stats: PipelineStats,
    limits: Limits,
) -> Any:
    """Register the agent that judges, sanitises and de-duplicates raw beacon requests."""

    async def validate(stream: faust.StreamT[bytes]) -> None:
        # take_events lives on the concrete Stream; StreamT does not declare it.
        async for taken in cast("faust.Stream[bytes]", stream).take_events(
            TAKE_MAX, within=TAKE_WITHIN_S
        ):
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
            for one in screened:
                clean, dead = assemble(one, [next(owned) for _ in one.accepted])
                for session in clean:
                    await events.send(
                        key=session["session_id"].encode(), value=orjson.dumps(session)
                    )
                for letter in dead:
                    await dlq.send(key=letter["session_id"].encode(), value=orjson.dumps(letter))
                stats.add(clean, dead, one.scrubbed)
            await stats.flush()

    return app.agent(source, name="validate_events")(validate)
