"""What the collector writes to ``dojo.events.raw``: one beacon request with server facts."""

from __future__ import annotations

from typing import Any

import faust


class RawBatch(faust.Record, serializer="json", include_metadata=False):
    """One accepted ``POST /collect`` body, as received, plus facts only the server knows.

    ``events`` is whatever the request held (a list of JSON values); judging them is the
    validate agent's job, so nothing a client sent is lost before it is explained.
    """

    received_at: int  # server time, epoch ms
    visitor_id: str  # hash of (daily salt, site, ip, user agent); never the ip or agent
    device: str  # mobile | tablet | desktop | bot | unknown
    bot: bool
    site: str
    events: list[Any]
    v: int = 1
