"""Validated, sanitised events as they travel on ``dojo.events``."""

from __future__ import annotations

from typing import Any

import faust


class Event(faust.Record, serializer="json", include_metadata=False):
    """One event that passed the v1 contract; ``url``/``referrer`` are already scrubbed."""

    event_id: str
    type: str
    ts: int  # client time, epoch ms
    session_id: str
    url: str
    props: dict[str, Any]
    referrer: str = ""


class EventBatch(faust.Record, serializer="json", include_metadata=False):
    """The clean events of one session from one raw request."""

    session_id: str
    visitor_id: str
    device: str
    received_at: int  # server time of the request, epoch ms
    events: list[Event]
    # Where the batch came from: raw partition, offset, and its place among that message's
    # batches. A batch re-sent after a crash carries the same triple, so readers can drop it.
    source_partition: int = -1
    source_offset: int = -1
    source_index: int = 0


class EventBundle(faust.Record, serializer="json", include_metadata=False):
    """One ``dojo.events`` message: the batches of one take whose sessions share a partition.

    Bundling pays the per-message cost once per partition and take instead of once per
    session batch (``stream.ingest.bundles``).
    """

    batches: list[EventBatch]
