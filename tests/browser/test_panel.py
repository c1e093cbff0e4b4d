"""The admin panel in a real headless Chromium, fed through the real Redis."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis

from tests.browser.panel_page import (
    KEYS,
    OUTPUT,
    XSS,
    log_in,
    publish,
    screenshot,
    severe_errors,
    text,
    wait_for,
)

pytestmark = pytest.mark.browser

MINUTE_MS = 60_000


def seed(rdb: redis.Redis, now: int) -> None:
    start = now - now % MINUTE_MS - 29 * MINUTE_MS
    views = [18, 22, 19, 25, 31, 28, 35, 41, 38, 44, 40, 47, 52, 49, 55,
             61, 58, 54, 63, 70, 66, 72, 69, 75, 81, 77, 73, 80, 86, 84]  # fmt: skip
    publish(rdb, "traffic", {
        "active_visitors": 12,
        "views_per_minute": [[start + i * MINUTE_MS, v] for i, v in enumerate(views)],
        "last_5m": {"views": 400, "visitors": 61, "sessions": 70},
        "last_hour": {"views": 2890, "visitors": 402, "sessions": 455},
        "today": {"views": 9120, "visitors": 1203, "sessions": 1388, "bounce_rate": 0.34},
        "top_pages": [
            {"url": "/", "views": 812}, {"url": "/events/spring-hackathon", "views": 455},
            {"url": "/learn/scratch-basics", "views": 301},
            {"url": "/learn/python-turtle", "views": 188},
            {"url": "/register", "views": 143}, {"url": "/about", "views": 77},
        ],
        "entry_pages": [{"url": "/", "sessions": 600}],
        "referrers": [
            {"host": "www.google.com", "sessions": 420},
            {"host": "school.example", "sessions": 133},
            {"host": "duckduckgo.com", "sessions": 61}, {"host": "t.co", "sessions": 20},
        ],
        "devices": {"mobile": 540, "tablet": 110, "desktop": 738},
        "late": 3,
    }, now)  # fmt: skip
    publish(rdb, "forms", {"forms": [
        {"form_id": "event-registration", "starts": 210, "submits": 164, "abandons": 46,
         "completion_rate": 0.78, "median_ms": 48_000, "p90_ms": 120_000,
         "dropoff_field": "parent_phone", "fields": {}},
        {"form_id": "newsletter", "starts": 95, "submits": 88, "abandons": 7,
         "completion_rate": 0.93, "median_ms": 9_500, "p90_ms": 21_000,
         "dropoff_field": None, "fields": {}},
        {"form_id": "volunteer-signup", "starts": 31, "submits": 14, "abandons": 17,
         "completion_rate": 0.45, "median_ms": 131_000, "p90_ms": 300_000,
         "dropoff_field": "dbs_number", "fields": {}},
    ]}, now)  # fmt: skip

    def vital(p75: float, good: float, ni: float, n: int) -> dict[str, float]:
        return {"p50": p75 * 0.7, "p75": p75, "p95": p75 * 1.8, "good": good, "ni": ni,
                "poor": round(1 - good - ni, 3), "n": n}  # fmt: skip

    publish(rdb, "vitals", {"site": {
        "LCP": vital(2140, 0.79, 0.15, 812), "INP": vital(240, 0.68, 0.25, 640),
        "CLS": vital(0.04, 0.91, 0.06, 812), "TTFB": vital(1950, 0.41, 0.37, 812),
        "FCP": vital(1320, 0.86, 0.1, 812),
    }, "pages": []}, now)  # fmt: skip
    kinds = [("page_view", "/learn/scratch-basics", "Scratch basics", "mobile"),
             ("form_start", "/register", None, "desktop"),
             ("page_view", "/events/spring-hackathon", "Spring hackathon", "desktop"),
             ("click", "/", None, "tablet"), ("form_submit", "/register", None, "desktop"),
             ("page_view", "/", "DD Coder Dojo", "mobile")]  # fmt: skip
    events = [
        {"ts": now - (len(kinds) - i) * 4000, "type": t, "url": u, "title": title,
         "device": d, "visitor": f"a{i}f3c9"}
        for i, (t, u, title, d) in enumerate(kinds)
    ]  # fmt: skip
    publish(rdb, "activity", {"events": events}, now)
    publish(rdb, "pipeline", {"valid": 18_420, "dead_lettered": 37,
                              "reasons": {"schema": 21, "bot": 12, "duplicate": 4},
                              "events_per_s": 6.4}, now)  # fmt: skip


def test_panel_logs_in_renders_updates_and_never_runs_event_html(
    browser: Any, feed: Any, token: str
) -> None:
    from selenium.webdriver.common.by import By

    driver, rdb, panel_url = browser, feed.redis, feed.url
    now = int(time.time() * 1000)
    seed(rdb, now)
    driver.get(panel_url + "/")

    # No cookie yet: the feed refuses the socket and the panel asks for the token.
    wait_for(lambda: driver.find_element(By.ID, "login").is_displayed(), "the login form")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#login button").click()

    wait_for(lambda: text(driver, "conn-text") == "connected", "the live connection")
    wait_for(lambda: text(driver, "active-visitors") == "12", "the traffic snapshot")
    wait_for(lambda: text(driver, "pipeline-valid") == "18,420", "the pipeline snapshot")
    assert "event-registration" in text(driver, "forms")
    assert "parent_phone" in text(driver, "forms")
    assert "/events/spring-hackathon" in text(driver, "top-pages")

    lcp = driver.find_element(By.CSS_SELECTOR, '#vitals [data-metric="LCP"]')
    ttfb = driver.find_element(By.CSS_SELECTOR, '#vitals [data-metric="TTFB"]')
    assert "rating-good" in lcp.get_attribute("class")
    assert "rating-poor" in ttfb.get_attribute("class")  # 1950 ms > 1800 ms

    publish(rdb, "traffic", {"active_visitors": 37, "views_per_minute": []}, now + 1000)
    wait_for(lambda: text(driver, "active-visitors") == "37", "a traffic update")
    publish(rdb, "pipeline", {"valid": 18_500, "dead_lettered": 38, "reasons": {},
                              "events_per_s": 7.0}, now + 1000)  # fmt: skip
    wait_for(lambda: text(driver, "pipeline-dlq") == "38", "a pipeline update")

    hostile = {"ts": now + 2000, "type": "page_view", "url": f"/search?q={XSS}",
               "title": XSS, "device": "desktop", "visitor": "b7e1d0"}  # fmt: skip
    publish(rdb, "activity", {"events": [hostile]}, now + 2000)
    wait_for(lambda: XSS in text(driver, "activity"), "the hostile event as text")
    assert driver.find_elements(By.CSS_SELECTOR, "#activity img") == []
    assert driver.execute_script("return typeof window.__xss") == "undefined"

    # Put the full seed back so the screenshot shows a realistic panel.
    seed(rdb, now + 3000)
    publish(rdb, "activity", {"events": [hostile]}, now + 3000)
    wait_for(lambda: text(driver, "active-visitors") == "12", "the reseeded traffic")
    # Screenshot the layout an admin sees on a 1280x800 screen.
    screenshot(driver, "panel")
    # The refused first socket (no cookie yet) is expected; nothing else may fail.
    assert severe_errors(driver) == []


def test_panel_reports_a_refused_login(browser: Any, feed: Any) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(feed.url + "/?login=failed")
    wait_for(lambda: driver.find_element(By.ID, "login-failed").is_displayed(), "the failure note")
    assert not driver.find_element(By.ID, "panel").is_displayed()


def check_in(rdb: redis.Redis, agent: str) -> None:
    """What a running worker's agent does about once a second (``stream.runtime.progress``)."""
    from redis.asyncio import Redis

    from stream.runtime.progress import Progress

    url = "redis://{host}:{port}/{db}".format(**rdb.connection_pool.connection_kwargs)

    async def write() -> None:
        client = Redis.from_url(url)
        await Progress(client, KEYS, agent).flush(force=True)
        await client.aclose()

    asyncio.run(write())


