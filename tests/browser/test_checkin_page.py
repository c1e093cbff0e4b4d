"""The mentors' check-in page in Chromium on a phone: taps become attendance events in Kafka,
and taps made while offline wait in the phone's storage until the connection is back."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.ingest.contract import validate_event
from stream.models.keys import Keys
from stream.settings import Secret, Settings
from stream.topics import drop_topics, ensure_topics
from tests.browser.panel_page import PHONE, assert_fits, resize, shoot, text, wait_for
from tests.integration.conftest import read_topic

pytestmark = pytest.mark.browser

CODE = "door-code-42"
DAY_MS = 86_400_000


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Any:
    """The feed's settings with a check-in code and topics of this test's own on the broker."""
    base = Settings(redis_url=redis_url, data_dir=tmp_path / "data", partitions=1,
                    topic_prefix=f"t{uuid.uuid4().hex[:10]}", checkin_token=Secret(CODE))  # fmt: skip
    asyncio.run(ensure_topics(base))
    yield base
    asyncio.run(drop_topics(base))


def queued(driver: Any) -> int:
    return int(driver.execute_script(
        "return JSON.parse(localStorage.getItem('dojo-checkin-queue') || '[]').length"))  # fmt: skip


def offline(driver: Any, off: bool) -> None:
    driver.set_network_conditions(
        offline=off, latency=0, download_throughput=-1, upload_throughput=-1
    )


def test_taps_reach_kafka_and_survive_being_offline(
    browser: Any, feed: Any, settings: Settings, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    now = int(time.time() * 1000)
    event = {"id": "event:scratch-today", "title": "Scratch <b>Saturday</b>",
             "starts_ms": now - now % DAY_MS + 1, "capacity": 30, "net_tickets": 24, "attended": 0}  # fmt: skip
    body = {"channel": "dojo", "data": {"registrations": {"events": [event]}}, "ts": now}
    feed.redis.set(Keys.of(settings).snapshot("dojo"), orjson.dumps(body))  # as count_dojo does
    driver.get(feed.url + "/checkin")
    resize(driver, *PHONE)
    driver.find_element(By.ID, "checkin-token").send_keys(CODE)
    driver.find_element(By.CSS_SELECTOR, "#sign-in button").click()
    wait_for(lambda: "Scratch <b>Saturday</b>" in text(driver, "events"), "today's event, as text")
    assert_fits(driver, "the check-in page on a phone")
    shoot(driver, tmp_path, "checkin-phone")

    def tap(label: str) -> None:
        card = driver.find_element(By.CSS_SELECTOR, '[data-event="event:scratch-today"]')
        next(b for b in card.find_elements(By.TAG_NAME, "button") if b.text == label).click()

    tap("+2")
    wait_for(
        lambda: queued(driver) == 0 and text(driver, "status") == "online", "the first arrival sent"
    )
    offline(driver, True)
    tap("+1 walk-in")
    tap("+1")
    wait_for(lambda: "offline" in text(driver, "status"), "the page to notice it is offline")
    assert queued(driver) == 2
    assert "2 arrivals saved on this phone" in text(driver, "pending")
    assert "4 here" in text(driver, "events")  # 2 + 1 + 1 heads, shown at once
    offline(driver, False)
    wait_for(lambda: queued(driver) == 0, "the queue sent once the connection is back", timeout=30)

    raws = asyncio.run(
        read_topic(settings, settings.topic_raw, lambda v: len(v) >= 3, deadline_s=20)
    )
    events = [e for raw in raws for e in raw["events"]]
    assert sorted((e["props"]["count"], e["props"]["walk_in"]) for e in events) == [
        (1, False), (1, True), (2, False)]  # fmt: skip
    assert len({e["event_id"] for e in events}) == 3
    for raw, event_ in ((r, e) for r in raws for e in r["events"]):
        assert isinstance(validate_event(event_, raw["received_at"]), dict)
        assert event_["props"]["dojo_event_id"] == "event:scratch-today"
    assert CODE not in orjson.dumps(raws).decode()
