"""The Experiments tab in a past range: units and conversions per variant from the store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from stream.settings import Settings
from stream.sketches.tally import Tally
from stream.store import open_store
from stream.store.history import MinuteRow, write_minutes
from tests.browser.panel_page import (
    DESKTOP,
    PHONE,
    XSS,
    assert_fits,
    log_in,
    resize,
    severe_errors,
    shoot,
    text,
    wait_for,
)

pytestmark = pytest.mark.browser

DAY_MS = 24 * 3_600_000


def seed_store(settings: Settings, today: int) -> None:
    """Seven days of cta_colour (and a hostile name) this week, three the week before."""
    rows = []
    for day in range(14):
        minute = today - (13 - day) * DAY_MS + 10 * 3_600_000
        week = day >= 7
        counts = {
            "cta_colour.blue.units": 40, "cta_colour.blue.conversions": 2,
            "cta_colour.orange.units": 40, "cta_colour.orange.conversions": 4 if week else 2,
            "events_layout.grid.units": 10, "events_layout.list.units": 10,
            f"{XSS}.units": 3, "a.b.c.units": 5, "cta_colour.blue.exposures": 99,
        }  # fmt: skip
        if week or day % 2:
            rows.append(MinuteRow("experiments", minute, day % 2, Tally(counts=counts)))
    engine = open_store(settings)
    try:
        assert write_minutes(engine, rows) == len(rows)
    finally:
        engine.dispose()


def css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def shown(driver: Any, selector: str) -> bool:
    return bool(css(driver, selector)[0].is_displayed())


def headline(driver: Any, name: str) -> tuple[str, str]:
    box = css(driver, f'#history-experiments .headline[data-name="{name}"]')[0]
    value = box.find_elements("css selector", ".value")[0].text
    return value, box.find_elements("css selector", ".change")[0].text


def loaded(driver: Any) -> bool:
    cards = css(driver, "#history-experiments .history-card")
    return bool(cards) and all(c.get_attribute("aria-busy") == "false" for c in cards)


def rows(driver: Any) -> list[list[str]]:
    return [
        [td.text for td in tr.find_elements("css selector", "td")]
        for tr in css(driver, "#history-experiments tbody tr")
    ]


def test_a_past_range_shows_each_variants_units_and_conversions_from_the_store(
    browser: Any, feed: Any, token: str, settings: Settings, tmp_path: Path
) -> None:
    from selenium.webdriver.support.ui import Select

    driver = browser
    now = int(time.time() * 1000)
    seed_store(settings, now - now % DAY_MS)
    log_in(driver, feed.url + "/#experiments", token)
    css(driver, '.tabs [data-tab="experiments"]')[0].click()
    Select(css(driver, "#range")[0]).select_by_value("7d")
    wait_for(lambda: shown(driver, "#history-experiments"), "the past range")
    assert not css(driver, "#view-experiments")[0].is_displayed()
    wait_for(lambda: loaded(driver), "the experiments card")
    # 7 days x (40 + 40 + 10 + 10) units; the previous 7 days held 3 of those days.
    assert headline(driver, "exposed units") == ("700", "+133 % vs the previous 7 days")
    assert headline(driver, "conversions")[0] == "42"
    assert headline(driver, "conversion rate")[0] == "6%"
    body = text(driver, "history-experiments").lower()  # sub-heads are shown in capitals
    assert "cta_colour" in body and "events_layout" in body
    assert ["blue", "280", "14", "5%"] in rows(driver)
    assert ["orange", "280", "28", "10%"] in rows(driver)
    assert ["grid", "70", "0", "0%"] in rows(driver)
    # Names outside the contract (extra dots, other parts) are no variants of any experiment.
    assert not any(r[0] in ("b", "exposures") or r[1] == "99" for r in rows(driver))
    assert driver.execute_script("return typeof window.__xss") == "undefined"
    for size in (DESKTOP, PHONE):
        resize(driver, *size)
        assert_fits(driver, f"the experiments tab, 7 days, at {size[0]} px")
        shoot(driver, tmp_path, f"experiments-7-days-{size[0]}x{size[1]}")

    Select(css(driver, "#range")[0]).select_by_value("live")
    wait_for(lambda: shown(driver, "#view-experiments"), "the live view again")
    assert severe_errors(driver) == []
