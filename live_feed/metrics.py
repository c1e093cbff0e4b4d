"""Prometheus metrics of one live feed app, in its own registry (never the global one).

Besides the feed's own counters it shows the worker as the live feed sees it: consumer lag
per group and topic from Kafka (``lag``), and each agent's last fold and check-in from the
workers' ``stream.runtime.progress`` hashes (``worker_health``). Counter names gain ``_total`` in
the exposition, as Prometheus expects; the workers' totals, read from Redis, are counters too
(``WorkerTotals``): Redis losing one reads as a counter reset, which ``rate()`` handles.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from stream.models.keys import Keys
from stream.runtime.progress import AgentTimes

GroupTopic = tuple[str, str]


class WorkerTotals(Collector):
    """The workers' running totals as counters, set from Redis before each exposition."""

    def __init__(self) -> None:
        self.processed = 0.0
        self.folded: dict[str, float] = {}

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "dojo_events_processed",
            "Events the workers' validate stages judged (accepted or dead-lettered)",
            value=self.processed,
        )
        folded = CounterMetricFamily(
            "dojo_agent_messages_folded",
            "Clean-topic messages each agent has folded into its state",
            labels=["agent"],
        )
        for agent, value in sorted(self.folded.items()):
            folded.add_metric([agent], value)
        yield folded


class LiveMetrics:
    """Counters and gauges of the feed, plus the workers' state mirrored from Redis and Kafka."""

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
            "dojo_live_auth_failures",
            "Requests refused for a missing or wrong token or session",
            registry=r,
        )
        self.auth_throttled = Counter(
            "dojo_live_auth_throttled",
            "Token checks refused unseen (429) after too many failures",
            registry=r,
        )
        self.totals = WorkerTotals()
        r.register(self.totals)
        self.consumer_lag = Gauge(
            "dojo_consumer_lag",
            "Messages not yet committed by a worker group (absent while Kafka is unreadable)",
            ["group", "topic"],
            registry=r,
        )
        self.lag_readable = Gauge(
            "dojo_consumer_lag_readable",
            "1 if the last read of the lag from Kafka worked",
            registry=r,
        )
        self.lag_read_failures = Counter(
            "dojo_consumer_lag_read_failures", "Failed reads of the lag from Kafka", registry=r
        )
        self.last_fold = Gauge(
            "dojo_agent_last_fold_timestamp_seconds",
            "When each agent last folded a message (or started)",
            ["agent"],
            registry=r,
        )
        self.last_seen = Gauge(
            "dojo_agent_last_seen_timestamp_seconds",
            "When each agent last checked in (about once a second while it runs)",
            ["agent"],
            registry=r,
        )
        self.worker_running = Gauge(
            "dojo_worker_running", "1 if an agent of the worker checked in lately", registry=r
        )
        self.worker_behind = Gauge(
            "dojo_worker_behind_seconds",
            "How long the worker has not kept up with its input (0 when it has)",
            registry=r,
        )
        self.visitors_day_broken = Gauge(
            "dojo_visitors_day_broken",
            "1 if today's (UTC) visitor salt was made anew mid-day: visitors may be over-counted",
            registry=r,
        )

    def record_lag(self, readings: Mapping[GroupTopic, int] | None) -> None:
        """Mirror a lag reading; ``None`` (Kafka unreadable) removes the series."""
        self.consumer_lag.clear()
        self.lag_readable.set(0 if readings is None else 1)
        if readings is None:
            self.lag_read_failures.inc()
            return
        for (group, topic), lag in readings.items():
            self.consumer_lag.labels(group=group, topic=topic).set(lag)

    def record_worker(self, times: AgentTimes, running: bool, behind_s: float | None) -> None:
        """Mirror the agents' times and the worker's judged state."""
        for gauge, values in ((self.last_fold, times.folded_at), (self.last_seen, times.seen_at)):
            gauge.clear()
            for agent, at in values.items():
                gauge.labels(agent=agent).set(at)
        self.worker_running.set(1 if running else 0)
        self.worker_behind.set(behind_s or 0.0)

    async def render(self, redis: Redis, keys: Keys) -> bytes:
        """The Prometheus text exposition, after refreshing the workers' counters from Redis."""
        self.totals.processed = _number(await redis.get(keys.events_processed)) or 0.0
        folded = {}
        for agent, raw in (await redis.hgetall(keys.folded)).items():
            value = _number(raw)
            if value is not None:
                folded[agent.decode() if isinstance(agent, bytes) else str(agent)] = value
        self.totals.folded = folded
        return bytes(generate_latest(self.registry))


def _number(raw: bytes | str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None
