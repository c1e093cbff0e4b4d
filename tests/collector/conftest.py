"""Collector fixtures: an in-test sink (the public ``EventSink`` seam) and a driven clock."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from collector.app import create_app
from collector.sink import SinkUnavailable
from stream.settings import Settings

CLIENT_IP = "203.0.113.77"
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
# 2031-03-14 12:00:00 UTC: a fixed day, far from midnight, whose salt expires in the future.
NOON = 1_931_256_000.0


class MemorySink:
    """Keeps produced messages in a list; can be switched to refuse them."""

    def __init__(self) -> None:
        self.messages: list[tuple[bytes, bytes]] = []
        self.available = True
        self.started = False
        self.stopped = False

    @property
    def ready(self) -> bool:
        return self.started and self.available

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, key: bytes, value: bytes) -> None:
        if not self.available:
            raise SinkUnavailable("switched off by the test")
        self.messages.append((key, value))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def event(n: int = 0, session_id: str = "sess_abcdef12") -> dict[str, object]:
    """A well-formed page_view event."""
    return {
        "event_id": f"evt_{n:08d}",
        "type": "page_view",
        "ts": 1_700_000_000_000 + n,
        "session_id": session_id,
        "url": "/events/2031-spring",
        "props": {"title": "Spring dojo"},
    }


@pytest.fixture
def collector_settings(settings: Settings) -> Settings:
    """Settings with a site id of its own, so Redis counters never leak between tests."""
    return dataclasses.replace(settings, site_id=f"site-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOON)


@pytest.fixture
def client(collector_settings: Settings, sink: MemorySink, clock: Clock) -> Iterator[TestClient]:
    """A started collector app seen from one client IP and browser."""
    app = create_app(collector_settings, sink=sink, clock=clock)
    with TestClient(
        app, client=(CLIENT_IP, 50123), headers={"user-agent": IPHONE_UA}
    ) as test_client:
        yield test_client