def test_the_worker_banner_shows_only_while_the_worker_is_down_and_fits_a_phone(
    browser: Any, feed: Any, token: str
) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    log_in(driver, feed.url + "/", token)
    banner = driver.find_element(By.ID, "worker-banner")
    # No agent ever checked in: the worker is not running.
    wait_for(banner.is_displayed, "the worker banner")
    assert text(driver, "worker-headline") == "Worker not running"

    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )
    wait_for(lambda: driver.execute_script("return window.innerWidth") == 390, "the phone width")
    right = driver.execute_script(
        "return document.getElementById('worker-banner').getBoundingClientRect().right"
    )
    assert right <= 390
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
    OUTPUT.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(OUTPUT / "panel-phone-worker-down.png"))

    said = driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        import("/static/worker.js").then((m) => done([
          m.describe({worker: "stale", behind_s: 185, lag: 1234}),
          m.describe({worker: "stale", behind_s: 3, lag: 0, silent: ["learn_online", 7]}),
          m.describe({worker: "not running", lag: 1, last_seen_s: 30}),
          m.describe({worker: "ok", kafka: "unreachable", lag: null}),
          m.describe({worker: "ok", kafka: "ok", lag: 0}),
          m.describe({worker: "stale", behind_s: "<img src=x>", lag: "9"}),
        ]));"""
    )
    assert said == [
        ["3 minutes behind", "(lag 1,234 events)"],
        ["Worker partly stopped", "not running: learn_online"],
        ["Worker not running", "lag 1 event · last seen 30 s ago"],
        ["Lag unknown", "Kafka unreachable from the live feed"],
        None,
        ["Worker partly stopped", ""],
    ]

    check_in(feed.redis, "count_traffic")  # the worker is back
    wait_for(lambda: not banner.is_displayed(), "the banner to go", timeout=15)
    assert severe_errors(driver) == []
