"""One connected admin: its subscriptions, its outbox and the one task that sends to it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import orjson

from live_feed.channels import Message, now_ms
from live_feed.coalesce import Outbox
from live_feed.metrics import LiveMetrics

Send = Callable[[str], Awaitable[None]]
Clock = Callable[[], float]

MAX_SUBSCRIPTIONS = 32


class SlowClient(Exception):
    """The client's socket did not accept a message within the stall deadline."""


class LiveClient:
    """Receives fan-out without ever blocking the hub; one sender task drains its outbox."""

    def __init__(
        self,
        send: Send,
        metrics: LiveMetrics,
        *,
        max_hz: float,
        stall_timeout: float = 10.0,
        heartbeat: float = 15.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._send = send
        self._metrics = metrics
        self.outbox = Outbox(max_hz)
        self.channels: set[str] = set()
        self._stall_timeout = stall_timeout
        self._heartbeat = heartbeat
        self._clock = clock
        self._wake = asyncio.Event()

    def deliver(self, message: Message, *, urgent: bool = False) -> None:
        """Queue a channel message if subscribed; never waits (called by the hub)."""
        if message["channel"] not in self.channels:
            return
        if self.outbox.offer(message, urgent=urgent):
            self._metrics.coalesced.inc()
        self._wake.set()

    def notify(self, message: Message) -> None:
        """Queue a control message (error, pong) for this client alone."""
        self.outbox.push_control(message)
        self._wake.set()

    def drop(self, channel: str) -> None:
        """Stop sending ``channel`` and discard what is pending for it."""
        self.channels.discard(channel)
        self.outbox.forget(channel)

    async def run_sender(self) -> None:
        """Send due messages and heartbeats until cancelled; raises ``SlowClient`` on a stall."""
        next_ping = self._clock() + self._heartbeat
        while True:
            now = self._clock()
            if now >= next_ping:
                self.outbox.push_control({"type": "ping", "ts": now_ms()})
                next_ping = now + self._heartbeat
            due = self.outbox.due_in(now)
            wait = next_ping - now if due is None else min(due, next_ping - now)
            if wait > 0:
                self._wake.clear()
                # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel
                # that lands as the wake-up completes, and the task would outlive its socket.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                continue
            for message in self.outbox.take(self._clock()):
                await self._send_one(message)

    async def _send_one(self, message: Message) -> None:
        text = orjson.dumps(message).decode("utf-8")
        try:
            async with asyncio.timeout(self._stall_timeout):
                await self._send(text)
        except TimeoutError:
            self._metrics.slow_disconnects.inc()
            raise SlowClient from None
        self._metrics.sent.inc()
