"""A per-client outbox: latest value per channel, a send rate cap, bounded control messages.

Pure: the caller passes the monotonic time in seconds. Memory is bounded by one pending
message per channel plus ``control_limit`` control messages, whatever the publish rate.
The messages are shared ``Outgoing`` objects, so a pending message costs one reference.
"""

from __future__ import annotations

from collections import deque

from live_feed.outgoing import Outgoing


class Outbox:
    """Holds what one client has yet to receive, coalesced to ``max_hz`` per channel."""

    __slots__ = (
        "_control",
        "_held",
        "_last_sent",
        "_pending",
        "_urgent",
        "control_dropped",
        "interval",
        "superseded",
    )

    def __init__(self, max_hz: float, control_limit: int = 16) -> None:
        if max_hz <= 0:
            raise ValueError("max_hz must be positive")
        self.interval = 1.0 / max_hz
        self._pending: dict[str, Outgoing] = {}
        self._urgent: set[str] = set()
        self._held: set[str] = set()
        self._last_sent: dict[str, float] = {}
        self._control: deque[Outgoing] = deque(maxlen=control_limit)
        self.superseded = 0
        self.control_dropped = 0

    def __len__(self) -> int:
        return len(self._pending) + len(self._control)

    @property
    def has_control(self) -> bool:
        """True if a control message waits."""
        return bool(self._control)

    def admit(self, channel: str, now: float) -> bool:
        """True, and the send recorded, if a message on ``channel`` may go at once unqueued."""
        last_sent = self._last_sent
        last = last_sent.get(channel)
        if last is not None and now - last < self.interval:
            return False
        if self._control or channel in self._pending or channel in self._held:
            return False
        last_sent[channel] = now
        return True

    def record(self, channel: str, when: float) -> None:
        """Note a send of ``channel`` at ``when`` made without this outbox (in step)."""
        self._last_sent[channel] = when

    def offer(self, out: Outgoing, *, urgent: bool = False) -> bool:
        """Queue a channel message; returns True if it replaced one never sent (counted)."""
        channel = out.channel
        previous = self._pending.get(channel)
        if urgent:
            self._urgent.add(channel)
        if previous is None:
            self._pending[channel] = out
            return False
        self.superseded += 1
        newest = out if out.ts >= previous.ts else previous
        # A client's first message on a channel must stay a snapshot, even if fresher
        # data arrived before it left: keep the type, take the newest data.
        if previous.is_snapshot or out.is_snapshot:
            newest = newest.as_snapshot()
        self._pending[channel] = newest
        return True

    def hold(self, channel: str) -> None:
        """Keep ``channel``'s messages back (its snapshot is on the way) until ``release``."""
        self._held.add(channel)

    def release(self, channel: str) -> None:
        """Let ``channel``'s messages go again."""
        self._held.discard(channel)

    def push_control(self, out: Outgoing) -> None:
        """Queue a message that is not per channel (ping, error); the oldest gives way."""
        if len(self._control) == self._control.maxlen:
            self.control_dropped += 1
        self._control.append(out)

    def forget(self, channel: str) -> None:
        """Drop what is pending for ``channel`` (the client unsubscribed)."""
        self._pending.pop(channel, None)
        self._urgent.discard(channel)
        self._held.discard(channel)
        self._last_sent.pop(channel, None)

    def due_in(self, now: float) -> float | None:
        """Seconds until the next message may be sent (0 = now), None if nothing may go."""
        if self._control:
            return 0.0
        waits = [self._wait(c, now) for c in self._pending if c not in self._held]
        return min(waits) if waits else None

    def take(self, now: float) -> list[Outgoing]:
        """Remove and return every message that may be sent at ``now``, recording the send."""
        out = list(self._control)
        self._control.clear()
        for channel in [c for c in self._pending if c not in self._held]:
            if self._wait(channel, now) <= 0:
                out.append(self._pending.pop(channel))
                self._urgent.discard(channel)
                self._last_sent[channel] = now
        return out

    def _wait(self, channel: str, now: float) -> float:
        if channel in self._urgent:
            return 0.0
        last = self._last_sent.get(channel)
        return 0.0 if last is None else max(0.0, last + self.interval - now)
