"""show_activity: dojo.events -> the live ``activity`` channel (recent anonymised events)."""

from __future__ import annotations

import time
from typing import Any, cast

import faust

from stream.ingest.bundles import Decoded
from stream.metrics.activity import Activity
from stream.runtime.aggregate import TAKE_MAX, TAKE_WITHIN_S
from stream.sinks.publish import SnapshotPublisher


def show_activity(
    app: faust.App,
    source: faust.TopicT,
    publisher: SnapshotPublisher,
    *,
    max_hz: float,
    decoded: Decoded | None = None,
) -> Any:
    """Register the agent that keeps the recent-events window and its publishing timer."""
    activity = Activity()
    bundles = decoded or Decoded()

    async def show(stream: faust.StreamT[bytes]) -> None:
        async for taken in cast("faust.Stream[bytes]", stream).take_events(
            TAKE_MAX, within=TAKE_WITHIN_S
        ):
            for event in taken:
                msg = event.message
                for batch in bundles.batches(msg.partition, msg.offset, msg.value) or ():
                    activity.apply(batch)

    @app.timer(1.0 / max_hz, name="show_activity-snapshot")  # type: ignore[untyped-decorator]
    async def publish() -> None:
        if activity.changed:
            await publisher.publish("activity", activity.snapshot(), int(time.time() * 1000))

    return app.agent(source, name="show_activity")(show)
