"""A past range in a real Chromium names the content that went live or off in it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from stream.content import ContentService
from stream.content.messages import Outbox
from stream.settings import Settings
from stream.store import open_store
from tests.browser.panel_page import (
    DESKTOP,
    PHONE,
    XSS,
    assert_fits,
    log_in,
    resize,
    severe_errors,
    shoot,
    wait_for,
)
from tests.store.content_items import Clock, event, page

pytestmark = pytest.mark.browser

MINUTE_MS, HOUR_MS, DAY_MS = 60_000, 3_600_000, 86_400_000
EVENT = "event:scratch-2026-12-05"


def seed_content(settings: Settings, today: int) -> None:
    """Today: the event live at 09:30, its revision 2 at 10:15, a page at 11:05, the event off
    at 12:00. Yesterday the page's first stretch, which today's range must not show."""
    engine = open_store(settings)
    clock = Clock(today - 2 * HOUR_MS)
    service = ContentService(engine, Outbox(), clock=clock)
    try:
        service.create("event", event(), "admin")
        service.create("page", page(title=XSS), "admin")
        service.publish("page:/about")
        clock.now = today - HOUR_MS
        service.unpublish("page:/about")
        clock.now = today + 9 * HOUR_MS + 30 * MINUTE_MS
        service.publish(EVENT)
        service.update(EVENT, event(title="Scratch Saturday (full)"), 1, "admin")
        clock.now = today + 10 * HOUR_MS + 15 * MINUTE_MS
        service.publish(EVENT)
        clock.now = today + 11 * HOUR_MS + 5 * MINUTE_MS
        service.publish("page:/about")
        clock.now = today + 12 * HOUR_MS
        service.unpublish(EVENT)
    finally:
        engine.dispose()


def markers(driver: Any, card: str) -> list[str]:
    found = driver.find_elements("css selector", f"#history-{card} .content-changes li")
    return [li.text for li in found]


def loaded(driver: Any) -> bool:
    cards = driver.find_elements("css selector", "#history-live .history-card")
    return bool(cards) and all(c.get_attribute("aria-busy") == "false" for c in cards)


def test_todays_cards_list_what_was_published_and_when(
    browser: Any, feed: Any, token: str, settings: Settings, tmp_path: Path
) -> None:
    from selenium.webdriver.support.ui import Select

    driver = browser
    now = int(time.time() * 1000)
    today = now - now % DAY_MS
    seed_content(settings, today)
    log_in(driver, feed.url + "/", token)
    assert driver.find_elements("css selector", ".content-changes") == []  # live: no range

    Select(driver.find_element("css selector", "#range")).select_by_value("today")
    wait_for(lambda: loaded(driver), "today's cards")
    expected = [
        "Published: Scratch Saturday rev 1 at 09:30",
        "Published: Scratch Saturday (full) rev 2 at 10:15",
        f"Published: {XSS} rev 1 at 11:05",
        "Unpublished: Scratch Saturday (full) rev 2 at 12:00",
    ]
    assert markers(driver, "traffic") == expected
    assert markers(driver, "pipeline") == expected
    # Under the card's range header, before its numbers.
    first = driver.find_element("css selector", "#history-traffic .history-body > *")
    assert first.get_attribute("class") == "content-changes"
    for size in (DESKTOP, PHONE):
        resize(driver, *size)
        assert_fits(driver, f"today's cards with content changes at {size[0]} px")
        shoot(driver, tmp_path, f"content-changes-{size[0]}x{size[1]}")
    assert driver.find_elements("css selector", "img") == []
    assert driver.execute_script("return typeof window.__xss") == "undefined"
    assert severe_errors(driver) == []
