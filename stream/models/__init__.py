"""Records that travel on topics, and the names of what processes share in Redis (``keys``).

Contract: every record is a ``faust.Record`` with ``include_metadata=False`` so that any
Kafka client reads plain JSON; field names and units are documented in ``docs/topics.md``
and a test keeps the two in step. Records hold data only — no I/O, no clocks. Every Redis
key and pub/sub channel is built by ``Keys``, so writer and reader use one name.
"""

from __future__ import annotations

from stream.models.dead_letter import DeadLetter
from stream.models.event import Event, EventBatch, EventBundle
from stream.models.keys import Keys
from stream.models.raw import RawBatch

__all__ = ["DeadLetter", "Event", "EventBatch", "EventBundle", "Keys", "RawBatch"]
