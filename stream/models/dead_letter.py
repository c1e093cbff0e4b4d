"""Rejected input on ``dojo.events.dlq``: what it was, why, and where it came from."""

from __future__ import annotations

import faust


class DeadLetter(faust.Record, serializer="json", include_metadata=False):
    """One rejected event (or one unreadable request) with a machine-readable reason.

    ``payload`` is the original JSON, cut to a bounded size, so it can be inspected and
    replayed; ``source_*`` locate the raw message and ``index`` the event inside it.
    """

    reason: str  # schema | type | size | duplicate | bot | too_old | too_new | malformed
    field: str  # the field at fault, "" when the whole item is at fault
    detail: str  # a sentence a person can act on
    payload: str  # original JSON, truncated to DEAD_LETTER_PAYLOAD_MAX characters
    session_id: str
    visitor_id: str
    received_at: int
    source_topic: str
    source_partition: int
    source_offset: int
    index: int  # position of the event inside the raw request, -1 for the request itself
    truncated: bool = False
    device: str = "unknown"  # the request's device class; letters written before it lack it
