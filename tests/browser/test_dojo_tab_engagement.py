"""The Dojo tab's engagement card in Chromium: today's sessions, engaged and same-day returns
from the dojo channel, the score distribution per area from the engagement channel, each
figure explained; hostile snapshots show dashes, never markup or a broken card."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from stream.metrics.dojo import DojoState
from stream.metrics.dojo_board import board
from stream.metrics.dojo_catalogue import Catalogue
from stream.metrics.dojo_forecast import Forecaster
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
from tests.unit.test_dojo_board import NOW

pytestmark = pytest.mark.browser


def page(ts: int, url: str) -> dict[str, Any]:
    return {"type": "page_view", "ts": ts, "url": url, "referrer": "", "props": {}}


def engaged_board() -> dict[str, Any]:
    """Four sessions of two visitors: two engaged (2 pages; 12 s), one of them a return."""
    state = DojoState()
    for sid, vid, events in (
        ("s1", "v1", [page(NOW, "/events/scratch"), page(NOW + 1, "/events")]),
        ("s2", "v1", [page(NOW, "/blog/a")]),
        ("s3", "v2", [page(NOW, "/"), {**page(NOW + 12_000, "/"), "type": "page_leave"}]),
        ("s4", "v3", [page(NOW, "/resources/cards")]),
    ):
        state.apply({"session_id": sid, "visitor_id": vid, "received_at": NOW, "events": events},
                    NOW)  # fmt: skip
    return board(state, Catalogue(), Forecaster(), NOW)


def test_the_engagement_card_explains_each_figure(browser: Any, feed: Any, token: str,
                                                  tmp_path: Path) -> None:  # fmt: skip
    from selenium.webdriver.common.by import By

    driver = browser
    publish(feed.redis, "dojo", engaged_board(), int(time.time() * 1000))
    scores = {"score_histogram": [1] * 10, "active_sessions": [], "quality": {},
              "score_by_area": {"events": [0, 2, 1, 0, 0], "resources": [3, 0, 0, 0, 0],
                                "blog": [1, 0, 0, 0, 0], "info": [0, 0, 0, 0, 4]}}  # fmt: skip
    publish(feed.redis, "engagement", scores, int(time.time() * 1000))
    log_in(driver, feed.url + "/", token)
    driver.find_element(By.CSS_SELECTOR, '.tabs [data-tab="dojo"]').click()
    wait_for(lambda: text(driver, "dojo-eng-sessions") == "4", "today's sessions")
    assert text(driver, "dojo-eng-engaged") == "2 · 50%"
    assert text(driver, "dojo-eng-returning") == "25%"  # v1's second session of 4
    wait_for(lambda: "0 · 2 · 1 · 0 · 0" in text(driver, "dojo-engagement"), "the scores")
    table = text(driver, "dojo-engagement")
    assert "Events 1 100%" in table and "Blog 1 0%" in table and "Info pages 1 100%" in table
    card = driver.find_element(By.CSS_SELECTOR, ".dojo-engagement-card").text
    assert "more than 10 seconds" in card and "visitor ids change every day" in card
    for width, height in (DESKTOP, PHONE):
        resize(driver, width, height)
        assert_fits(driver, f"the engagement card at {width} px")
        shoot(driver, tmp_path, f"dojo-engagement-{width}x{height}")
    hostile = '<img src=x onerror="window.pwned=1">'
    publish(feed.redis, "dojo", {"engagement": {"today": {"sessions": hostile, "engaged": [1],
            "returning_rate": {"x": 1}, "by_area": {"events": hostile, "blog": None}}}},
            int(time.time() * 1000))  # fmt: skip
    publish(feed.redis, "engagement", {"score_by_area": {"events": hostile, "info": [hostile]}},
            int(time.time() * 1000))  # fmt: skip
    wait_for(lambda: text(driver, "dojo-eng-sessions") == "—", "the hostile snapshot")
    assert text(driver, "dojo-eng-engaged") == "—" and text(driver, "dojo-eng-returning") == "—"
    assert hostile not in driver.page_source.split("<body", 1)[1].replace("&lt;", "")
    assert driver.execute_script("return window.pwned") is None
    assert severe_errors(driver) == []


def test_the_funnel_card_shows_each_events_steps(browser: Any, feed: Any, token: str) -> None:
    from selenium.webdriver.common.by import By

    from tests.unit.test_dojo_board import shop

    state, catalogue = shop()
    scratch = next(iter(catalogue.events))
    slug = scratch.split(":", 1)[1]
    booked = {"type": "registration", "ts": NOW, "url": f"/events/{slug}/register",
              "referrer": "", "props": {"dojo_event_id": scratch, "tickets": 1}}  # fmt: skip
    for sid, events in (
        ("a", [page(NOW, f"/events/{slug}"), page(NOW, f"/events/{slug}/register"),
               {**page(NOW, f"/events/{slug}/register"), "type": "form_submit"}, booked]),
        ("b", [page(NOW, f"/events/{slug}"), page(NOW, f"/events/{slug}/register")]),
        ("c", [page(NOW, f"/events/{slug}")]),
        ("d", [page(NOW, f"/events/{slug}")]),
        ("e", [page(NOW, "/events/not-published")]),
    ):  # fmt: skip
        state.apply({"session_id": sid, "visitor_id": sid, "received_at": NOW, "events": events},
                    NOW)  # fmt: skip
    data = board(state, catalogue, Forecaster(), NOW)
    title = catalogue.events[scratch].title
    driver = browser
    publish(feed.redis, "dojo", data, int(time.time() * 1000))
    log_in(driver, feed.url + "/", token)
    driver.find_element(By.CSS_SELECTOR, '.tabs [data-tab="dojo"]').click()
    wait_for(lambda: title in text(driver, "dojo-funnels"), "the funnel")
    row = next(r for r in text(driver, "dojo-funnels").splitlines() if r.startswith(title))
    assert row == f"{title} 4 2 · 50% 1 · 25% 1 · 25%"
    assert "not-published" not in text(driver, "dojo-funnels")
    resize(driver, *PHONE)
    assert_fits(driver, "the funnel card on a phone")
    publish(feed.redis, "dojo", {"funnels": [{"title": '<b onmouseover="x">', "steps": "x"}, 7]},
            int(time.time() * 1000))  # fmt: skip
    wait_for(lambda: '<b onmouseover="x">' in text(driver, "dojo-funnels"), "the hostile row")
    assert severe_errors(driver) == []
