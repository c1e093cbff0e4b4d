"""The terminal client against a live uvicorn server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from live_feed.tail import Unauthorized, tail
from stream.settings import Secret, Settings
from tests.conftest import free_port


async def test_tail_prints_snapshot_and_updates(
    settings: Settings, live_server: str, publisher: Callable[..., None]
) -> None:
    publisher("pipeline", {"valid": 10, "dead_lettered": 1, "reasons": {"schema": 1}}, ts=1)
    lines: list[str] = []

    async def publish_when_subscribed() -> None:
        # The first line (the snapshot) proves the subscription is live.
        async with asyncio.timeout(10):
            while not lines:
                await asyncio.sleep(0.01)
        publisher("pipeline", {"valid": 11, "dead_lettered": 1, "reasons": {}}, ts=2)

    feeder = asyncio.create_task(publish_when_subscribed())
    async with asyncio.timeout(20):
        count = await tail(
            settings, "pipeline", url=f"{live_server}/ws/live", out=lines.append, max_messages=2
        )
    await feeder
    assert count == 2
    assert "pipeline" in lines[0] and "snapshot" in lines[0] and "valid=10" in lines[0]
    assert "update" in lines[1] and "valid=11" in lines[1] and "reasons{0}" in lines[1]


async def test_tail_gives_up_on_a_wrong_token(settings: Settings, live_server: str) -> None:
    wrong = Settings(redis_url=settings.redis_url, admin_token=Secret("wrong"))
    with pytest.raises(Unauthorized, match=f"the live feed at {live_server}/ws/live refused"):
        async with asyncio.timeout(20):
            await tail(wrong, "traffic", url=f"{live_server}/ws/live", out=print, max_messages=1)


async def test_tail_warns_once_while_the_feed_is_down(settings: Settings) -> None:
    url = f"ws://127.0.0.1:{free_port()}/ws/live"
    printed: list[str] = []
    warned: list[str] = []
    follower = asyncio.create_task(
        tail(settings, "traffic", url=url, out=printed.append, warn=warned.append)
    )
    # 0.5 + 1 + 2 s of backoff: four refused connects while the test waits.
    async with asyncio.timeout(20):
        while not warned:
            await asyncio.sleep(0.05)
    await asyncio.sleep(4.0)  # an observation window: no further warning may come in it
    follower.cancel()
    with pytest.raises(asyncio.CancelledError):
        await follower
    assert warned == [
        f"cannot reach the live feed at {url} (nothing listens there): retrying until it answers"
    ]
    assert printed == []
