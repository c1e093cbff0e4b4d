"""uvicorn's websockets-sansio protocol, plus a direct path for the fan-out's shared frames.

Through ASGI, every message to every client costs an await chain (Starlette, uvicorn), a
frame built per connection and, with permessage-deflate, a compression per connection:
110 to 250 µs of CPU per client-send with 100 to 5,000 clients, measured. This protocol
offers itself to the app in the scope's ``extensions`` (``FRAMES``), and the live feed
writes each update's frame, encoded once, straight to every ready connection in one pass.
Frames are written whole and in order on the event loop, interleaving safely with what
uvicorn writes on the same connection (the handshake, pongs, the close frame).

Serve with ``app.uvicorn_options()``: no permessage-deflate (the shared frames are
uncompressed and must be valid on every connection) and no protocol pings (the kernel
finds dead peers, see ``connection_made``).
"""

from __future__ import annotations

import contextlib
import os
import socket
from asyncio import BaseTransport
from collections.abc import Callable

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from live_feed.client import Direct
from live_feed.outgoing import Outgoing

# The one module that relies on uvicorn's internals (its sans-io WebSocket protocol class and
# its transport handling): the public path through Starlette's send measured 2.3x the bare
# socket floor at 5,000 clients against 1.4x for this one (python -m bench.fanout, 2026-12-02).
LIBRARY = "uvicorn"
WRITTEN_FOR = "0.54.0"

FRAMES = "dojo.frames"
UNACKED_LIMIT_MS = 45_000


class FrameProtocol(WebSocketsSansIOProtocol):
    """A uvicorn WebSocket protocol that is also a live client's ``Sink``."""

    on_ready: Callable[[], None] | None = None
    _paused = False  # the transport's buffer is above its high-water mark
    _fd = -1  # the plain TCP socket's descriptor, -1 under TLS

    def connection_made(self, transport: BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is None:
            return
        if transport.get_extra_info("sslcontext") is None:
            self._fd = sock.fileno()
        # Dead peers: the feed's heartbeat keeps data flowing, so the kernel drops a
        # connection whose data stays unacknowledged this long, at no cost to the process
        # (uvicorn's protocol pings cost 2.5 % of a core at 5,000 clients; measured).
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, UNACKED_LIMIT_MS)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.handshake_initiated and not self.close_sent:  # upgraded: the scope exists
            self.scope.setdefault("extensions", {})[FRAMES] = {"sink": self}

    def pause_writing(self) -> None:
        super().pause_writing()
        self._paused = True

    def resume_writing(self) -> None:
        super().resume_writing()
        self._paused = False
        if self.on_ready is not None:
            self.on_ready()

    @property
    def ready(self) -> bool:
        """Open (the app accepted, nobody closed) and the transport's buffer not full."""
        # Checked once per client per update: the cheapest tests first.
        return not self._paused and not self.close_sent and not self.transport.is_closing()

    def write(self, out: Outgoing) -> None:
        """Write one shared frame (buffered by the transport when the socket is full)."""
        transport = self.transport
        if self.close_sent or transport.is_closing():
            return
        frame = out.frame
        if self._fd >= 0 and not transport.get_write_buffer_size():
            # Nothing queued in the transport, so a direct write keeps the order; it costs
            # a third of the event loop's write path in user time (measured). The
            # descriptor is ours while the transport is not closing (checked above).
            try:
                done = os.write(self._fd, frame)
            except BlockingIOError:
                done = 0
            except OSError:
                return  # the peer is gone; the transport will see it when it reads
            if done == len(frame):
                return
            frame = frame[done:]
        transport.write(frame)

    def direct(self) -> Direct | None:
        """Handles for writing frames straight to the socket (None under TLS)."""
        if self._fd < 0:
            return None
        t = self.transport
        return Direct(t.is_closing, t.get_write_buffer_size, t.write, self._fd)

    def abort(self) -> None:
        """Drop the connection at once with whatever its peer never took (it stalled)."""
        self.transport.abort()


def frame_sink(extensions: object) -> FrameProtocol | None:
    """The connection's ``FrameProtocol`` from an ASGI scope's extensions, if it has one."""
    entry = extensions.get(FRAMES) if isinstance(extensions, dict) else None
    sink = entry.get("sink") if isinstance(entry, dict) else None
    return sink if isinstance(sink, FrameProtocol) else None
