"""A per-client outbox: latest value per channel, a send rate cap, bounded control messages.

Pure: the caller passes the monotonic time in seconds. Memory is bounded by one pending
message per channel plus ``control_limit`` control messages, whatever the publish rate.
"""

from __future__ import annotations

from collections import deque
from typing import Any

Message = dict[str, Any]


class Outbox:
    """Holds what one client has yet to receive, coalesced to ``max_hz`` per channel."""

    def __init__(self, max_hz: float, control_limit: int = 16) -> None:
        if max_hz <= 0:
            raise ValueError("max_hz must be positive")
        self.interval = 1.0 / max_hz
        self._pending: dict[str, Message] = {}
        self._urgent: set[str] = set()
        self._last_sent: dict[str, float] = {}
        self._control: deque[Message] = deque(maxlen=control_limit)
        self.superseded = 0
        self.control_dropped = 0

    def __len__(self) -> int:
        return len(self._pending) + len(self._control)

    def offer(self, message: Message, *, urgent: bool = False) -> bool:
        """Queue a channel message; returns True if it replaced one never sent (counted)."""
        channel: str = message["channel"]
        previous = self._pending.get(channel)
        if urgent:
            self._urgent.add(channel)
        if previous is None:
            self._pending[channel] = message
            return False
        self.superseded += 1
        newest = message if _ts(message) >= _ts(previous) else previous
        # A client's first message on a channel must stay a snapshot, even if fresher
        # data arrived before it left: keep the type, take the newest data.
        if previous["type"] == "snapshot" or message["type"] == "snapshot":
            newest = {**newest, "type": "snapshot"}
        self._pending[channel] = newest
        return True

    def push_control(self, message: Message) -> None:
        """Queue a message that is not per channel (ping, error); the oldest gives way."""
        if len(self._control) == self._control.maxlen:
            self.control_dropped += 1
        self._control.append(message)

    def forget(self, channel: str) -> None:
        """Drop what is pending for ``channel`` (the client unsubscribed)."""
        self._pending.pop(channel, None)
        self._urgent.discard(channel)
        self._last_sent.pop(channel, None)

    def due_in(self, now: float) -> float | None:
        """Seconds until the next message may be sent (0 = now), None if nothing is pending."""
        if self._control:
            return 0.0
        waits = [self._wait(channel, now) for channel in self._pending]
        return min(waits) if waits else None

    def take(self, now: float) -> list[Message]:
        """Remove and return every message that may be sent at ``now``, recording the send."""
        out = list(self._control)
        self._control.clear()
        for channel in [c for c in self._pending if self._wait(c, now) <= 0]:
            out.append(self._pending.pop(channel))
            self._urgent.discard(channel)
            self._last_sent[channel] = now
        return out

    def _wait(self, channel: str, now: float) -> float:
        if channel in self._urgent:
            return 0.0
        last = self._last_sent.get(channel)
        return 0.0 if last is None else max(0.0, last + self.interval - now)


def _ts(message: Message) -> int:
    ts = message.get("ts")
    return ts if isinstance(ts, int) else 0
