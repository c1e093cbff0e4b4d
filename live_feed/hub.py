"""One Redis pattern subscription per process, fanned out to the local clients in one pass.

Each published update is parsed and encoded once, then written to every subscribed client
whose socket and rate cap allow it, synchronously; clients that must wait get one timer
entry here, not a task of their own. The heartbeat ping goes out the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from live_feed.channels import now_ms, parse_published
from live_feed.client import LiveClient, Sink
from live_feed.lane import Lane
from live_feed.metrics import LiveMetrics
from live_feed.outgoing import Outgoing
from stream.models.keys import Keys

log = logging.getLogger(__name__)


class Hub:
    """Routes each published update to the clients subscribed to its channel."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        metrics: LiveMetrics,
        *,
        max_hz: float,
        stall_timeout: float = 10.0,
        heartbeat: float = 15.0,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._metrics = metrics
        self._max_hz = max_hz
        self._stall_timeout = stall_timeout
        self._heartbeat = heartbeat
        self._clients: set[LiveClient] = set()
        self._lanes: dict[str, Lane] = {}
        self._lane_timers: dict[str, asyncio.TimerHandle] = {}
        self._due: list[tuple[float, int, LiveClient]] = []  # heap of flushes asked for
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub: PubSub | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def client_count(self) -> int:
        """How many clients are connected to this process."""
        return len(self._clients)

    def now(self) -> float:
        """The hub's clock: the event loop's monotonic time in seconds."""
        return self._running_loop().time()

    async def start(self) -> None:
        """Subscribe before returning, so nothing published afterwards is missed."""
        self._loop = asyncio.get_running_loop()
        try:
            self._pubsub = await self._subscribe()
        except (RedisError, OSError) as exc:
            # Start anyway: the views answer 503 meanwhile, the listener subscribes once
            # Redis answers (nothing is published while it does not).
            where = self._redis.connection_pool.connection_kwargs  # the URL may hold a password
            address = where.get("path") or f"{where.get('host')}:{where.get('port')}"
            log.warning(
                "Redis at %s is not reachable (%s): answering 503 until it is; start it "
                "(dojo-pulse infra up) or set DOJO_REDIS_URL", address, type(exc).__name__,
            )  # fmt: skip
        self._tasks = [
            asyncio.create_task(self._listen(), name="live-feed-hub"),
            asyncio.create_task(self._beat(), name="live-feed-heartbeat"),
        ]

    async def stop(self) -> None:
        """Cancel the listener and the heartbeat and release the subscription."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._timer is not None:
            self._timer.cancel()
        for timer in self._lane_timers.values():
            timer.cancel()
        await self._close_pubsub()

    def connect(self, sink: Sink) -> LiveClient:
        """A new client writing to ``sink``, routed to from now on."""
        client = LiveClient(
            sink,
            self._metrics,
            max_hz=self._max_hz,
            stall_timeout=self._stall_timeout,
            schedule=self.schedule,
        )
        sink.on_ready = lambda: self.schedule(client, self.now())
        self._clients.add(client)
        self._metrics.clients.set(len(self._clients))
        return client

    def disconnect(self, client: LiveClient) -> None:
        """Stop routing messages to ``client``."""
        client.close()
        client.sink.on_ready = None
        self._clients.discard(client)
        for channel in client.channels:
            self._leave(client, channel)
        self._metrics.clients.set(len(self._clients))

    def subscribe(self, client: LiveClient, channel: str) -> None:
        """Route ``channel`` to ``client``; its updates wait for its snapshot."""
        client.hold(channel)
        lane = self._lanes.get(channel)
        if lane is None:
            lane = self._lanes[channel] = Lane(channel, 1.0 / self._max_hz)
        lane.add(client)

    def unsubscribe(self, client: LiveClient, channel: str) -> None:
        """Stop routing ``channel`` to ``client``."""
        client.drop(channel)
        self._leave(client, channel)

    def route(self, pubsub_channel: str | bytes, payload: bytes | str) -> None:
        """Hand one published message to every subscribed client; never awaits a client."""
        self._metrics.published.inc()
        message = parse_published(self._keys, pubsub_channel, payload)
        if message is None:
            self._metrics.malformed.inc()
            return
        lane = self._lanes.get(message["channel"])
        if lane is None:
            return
        out = Outgoing.of(message)
        channel = lane.channel
        now = self.now()
        sent = 0
        if lane.in_step:
            if lane.pending is not None:  # held back by the rate cap, and now superseded
                self._metrics.coalesced.inc(len(lane.in_step))
                lane.pending = None
            if lane.due(now):
                sent = lane.write(out.frame, now)[1]  # the unsent join the others below
            else:
                lane.pending = out
                self._arm(lane)
        joinable = not lane.in_step or lane.passed == now
        for client in tuple(lane.others):
            if client.deliver(out, channel, now):
                sent += 1
                if joinable:
                    direct = client.sink.direct()
                    if direct is not None and not direct.backlog():
                        lane.join(client, direct, now)
        if sent:
            self._metrics.sent.inc(sent)

    def broadcast_control(self, message: dict[str, object]) -> None:
        """Send one control message (the heartbeat) to every client, encoded once."""
        out = Outgoing.of(message)
        now = self.now()
        for client in tuple(self._clients):
            client.send_control(out, now)

    def schedule(self, client: LiveClient, when: float) -> None:
        """Flush ``client`` at ``when`` (or earlier if already asked for)."""
        if client.scheduled_at is not None and client.scheduled_at <= when:
            return
        client.scheduled_at = when
        heapq.heappush(self._due, (when, next(self._seq), client))
        if when < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = when
            self._timer = self._running_loop().call_at(when, self._flush_due)

    def _flush_due(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        now = self.now()
        again: list[tuple[LiveClient, float]] = []
        while self._due and self._due[0][0] <= now:
            when, _, client = heapq.heappop(self._due)
            if client.scheduled_at != when:
                continue  # superseded by an earlier entry that already ran
            client.scheduled_at = None
            if client in self._clients:
                next_at = client.flush(now)
                if next_at is not None:
                    again.append((client, next_at))
        for client, next_at in again:
            self.schedule(client, next_at)
        if self._due and self._timer is None:
            self._timer_at = self._due[0][0]
            self._timer = self._running_loop().call_at(self._timer_at, self._flush_due)

    def _arm(self, lane: Lane) -> None:
        if lane.channel not in self._lane_timers:
            when = lane.passed + lane.interval
            timer = self._running_loop().call_at(when, self._flush_lane, lane)
            self._lane_timers[lane.channel] = timer

    def _flush_lane(self, lane: Lane) -> None:
        self._lane_timers.pop(lane.channel, None)
        now = self.now()
        if lane.pending is None or self._lanes.get(lane.channel) is not lane:
            return
        if not lane.due(now):  # the lane passed again since this timer was set
            self._arm(lane)
            return
        out, lane.pending = lane.pending, None
        unsent, sent = lane.write(out.frame, now)
        for client in unsent:
            sent += client.deliver(out, lane.channel, now)
        if sent:
            self._metrics.sent.inc(sent)

    def _leave(self, client: LiveClient, channel: str) -> None:
        lane = self._lanes.get(channel)
        if lane is not None:
            lane.remove(client)
            if not lane:
                del self._lanes[channel]
                timer = self._lane_timers.pop(channel, None)
                if timer is not None:
                    timer.cancel()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)  # the heartbeat's period, not synchronisation
            self.broadcast_control({"type": "ping", "ts": now_ms()})

    async def _subscribe(self) -> PubSub:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.psubscribe(self._keys.live_pattern)
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
                # Said once per outage: not again while it stays away (or was never there).
                if self._pubsub is not None:
                    log.warning("lost the Redis subscription (%s); retrying", type(exc).__name__)
                await self._close_pubsub()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
