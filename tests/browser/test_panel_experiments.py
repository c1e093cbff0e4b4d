"""The Experiments tab in Chromium: figures from the worker's snapshot, live and safe."""

from __future__ import annotations

import copy
import time
from typing import Any

from stream.content.messages import Outbox
from stream.content.service import ContentService
from stream.settings import Settings
from stream.store import open_store
from tests.browser.panel_page import (
    PHONE,
    XSS,
    assert_fits,
    log_in,
    publish,
    resize,
    severe_errors,
    text,
    wait_for,
)
from tests.unit.test_experiments_state import NOW, _fold


def test_the_tab_shows_each_experiment_and_follows_updates(
    browser: Any, feed: Any, token: str
) -> None:
    from selenium.webdriver.common.by import By

    driver, rdb = browser, feed.redis
    snapshot = _fold(experiments=True).snapshot(NOW)
    now = int(time.time() * 1000)
    publish(rdb, "experiments", snapshot, now)
    log_in(driver, feed.url + "/", token)
    driver.find_element(By.CSS_SELECTOR, '.tabs [data-tab="experiments"]').click()
    card = '#experiments-list [data-experiment="cta_colour"]'
    wait_for(lambda: driver.find_element(By.CSS_SELECTOR, card).is_displayed(), "the card")
    assert driver.find_element(By.ID, "view-experiments").is_displayed()
    assert not driver.find_element(By.ID, "view-live").is_displayed()
    cta = snapshot["experiments"][0]
    shown = driver.find_element(By.CSS_SELECTOR, card)
    assert cta["decision"] in shown.text
    assert "blue (control)" in shown.text and "orange" in shown.text
    assert "SRM: split as planned" in shown.text
    bands = shown.find_elements(By.CSS_SELECTOR, ".exp-band .exp-range")
    assert len(bands) == 1  # one treatment: one interval
    wide = bands[0].size["width"]

    # More units: the numbers and the decision move, the interval narrows (a live update).
    later = copy.deepcopy(snapshot)
    row = later["experiments"][0]["variants"][1]
    row["units"] = 5000
    row["vs_control"] |= {"low": 0.01, "high": 0.02, "difference": 0.015}
    later["experiments"][0] |= {"status": "winner", "decision": "orange is better: +1.5 points"}
    publish(rdb, "experiments", later, now + 1000)
    wait_for(lambda: "orange is better" in text(driver, "experiments-list"), "the update")
    assert "5,000" in text(driver, "experiments-list")
    band = driver.find_element(By.CSS_SELECTOR, f"{card} .exp-range")
    assert "exp-above" in band.get_attribute("class")
    assert band.size["width"] < wide
    assert "exp-good" in driver.find_element(
        By.CSS_SELECTOR, f"{card} .exp-decision"
    ).get_attribute("class")

    # Controls change the definition through the content API: without one, it says so.
    driver.find_element(By.CSS_SELECTOR, f'{card} button[data-action="pause"]').click()
    wait_for(lambda: "definition" in text(driver, "experiments-list"), "the control's note")
    assert severe_errors(driver) == [] or all(
        "api/admin/content" in e for e in severe_errors(driver)
    )
    resize(driver, *PHONE)
    assert_fits(driver, "the experiments tab on a phone")


def test_pause_and_ramp_change_the_published_definition(
    browser: Any, feed: Any, token: str, settings: Settings
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    engine = open_store(settings)
    service = ContentService(engine, Outbox())
    fields = {"key": "cta_colour", "title": "Button", "variants": "blue: 50, orange: 50",
              "unit": "visitor", "primary": "goal:newsletter", "status": "running"}  # fmt: skip
    service.create("experiment", fields, "admin", "")
    service.publish("experiment:cta_colour")
    publish(
        feed.redis, "experiments", _fold(experiments=True).snapshot(NOW), int(time.time() * 1000)
    )
    log_in(browser, feed.url + "/", token)
    browser.find_element(By.CSS_SELECTOR, '.tabs [data-tab="experiments"]').click()
    card = '#experiments-list [data-experiment="cta_colour"]'
    wait_for(lambda: browser.find_element(By.CSS_SELECTOR, card).is_displayed(), "the card")
    browser.find_element(By.CSS_SELECTOR, f'{card} button[data-action="pause"]').click()
    wait_for(lambda: "saved and published" in text(browser, "experiments-list"), "the pause")
    assert service.get("experiment:cta_colour")["fields"]["status"] == "paused"
    Select(browser.find_element(By.CSS_SELECTOR, f"{card} select")).select_by_value("25")
    wait_for(
        lambda: service.get("experiment:cta_colour")["fields"].get("traffic") == 25, "the ramp"
    )
    live = service.get("experiment:cta_colour")
    assert live["live_revision"] == live["revision"] == 3
    engine.dispose()


def test_names_from_events_are_shown_as_text_never_run(browser: Any, feed: Any, token: str) -> None:
    from selenium.webdriver.common.by import By

    driver, rdb = browser, feed.redis
    hostile = {"experiments": [{
        "key": "x", "status": XSS, "decision": XSS, "primary": XSS, "running": True,
        "variants": [{"name": XSS, "units": "many", "rate": None},
                     {"name": "b", "units": 5, "vs_control": {"low": "a", "high": None}}],
        "srm": {"mismatch": True, "p_value": "z"}, "guardrails": [{"detail": XSS}, 5, None],
    }, {"key": 7}, None, "text"]}  # fmt: skip
    publish(rdb, "experiments", hostile, int(time.time() * 1000))
    log_in(driver, feed.url + "/", token)
    driver.find_element(By.CSS_SELECTOR, '.tabs [data-tab="experiments"]').click()
    wait_for(lambda: XSS in text(driver, "experiments-list"), "the hostile card as text")
    assert driver.execute_script("return window.__xss === undefined")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#experiments-list .exp-card")) == 1
