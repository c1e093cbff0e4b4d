"""The Live tab notes today's visitor figure when the day's salt was lost, in a real Chromium."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from collector.salt import reset_key
from tests.browser.panel_page import KEYS, XSS, log_in, publish, severe_errors, text, wait_for

pytestmark = pytest.mark.browser


def test_the_visitors_figure_says_since_when_it_is_not_exact(
    browser: Any, feed: Any, token: str
) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    now = time.time()
    lost_at = int(now) - 3 * 60  # the collector records when it made the new salt
    feed.redis.set(reset_key(KEYS, now), lost_at)
    today = {"views": 900, "visitors": 120, "sessions": 130, "bounce_rate": 0.3}
    publish(feed.redis, "traffic", {"active_visitors": 3, "today": today}, ts=int(now * 1000))

    log_in(driver, feed.url + "/", token)

    note = driver.find_element(By.ID, "visitors-note")
    wait_for(note.is_displayed, "the note beside today's visitors")
    assert note.get_attribute("data-checked") == "broken"
    hhmm = datetime.fromtimestamp(lost_at, UTC).strftime("%H:%M")
    assert f"since {hhmm} UTC" in note.text
    assert "the day's salt was lost" in note.text
    wait_for(lambda: text(driver, "today-visitors").startswith("120"), "today's visitors")
    assert "flagged" in driver.find_element(By.ID, "today-visitors").get_attribute("class")

    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )
    wait_for(lambda: driver.execute_script("return window.innerWidth") == 390, "the phone width")
    right = driver.execute_script(
        "return document.getElementById('visitors-note').getBoundingClientRect().right"
    )
    assert right <= 390
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 390

    said = driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        import("/static/visitors_note.js").then((m) => done([
          m.describe({day: "2026-01-01", broken: false, salt_lost_at: null}),
          m.describe({broken: true, salt_lost_at: null}),
          m.describe({broken: true, salt_lost_at: 3600 * 13 + 60 * 7}),
          m.describe({broken: "true", salt_lost_at: 5}),
          m.describe({broken: true, salt_lost_at: arguments[0]}),
          m.describe({broken: true, salt_lost_at: -1}),
          m.describe([true]),
          m.describe(null),
        ]));""",
        XSS,
    )
    assert said == [
        None,
        "Visitor count not exact today: the day's salt was lost, so returning visitors may "
        "count twice.",
        "Visitor count not exact since 13:07 UTC: the day's salt was lost, so returning "
        "visitors may count twice.",
        None,
        "Visitor count not exact today: the day's salt was lost, so returning visitors may "
        "count twice.",
        "Visitor count not exact today: the day's salt was lost, so returning visitors may "
        "count twice.",
        None,
        None,
    ]
    assert driver.execute_script("return window.__xss") is None
    assert severe_errors(driver) == []


def test_a_whole_day_shows_no_note(browser: Any, feed: Any, token: str) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    log_in(driver, feed.url + "/", token)
    note = driver.find_element(By.ID, "visitors-note")
    # The panel asks once it is connected, and marks the note with what it was told.
    wait_for(lambda: note.get_attribute("data-checked") == "whole", "the panel's question")
    assert not note.is_displayed()
    flagged = driver.find_element(By.ID, "today-visitors").get_attribute("class") or ""
    assert "flagged" not in flagged
    assert severe_errors(driver) == []
