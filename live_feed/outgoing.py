"""A message encoded once, as JSON and as a WebSocket text frame, for every client it goes to.

Server-to-client frames are unmasked (RFC 6455 §5.1) and the live feed negotiates no
compression, so one frame's bytes are valid on every connection: the fan-out writes the
same ``bytes`` object to each socket instead of encoding per client.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from websockets.frames import Frame, Opcode

from live_feed.channels import Message


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send: the dict, its JSON and its frame, never changed once built."""

    message: Message
    json: bytes
    frame: bytes

    @classmethod
    def of(cls, message: Message) -> Outgoing:
        """Encode ``message`` once."""
        json = orjson.dumps(message)
        return cls(message, json, Frame(Opcode.TEXT, json).serialize(mask=False))

    @property
    def channel(self) -> str:
        """The channel it belongs to ("" for control messages: ping, pong, error)."""
        channel = self.message.get("channel")
        return channel if isinstance(channel, str) else ""

    @property
    def ts(self) -> int:
        """Its ``ts`` in epoch milliseconds (0 if it has none)."""
        ts = self.message.get("ts")
        return ts if isinstance(ts, int) else 0

    @property
    def is_snapshot(self) -> bool:
        """True for a channel's first message to a client."""
        return bool(self.message.get("type") == "snapshot")

    def as_snapshot(self) -> Outgoing:
        """The same data typed as a snapshot (encoded again only if it was an update)."""
        return self if self.is_snapshot else Outgoing.of({**self.message, "type": "snapshot"})

    @property
    def text(self) -> str:
        """The JSON as text, for servers that take ASGI ``websocket.send`` messages."""
        return self.json.decode("utf-8")
