"""A client's sink through ASGI ``websocket.send``, for servers without ``FrameProtocol``.

Starlette's ``TestClient`` and other ASGI servers take messages only through ``send``;
one drain task sends them one at a time. The sink is unready while a send is in flight,
so the client's outbox (one pending message per channel) is what grows, never this queue.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from live_feed.outgoing import Outgoing


class AsgiSink:
    """Sends a client's messages as ASGI text messages, in order, one at a time."""

    def __init__(self, send_text: Callable[[str], Awaitable[None]]) -> None:
        self.on_ready: Callable[[], None] | None = None
        self._send_text = send_text
        self._queue: deque[Outgoing] = deque()
        self._wake = asyncio.Event()
        self._sending = False

    @property
    def ready(self) -> bool:
        """True when nothing is being sent."""
        return not self._sending and not self._queue

    def write(self, out: Outgoing) -> None:
        """Queue ``out`` for the drain task (the client writes only when ready)."""
        self._queue.append(out)
        self._wake.set()

    def abort(self) -> None:
        """Nothing to drop here: the endpoint's close ends the connection."""

    def direct(self) -> None:
        """ASGI has no socket to write to."""

    async def run(self) -> None:
        """Send what is written until cancelled (or the socket fails)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._sending = True
            try:
                while self._queue:
                    await self._send_text(self._queue.popleft().text)
            finally:
                self._sending = False
            if self.on_ready is not None:
                self.on_ready()
