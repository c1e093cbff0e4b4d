"""What the site's beacon does for one session: number events and batch them into requests."""

from __future__ import annotations

from typing import Any

# beacon.js sends when this many events wait, when a page loads or leaves, and otherwise
# on a timer; the same rules here make request sizes look like the real beacon's.
MAX_PENDING = 30
FLUSH_EVERY_MS = 10_000


class Beacon:
    """Events of one session in order; ``ts`` holds ms from the session start until placed."""

    __slots__ = ("_last_flush", "_pending", "events", "flushes", "session_id", "t")

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.events: list[dict[str, Any]] = []
        self.flushes: list[int] = []  # exclusive end index of each request
        self.t = 0.0  # the session's clock, ms
        self._pending = 0
        self._last_flush = 0.0

    def emit(
        self, kind: str, url: str, props: dict[str, Any], referrer: str | None = None
    ) -> dict[str, Any]:
        """Record one event at the current time and return it."""
        if self._pending and self.t - self._last_flush > FLUSH_EVERY_MS:
            self.flush()
        events = self.events
        event: dict[str, Any] = {
            "event_id": f"{self.session_id}-{len(events)}",
            "type": kind,
            "ts": int(self.t),
            "session_id": self.session_id,
            "url": url,
        }
        if referrer:
            event["referrer"] = referrer
        event["props"] = props
        events.append(event)
        self._pending += 1
        if self._pending >= MAX_PENDING:
            self.flush()
        return event

    def wait(self, ms: float) -> None:
        """Let ``ms`` milliseconds pass on the session's clock."""
        self.t += ms

    def flush(self) -> None:
        """End the current request (no-op when nothing is pending)."""
        if self._pending:
            self.flushes.append(len(self.events))
            self._pending = 0
        self._last_flush = self.t

    def requests(self) -> list[list[dict[str, Any]]]:
        """The session's events cut into requests, in sending order."""
        self.flush()
        out: list[list[dict[str, Any]]] = []
        start = 0
        for end in self.flushes:
            out.append(self.events[start:end])
            start = end
        return out
