"""One connected admin: its subscriptions, its outbox, and the sink its frames go to.

Nothing here waits: the hub hands a message to every client in one pass and each client
writes it to its sink at once when the rate cap and the socket allow, else keeps it as the
one pending message of its channel for the hub to flush when it is due. A sink that stays
unready (the peer stopped reading) for ``stall_timeout`` ends the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NamedTuple, Protocol

from live_feed.channels import Message
from live_feed.coalesce import Outbox
from live_feed.metrics import LiveMetrics
from live_feed.outgoing import Outgoing

MAX_SUBSCRIPTIONS = 32
CLOSE_TRY_AGAIN = 1013

Schedule = Callable[["LiveClient", float], None]


class Direct(NamedTuple):
    """A plain socket's direct-write handles, bound once (see ``lane``)."""

    is_closing: Callable[[], bool]
    backlog: Callable[[], int]  # bytes the transport still holds
    push: Callable[[bytes], None]  # hands the rest of a partial write to the transport
    fd: int


class Sink(Protocol):
    """Where one client's frames go; ``write`` never waits and ``ready`` says if it should.

    The sink calls ``on_ready`` (set by the hub) when it becomes ready again.
    """

    on_ready: Callable[[], None] | None

    @property
    def ready(self) -> bool:
        """True if the socket takes more now without growing a backlog."""
        ...

    def write(self, out: Outgoing) -> None:
        """Send ``out`` (buffered by the sink if the socket is busy)."""
        ...

    def abort(self) -> None:
        """Drop the connection without a closing handshake (its peer stopped reading)."""
        ...

    def direct(self) -> Direct | None:
        """What a lane needs to write frames straight to the socket, if it allows that."""
        ...


class LiveClient:
    """Receives fan-out without ever blocking the hub; the hub's timer flushes what waits."""

    __slots__ = (
        "_metrics",
        "_schedule",
        "_stall_timeout",
        "_unready_since",
        "channels",
        "ended",
        "outbox",
        "scheduled_at",
        "sink",
    )

    def __init__(
        self,
        sink: Sink,
        metrics: LiveMetrics,
        *,
        max_hz: float,
        stall_timeout: float,
        schedule: Schedule,
    ) -> None:
        self.sink = sink
        self.outbox = Outbox(max_hz)
        self.channels: set[str] = set()
        self.ended: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.scheduled_at: float | None = None  # the hub's bookkeeping: next flush asked for
        self._metrics = metrics
        self._stall_timeout = stall_timeout
        self._schedule = schedule
        self._unready_since: float | None = None

    def deliver(self, out: Outgoing, channel: str, now: float) -> bool:
        """Send ``out`` (of ``channel``) now if allowed, else queue it; True if written."""
        sink = self.sink
        if sink.ready and self.outbox.admit(channel, now):
            sink.write(out)
            return True
        if self.outbox.offer(out):
            self._metrics.coalesced.inc()
        self._schedule(self, now)
        return False

    def deliver_snapshot(self, out: Outgoing, now: float) -> None:
        """Queue a channel's snapshot ahead of the rate cap and release its held updates."""
        if self.outbox.offer(out, urgent=True):
            self._metrics.coalesced.inc()
        self.outbox.release(out.channel)
        self._schedule(self, now)

    def notify(self, message: Message, now: float) -> None:
        """Queue a control message (error, pong) for this client alone."""
        self.send_control(Outgoing.of(message), now)

    def send_control(self, out: Outgoing, now: float) -> None:
        """Send a control message now if nothing waits, else queue it (the oldest gives way)."""
        if self.sink.ready and not self.outbox.has_control:
            self.sink.write(out)
            self._metrics.sent.inc()
            return
        self.outbox.push_control(out)
        self._schedule(self, now)

    def hold(self, channel: str) -> None:
        """Subscribe to ``channel``; its updates wait for its snapshot (``deliver_snapshot``)."""
        self.channels.add(channel)
        self.outbox.hold(channel)

    def release(self, channel: str, now: float) -> None:
        """Let ``channel``'s updates go without a snapshot (it could not be read)."""
        self.outbox.release(channel)
        self._schedule(self, now)

    def drop(self, channel: str) -> None:
        """Stop sending ``channel`` and discard what is pending for it."""
        self.channels.discard(channel)
        self.outbox.forget(channel)

    def flush(self, now: float) -> float | None:
        """Write what is due; return when to flush again (None: nothing waits on the clock)."""
        if self.ended.done():
            return None
        if not self.sink.ready:
            if not self.outbox:
                return None  # nothing to send: a busy socket is no stall yet
            if self._unready_since is None:
                self._unready_since = now
            if now - self._unready_since >= self._stall_timeout:
                self._metrics.slow_disconnects.inc()
                self.ended.set_result(CLOSE_TRY_AGAIN)
                return None
            return self._unready_since + self._stall_timeout  # unless the sink wakes us first
        self._unready_since = None
        due = self.outbox.take(now)
        for out in due:
            self.sink.write(out)
        if due:
            self._metrics.sent.inc(len(due))
        wait = self.outbox.due_in(now)
        return None if wait is None else now + wait

    def close(self) -> None:
        """End the client (the socket closed); the hub stops flushing it."""
        if not self.ended.done():
            self.ended.set_result(0)
