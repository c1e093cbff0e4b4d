"""The Dojo tab in Chromium: fill and turnout of upcoming events, attendance, resources, notices,
on a desktop and a phone, with the range picker."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.metrics.dojo_board import board, notices
from stream.metrics.dojo_forecast import Forecaster
from stream.settings import Settings
from tests.browser.panel_page import (
    DESKTOP,
    PHONE,
    assert_fits,
    log_in,
    publish,
    resize,
    severe_errors,
    shoot,
    text,
    wait_for,
)
from tests.unit.test_dojo_board import NOW, fold, shop

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="window.pwned=1">Robots'


def dojo_snapshot() -> dict[str, Any]:
    state, catalogue = shop()
    view = {"type": "page_view", "ts": NOW, "url": "/resources/cards", "referrer": "", "props": {}}
    fold(state, view, view)
    catalogue.apply(b"resource:cards", orjson.dumps({"title": HOSTILE, "tags": ["robots"]}))
    data = board(state, catalogue, Forecaster(), NOW)
    data["notices"] = [alert for _, alert in notices(data["registrations"]["events"], NOW)]
    return data


def test_the_dojo_tab_shows_fill_turnout_and_attendance(
    browser: Any, feed: Any, token: str, tmp_path: Path, settings: Settings
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser
    publish(feed.redis, "dojo", dojo_snapshot(), int(time.time() * 1000))
    kept = settings.data_dir / "reports"
    kept.mkdir(parents=True)
    (kept / "weekly-2026-11-23.eml").write_bytes(b"Subject: a report\r\n\r\nfigures")
    (kept / "../../escape.eml").resolve().write_bytes(b"not listed")
    log_in(driver, feed.url + "/", token)
    driver.find_element(By.CSS_SELECTOR, '.tabs [data-tab="dojo"]').click()
    wait_for(lambda: "9 of 10 · 90%" in text(driver, "dojo-upcoming"), "the upcoming events")
    upcoming = text(driver, "dojo-upcoming")
    assert "Scratch Saturday" in upcoming and "Nobody yet" in upcoming
    assert text(driver, "dojo-net-tickets") == "16"
    assert text(driver, "dojo-no-shows") == "2"
    assert "Python past" in text(driver, "dojo-attendance")
    assert "67%" in text(driver, "dojo-attendance")  # 4 of 6 booked places came
    assert "Saturday's Scratch Saturday is 90 % full" in text(driver, "dojo-notices")
    assert "not learned yet" in text(driver, "dojo-forecast-error")
    assert HOSTILE in text(driver, "dojo-resources")  # shown as text, never as markup
    assert driver.execute_script("return window.pwned") is None
    wait_for(lambda: "weekly-2026-11-23.eml" in text(driver, "dojo-reports"), "the kept reports")
    for width, height in (DESKTOP, PHONE):
        resize(driver, width, height)
        assert_fits(driver, f"the dojo tab at {width} px")
        shoot(driver, tmp_path, f"dojo-{width}x{height}")
    Select(driver.find_element(By.ID, "range")).select_by_value("7d")
    wait_for(lambda: driver.find_element(By.ID, "history-dojo").is_displayed(), "past-range cards")
    wait_for(lambda: "nothing stored" in text(driver, "history-dojo").lower(), "the empty cards")
    assert "registrations" in text(driver, "history-dojo").lower()
    assert severe_errors(driver) == []
