"""Driving the panel page: publish like an agent, wait on the browser, log in, read text."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import redis

from stream.models.keys import Keys
from stream.settings import Settings

XSS = '<img src=x onerror="window.__xss=1">'
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
KEYS = Keys.of(Settings())  # the test settings keep the default namespace


def publish(rdb: redis.Redis, channel: str, data: Any, ts: int) -> None:
    """Store a channel snapshot and publish it, as a metric agent does."""
    body = orjson.dumps({"channel": channel, "data": data, "ts": ts})
    rdb.set(KEYS.snapshot(channel), body)
    rdb.publish(KEYS.live(channel), body)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` at the deadline."""
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )

    def holds() -> bool:
        # A page being replaced (the login form posts and the panel loads anew) can hand
        # back an element of the old page: that is "not yet", not a failure. Chromium says
        # so either as a stale element or as a node that "does not belong to the document".
        try:
            return check()
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return False
            raise

    deadline = time.monotonic() + timeout
    while not holds():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling the browser, not standing in for synchronisation


def text(driver: Any, element_id: str) -> str:
    """The visible text of the element with ``element_id``."""
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, element_id).text)


def log_in(driver: Any, url: str, token: str) -> None:
    """Open the panel at ``url``, give the token and wait for the live connection."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    wait_for(lambda: driver.find_element(By.ID, "login").is_displayed(), "the login form")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#login button").click()
    wait_for(lambda: text(driver, "conn-text") == "connected", "the live connection")


def severe_errors(driver: Any) -> list[str]:
    """Browser console errors and CSP reports, except the refused pre-login socket."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if (entry["level"] == "SEVERE" or "Content Security Policy" in entry["message"])
        and "ws/live" not in entry["message"]
    ]


def screenshot(driver: Any, name: str, height: int = 800) -> Path:
    """Save a 1280-wide screenshot to ``test-output/<name>.png``."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / f"{name}.png"
    assert driver.save_screenshot(str(path))
    return path
