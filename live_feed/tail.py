"""A terminal client of the live feed: one line per message, reconnecting on drops."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from stream.settings import Settings

SUMMARY_CHARS = 160
CLOSE_UNAUTHORIZED = 4401


class Unauthorized(PermissionError):
    """The live feed refused the admin token; reconnecting would not help."""


def summarise(data: Any, limit: int = SUMMARY_CHARS) -> str:
    """A compact one-line view of a snapshot: scalars shown, collections counted."""
    if not isinstance(data, dict):
        text = orjson.dumps(data).decode("utf-8")
    else:
        parts = []
        for key, value in data.items():
            if isinstance(value, dict):
                parts.append(f"{key}{{{len(value)}}}")
            elif isinstance(value, list):
                parts.append(f"{key}[{len(value)}]")
            else:
                parts.append(f"{key}={orjson.dumps(value).decode('utf-8')}")
        text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_line(message: dict[str, Any]) -> str:
    """One printable line for a feed message: time, channel, type, summary."""
    ts = message.get("ts")
    when = time.strftime("%H:%M:%S", time.localtime(ts / 1000)) if isinstance(ts, int) else "--"
    channel = message.get("channel", "-")
    kind = message.get("type", "?")
    rest = message.get("detail", "") if kind == "error" else summarise(message.get("data"))
    return f"{when} {channel:<10} {kind:<8} {rest}".rstrip()


async def tail(
    settings: Settings,
    channel: str,
    *,
    url: str | None = None,
    out: Callable[[str], object] = print,
    warn: Callable[[str], object] = print,
    max_messages: int | None = None,
) -> int:
    """Print messages of ``channel`` until ``max_messages`` arrive (or forever); returns count.

    While the feed cannot be reached, ``warn`` is told once (per outage) and the client
    retries; a refused token raises ``Unauthorized``, since retrying would not help.
    """
    url = url or f"ws://{settings.live_host}:{settings.live_port}/ws/live"
    headers = {"Authorization": f"Bearer {settings.admin_token.reveal()}"}
    count, backoff, told = 0, 0.5, False
    while max_messages is None or count < max_messages:
        problem = ""
        try:
            async with websockets.connect(url, additional_headers=headers) as ws:
                await ws.send(orjson.dumps({"subscribe": [channel]}).decode("utf-8"))
                backoff, told = 0.5, False
                async for raw in ws:
                    message = orjson.loads(raw)
                    if message.get("type") in ("ping", "pong"):
                        continue
                    out(format_line(message))
                    count += 1
                    if max_messages is not None and count >= max_messages:
                        break
        except ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code == CLOSE_UNAUTHORIZED:
                raise Unauthorized(f"the live feed at {url} refused the admin token") from None
        except InvalidStatus as exc:
            if exc.response.status_code in (401, 403):
                raise Unauthorized(f"the live feed at {url} refused the admin token") from None
            problem = f"it answered HTTP {exc.response.status_code}"
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            # Not up yet, restarting, or not a WebSocket server at all.
            refused = isinstance(exc, ConnectionRefusedError)
            problem = "nothing listens there" if refused else str(exc) or type(exc).__name__
        if problem and not told:
            warn(f"cannot reach the live feed at {url} ({problem}): retrying until it answers")
            told = True
        if max_messages is None or count < max_messages:
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
    return count
