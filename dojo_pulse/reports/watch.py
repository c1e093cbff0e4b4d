"""Reports triggered by thresholds: a capacity notice, a traffic spike, a vitals regression.

``dojo-pulse report PERIOD --on-alerts`` follows ``dojo.alerts`` in its own consumer group
(``<app id>.reports``) and makes the PERIOD report for each alert that ``trigger`` accepts,
with the alert's sentence as the reason; at most one per alert metric per UTC day, so an
alert storm is one email. Offsets are committed after each alert is handled: a restart
neither repeats a sent report nor skips an alert.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from stream.settings import Settings

DAY_MS = 86_400_000
SPIKES = frozenset({"views", "vitals_p75"})  # a traffic spike, a vitals regression


def trigger(alert: Any) -> str | None:
    """The reason to report ``alert`` now (None: not a threshold reports are sent for)."""
    if not isinstance(alert, dict):
        return None
    reason, kind, metric = alert.get("reason"), alert.get("kind"), alert.get("metric")
    if not isinstance(reason, str) or not isinstance(metric, str):
        return None
    if kind == "capacity" or (kind == "spike" and metric in SPIKES):
        return reason[:200]
    return None


async def watch(
    settings: Settings, make: Callable[[str], None], *, limit: int | None = None
) -> int:
    """Make a report (``make(reason)``) per triggering alert; returns how many were made."""
    consumer = AIOKafkaConsumer(
        settings.topic("alerts"), bootstrap_servers=settings.kafka,
        group_id=f"{settings.app_id}.reports", enable_auto_commit=False,
        auto_offset_reset="earliest",
    )  # fmt: skip
    made = 0
    sent: set[tuple[str, int]] = set()
    await consumer.start()
    try:
        async for message in consumer:
            try:
                alert = orjson.loads(message.value or b"null")
            except orjson.JSONDecodeError:
                alert = None
            reason = trigger(alert)
            day = message.timestamp // DAY_MS
            key = (str(alert.get("metric")) if isinstance(alert, dict) else "", day)
            if reason is not None and key not in sent:
                make(reason)
                sent.add(key)
                made += 1
            await consumer.commit()
            if limit is not None and made >= limit:
                break
    finally:
        await consumer.stop()
    return made
