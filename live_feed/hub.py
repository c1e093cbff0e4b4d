"""One Redis pattern subscription per process, fanned out to the local clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from live_feed.channels import LIVE_PATTERN, parse_published
from live_feed.client import LiveClient
from live_feed.metrics import LiveMetrics

log = logging.getLogger(__name__)


class Hub:
    """Routes each published update to the clients subscribed to its channel."""

    def __init__(self, redis: Redis, metrics: LiveMetrics) -> None:
        self._redis = redis
        self._metrics = metrics
        self._clients: set[LiveClient] = set()
        self._task: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None

    @property
    def client_count(self) -> int:
        """How many clients are connected to this process."""
        return len(self._clients)

    async def start(self) -> None:
        """Subscribe before returning, so nothing published afterwards is missed."""
        self._pubsub = await self._subscribe()
        self._task = asyncio.create_task(self._listen(), name="live-feed-hub")

    async def stop(self) -> None:
        """Cancel the listener and release the subscription."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close_pubsub()

    def add(self, client: LiveClient) -> None:
        """Start routing messages to ``client``."""
        self._clients.add(client)
        self._metrics.clients.set(len(self._clients))

    def remove(self, client: LiveClient) -> None:
        """Stop routing messages to ``client``."""
        self._clients.discard(client)
        self._metrics.clients.set(len(self._clients))

    def route(self, pubsub_channel: str | bytes, payload: bytes | str) -> None:
        """Hand one published message to every subscribed client; never awaits a client."""
        self._metrics.published.inc()
        message = parse_published(pubsub_channel, payload)
        if message is None:
            self._metrics.malformed.inc()
            return
        for client in tuple(self._clients):
            client.deliver(message)

    async def _subscribe(self) -> PubSub:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.psubscribe(LIVE_PATTERN)
        return pubsub

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                if self._pubsub is None:
                    self._pubsub = await self._subscribe()
                message = await self._pubsub.get_message(timeout=1.0)
                backoff = 0.1
                if message is not None and message.get("type") == "pmessage":
                    self.route(message["channel"], message["data"])
            except (RedisError, OSError) as exc:
                # Redis only fans out; clients keep their snapshots while it comes back.
                log.warning("lost the Redis subscription (%s); retrying", type(exc).__name__)
                await self._close_pubsub()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
