"""Prometheus metrics of one live feed app, in its own registry (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from redis.asyncio import Redis

EVENTS_PROCESSED_KEY = "dojo:stats:events_processed"
LAG_KEY = "dojo:stats:lag"
FOLDED_KEY = "dojo:stats:folded"  # written by the workers' ``stream.progress``


class LiveMetrics:
    """Counters and gauges of the feed, plus the worker's stats mirrored from Redis."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.clients = Gauge("dojo_live_ws_clients", "Connected WebSocket clients", registry=r)
        self.sent = Counter("dojo_live_messages_sent", "Messages sent to clients", registry=r)
        self.coalesced = Counter(
            "dojo_live_messages_coalesced",
            "Updates superseded by a newer one before being sent (dropped)",
            registry=r,
        )
        self.slow_disconnects = Counter(
            "dojo_live_slow_client_disconnects", "Clients closed for stalling sends", registry=r
        )
        self.published = Counter(
            "dojo_live_pubsub_messages", "Pub/sub messages received from Redis", registry=r
        )
        self.malformed = Counter(
            "dojo_live_pubsub_malformed", "Pub/sub messages that broke the contract", registry=r
        )
        self.auth_failures = Counter(
            "dojo_live_auth_failures", "Requests refused for a missing or wrong token", registry=r
        )
        self.events_processed = Gauge(
            "dojo_events_processed", "Events processed by the workers", registry=r
        )
        self.consumer_lag = Gauge("dojo_consumer_lag", "Consumer lag of the workers", registry=r)
        self.folded = Gauge(
            "dojo_agent_messages_folded",
            "Clean-topic messages each agent has folded into its state",
            ["agent"],
            registry=r,
        )

    async def render(self, redis: Redis) -> bytes:
        """The Prometheus text exposition, after refreshing the worker stats from Redis."""
        processed, lag = await redis.mget(EVENTS_PROCESSED_KEY, LAG_KEY)
        for gauge, raw in ((self.events_processed, processed), (self.consumer_lag, lag)):
            value = _number(raw)
            if value is not None:
                gauge.set(value)
        for agent, raw in (await redis.hgetall(FOLDED_KEY)).items():
            value = _number(raw)
            if value is not None:
                name = agent.decode() if isinstance(agent, bytes) else str(agent)
                self.folded.labels(agent=name).set(value)
        return bytes(generate_latest(self.registry))


def _number(raw: bytes | str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None
