"""Browser fixtures: the live feed under uvicorn and a headless Debian Chromium."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import uvicorn

from infra.process import free_port
from live_feed import create_app
from live_feed.app import uvicorn_options
from stream.models.keys import Keys
from stream.settings import Settings
from tests.live_feed.conftest import FixedOffsets

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@dataclass
class Feed:
    """A running live feed: its base URL and a Redis client to publish through."""

    url: str
    redis: redis.Redis


@pytest.fixture
def feed(settings: Settings) -> Iterator[Feed]:
    """The live feed under uvicorn in a thread, on a free port, with clean Redis keys."""
    publisher = redis.Redis.from_url(settings.redis_url)
    publisher.delete(*publisher.keys(Keys.of(settings).namespace + "*") or ["-"])
    port = free_port()
    server = uvicorn.Server(
        # The production options: the panel then runs on the direct-write fan-out path.
        uvicorn.Config(
            create_app(settings, offsets=FixedOffsets({})),  # lag 0, Kafka not needed
            host="127.0.0.1",
            port=port,
            log_level="warning",
            **uvicorn_options(),
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield Feed(f"http://127.0.0.1:{port}", publisher)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        publisher.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """A headless Chromium driven through chromedriver, with a fresh profile."""
    driver = chromium(tmp_path / "chromium-profile")
    try:
        yield driver
    finally:
        driver.quit()


def chromium(profile: Path, *extra_args: str) -> Any:
    """Start a headless Chromium with a fresh ``profile``; the caller quits it."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail(
            "install chromium and chromium-driver: apt-get install -y chromium chromium-driver"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,800",
        f"--user-data-dir={profile}",
        *extra_args,
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture
def token(settings: Settings) -> str:
    """The admin token of the test settings."""
    return settings.admin_token.reveal()
