"""What the collector's endpoints share: opened in ``lifespan``, handed over through state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis
from starlette.requests import Request

from collector.metrics import CollectorMetrics
from collector.ratelimit import RateLimiter
from collector.salt import SaltCache
from collector.sink import EventSink
from stream.models.keys import Keys
from stream.settings import Settings


@dataclass(frozen=True)
class Collector:
    """The settings and the open clients of one collector app."""

    settings: Settings
    keys: Keys
    redis: aioredis.Redis
    sink: EventSink
    salts: SaltCache
    limiter: RateLimiter
    metrics: CollectorMetrics
    clock: Callable[[], float]


def collector_of(request: Request) -> Collector:
    """The app's ``Collector``, read from the scope (``request.state`` costs more per request)."""
    return cast(Collector, request.scope["state"]["collector"])
