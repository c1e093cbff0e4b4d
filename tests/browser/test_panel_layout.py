"""Every tab at 1280 x 800 and at 390 x 844: nothing wider than the screen, controls reachable."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.panel_page import (
    DESKTOP,
    PHONE,
    assert_fits,
    log_in,
    publish,
    reachable,
    resize,
    severe_errors,
    shoot,
    text,
    wait_for,
)
from tests.browser.test_insights import seed as seed_insights
from tests.browser.test_panel import seed as seed_overview

pytestmark = pytest.mark.browser

# Each tab, and a text that shows its live numbers arrived.
TABS = {"live": ("active-visitors", "12"), "insights": ("heatmap-clicks", "410"),
        "learning": ("auc-model", "0.812")}  # fmt: skip

# The rendered size of the Sankey's 12 px labels: the drawing is scaled by this much.
SANKEY_SCALE = """
const svg = document.getElementById('journeys-sankey');
return svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
"""


def css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def shown(driver: Any, selector: str) -> bool:
    return bool(css(driver, selector)[0].is_displayed())


def rect(driver: Any, element_id: str) -> dict[str, float]:
    script = "return document.getElementById(arguments[0]).getBoundingClientRect().toJSON()"
    return dict(driver.execute_script(script, element_id))


def test_every_tab_fits_a_desktop_and_a_phone(
    browser: Any, feed: Any, token: str, tmp_path: Path
) -> None:
    driver, rdb = browser, feed.redis
    now = int(time.time() * 1000)
    seed_overview(rdb, now)
    seed_insights(rdb, now)
    log_in(driver, feed.url + "/", token)

    for width, height in (DESKTOP, PHONE):
        resize(driver, width, height)
        for tab, (element_id, shows) in TABS.items():
            css(driver, f'.tabs [data-tab="{tab}"]')[0].click()  # fails if anything covers it
            wait_for(lambda: shown(driver, f"#view-{tab}"), f"the {tab} tab")
            wait_for(lambda: text(driver, element_id) == shows, f"the {tab} numbers")
            assert_fits(driver, f"the {tab} tab at {width} px")
            shoot(driver, tmp_path, f"{tab}-{width}x{height}")
            # Tables scroll inside their card, which stays within the window.
            for wrap in css(driver, f"#view-{tab} .table-wrap"):
                assert wrap.value_of_css_property("overflow-x") == "auto"
                assert wrap.rect["x"] + wrap.rect["width"] <= width
            if tab == "insights":
                # The Sankey is drawn at the card's width: its 12 px labels are not shrunk,
                # and the heatmap's page is scaled to fit its card, still big enough to read.
                assert driver.execute_script(SANKEY_SCALE) >= 0.9
                heatmap = rect(driver, "heatmap-box")
                assert heatmap["right"] <= width and heatmap["width"] >= 150

    # The phone's header: the range picker, every tab and sign-out are on screen, uncovered.
    controls = [css(driver, "#range")[0], *css(driver, ".tabs [data-tab]"),
                css(driver, ".logout button")[0]]  # fmt: skip
    for control in controls:
        assert reachable(driver, control), control.get_attribute("outerHTML")
    from selenium.webdriver.support.ui import Select

    Select(controls[0]).select_by_value("today")
    wait_for(lambda: shown(driver, "#history-learning"), "the past-range cards")
    Select(controls[0]).select_by_value("live")
    wait_for(lambda: shown(driver, "#view-learning"), "live again")
    controls[-1].click()
    wait_for(lambda: shown(driver, "#login"), "the sign-in form after sign-out")
    assert severe_errors(driver) == []


def test_learning_says_not_learned_yet_before_any_session_is_labelled(
    browser: Any, feed: Any, token: str
) -> None:
    driver, rdb = browser, feed.redis
    now = int(time.time() * 1000)
    # A converted session reads p_convert 1.0 while nothing was learned: the bug of issue 12.
    sessions = [{"session": "s-conv01", "score": 88.0, "p_convert": 1.0},
                {"session": "s-other2", "score": 41.0, "p_convert": 0.5}]  # fmt: skip
    quality = {"auc": None, "logloss": None, "baseline_auc": None, "baseline_logloss": None}
    engagement = {"score_histogram": [0, 1, 0, 0, 1, 0, 0, 0, 1, 0], "active_sessions": sessions}
    publish(rdb, "engagement", {**engagement, "quality": {**quality, "n": 0}}, now)
    log_in(driver, feed.url + "/", token)
    css(driver, '.tabs [data-tab="learning"]')[0].click()

    wait_for(lambda: "s-conv01" in text(driver, "active-sessions"), "the active sessions")
    assert text(driver, "p-convert-note") == "P(convert): not learned yet: 0 labelled sessions"
    cells = [c.text for c in css(driver, "#active-sessions .p-convert")]
    assert cells == ["not learned yet", "not learned yet"]
    assert "%" not in text(driver, "active-sessions")

    # Whatever ``n`` holds that is not a positive count is "nothing learned" too.
    for n in (None, "7", -3, [], {"n": 1}, True):
        publish(rdb, "engagement", {**engagement, "quality": {**quality, "n": n}}, now)
        wait_for(lambda: shown(driver, "#p-convert-note"), f"the note for {n!r}")
        assert "%" not in text(driver, "active-sessions")
    publish(rdb, "engagement", {"active_sessions": sessions}, now)  # no quality at all
    wait_for(lambda: shown(driver, "#p-convert-note"), "the note, no quality")

    # Once sessions are labelled, the model's numbers are shown.
    learned = [{**sessions[0], "p_convert": 0.62}, sessions[1]]
    publish(rdb, "engagement", {"active_sessions": learned, "quality": {**quality, "n": 3}}, now)
    wait_for(lambda: "62%" in text(driver, "active-sessions"), "the learned P(convert)")
    assert not css(driver, "#p-convert-note")[0].is_displayed()
    assert [c.text for c in css(driver, "#active-sessions .p-convert")] == ["62%", "50%"]
    assert severe_errors(driver) == []
