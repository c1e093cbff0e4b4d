"""The Insights and Learning views in a real headless Chromium, fed through the real Redis."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from tests.browser.panel_page import (
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
CLICKED = (4, 13)  # (row, column) of the hottest heatmap cell
EMPTY = (17, 2)  # a cell nobody clicked, far from every marker


def steps(counts: list[int], gaps: list[float | None]) -> list[dict[str, Any]]:
    names = ["home", "events_list", "event_detail", "form_started", "form_submitted"]
    return [
        {"name": name, "sessions": n,
         "conversion": None if i == 0 else round(n / counts[i - 1], 4),
         "median_ms_from_prev": gaps[i]}
        for i, (name, n) in enumerate(zip(names, counts, strict=True))
    ]  # fmt: skip


def grid() -> list[list[int]]:
    cells = [[0] * 20 for _ in range(20)]
    for r, c, n in [(4, 13, 60), (4, 12, 25), (5, 13, 20), (2, 2, 14), (10, 6, 9), (11, 7, 5),
                    (12, 15, 7), (6, 4, 3)]:  # fmt: skip
        cells[r][c] = n
    return cells


def heat_page(url: str, viewport: str, clicks: int, views: int) -> dict[str, Any]:
    return {"url": url, "viewport": viewport, "clicks": clicks, "views": views, "grid": grid(),
            "scroll_reach": {"25": 0.96, "50": 0.71, "75": 0.44, "100": 0.18},
            "rage_clicks": 9, "dead_clicks": 6,
            "rage": [{"x": 0.675, "y": 0.225, "count": 7},
                     {"x": 0.325, "y": 0.525, "count": 2}],
            "dead": [{"x": 0.775, "y": 0.625, "count": 4},
                     {"x": 0.125, "y": 0.125, "count": 2}]}  # fmt: skip


def seed(rdb: redis.Redis, now: int) -> None:
    by_device = {
        "mobile": {"steps": steps([520, 300, 210, 60, 41], [None, 9_000, 15_000, 52_000, 9e4]),
                   "overall_conversion": 41 / 520, "biggest_dropoff_step": "events_list"},
        "desktop": {"steps": steps([610, 410, 330, 170, 138], [None, 6_000, 11_000, 3e4, 6e4]),
                    "overall_conversion": 138 / 610, "biggest_dropoff_step": "form_started"},
    }  # fmt: skip
    publish(rdb, "funnels", {"funnels": [{
        "name": "registration", "window_ms": 30 * MINUTE_MS,
        "steps": steps([1240, 760, 580, 250, 192], [None, 7_400, 12_800, 41_000, 74_000]),
        "overall_conversion": 192 / 1240, "biggest_dropoff_step": "events_list",
        "by_device": by_device, "last_hour": {"steps": []},
    }]}, now)  # fmt: skip
    transitions = [("/", "/events", 410), ("/events", "/events/robot-rally", 260),
                   ("/", "/learn", 220), ("/learn", "/learn/scratch-basics", 150),
                   ("/events/robot-rally", "/register", 120),
                   ("/events", "/events/spring-hackathon", 95),
                   ("/learn/scratch-basics", "/learn/python-turtle", 60), ("/events", "/", 80),
                   ("/register", "/events", 30), ("/about", "/events", 40), ("/", "/about", 55),
                   (f"/search?q={XSS}", "/events", 12)]  # fmt: skip
    publish(rdb, "journeys", {
        "transitions": [{"from": a, "to": b, "count": n} for a, b, n in transitions],
        "entries": [{"url": "/", "sessions": 780}, {"url": "/learn", "sessions": 160},
                    {"url": "/events/robot-rally", "sessions": 90}],
        "exits": [{"url": "/register", "sessions": 140}],
        "paths": [{"path": "/ > /events > /events/robot-rally > /register", "sessions": 96},
                  {"path": "/ > /learn > /learn/scratch-basics", "sessions": 71},
                  {"path": "/", "sessions": 64}],
        "loops": [{"pages": ["/events", "/", "/events"], "count": 38}],
        "avg_path_length": 3.4, "sessions_ended": 1180, "overflow": {"transitions": 3},
        "live_sessions": 46, "last_hour": {},
    }, now)  # fmt: skip
    publish(rdb, "heatmaps", {"pages": [
        heat_page("/events", "desktop", 410, 980), heat_page("/events", "mobile", 300, 1200),
        heat_page(f"/search?q={XSS}", "mobile", 12, 40),
    ], "total_clicks": 722}, now)  # fmt: skip
    publish(rdb, "alerts", {"alerts": [
        {"kind": "spike", "minute": now - 5 * MINUTE_MS, "metric": "views", "value": 240,
         "expected": 61.5, "ratio": 3.902, "reason": "views 3.9 times the usual for Tuesday 18:00",
         "score": 5.1},
        {"kind": "drop", "minute": now - 2 * MINUTE_MS, "metric": "sessions", "value": 4,
         "expected": 21.0, "ratio": 0.19, "reason": f"sessions down to 19% {XSS}", "score": 4.2},
    ]}, now)  # fmt: skip
    start = now - 30 * MINUTE_MS
    publish(rdb, "engagement", {
        "score_histogram": [40, 71, 88, 64, 52, 33, 21, 12, 6, 2],
        "active_sessions": [{"session": "s-7f3e91", "score": 86.0, "p_convert": 0.62},
                            {"session": "s-19ab02", "score": 71.5, "p_convert": 0.41},
                            {"session": "s-c0ffee", "score": 44.0, "p_convert": 0.12}],
        "quality": {"auc": 0.8123, "logloss": 0.3811, "baseline_auc": 0.7012,
                    "baseline_logloss": 0.4702, "n": 1834},
        "quality_over_time": [[start + i * MINUTE_MS, 0.7 + 0.11 * (1 - 0.9**i)]
                              for i in range(30)],
    }, now)  # fmt: skip
    publish(rdb, "recommendations", {
        "hit_rate_at_5": 0.342, "baseline_hit_rate_at_5": 0.211, "n": 912, "items": 37,
        "top_items": ["event:robot-rally", {"item": "resource:scratch-cards", "score": 0.91,
                                            "reason": "popular right now"}],
    }, now)  # fmt: skip
    publish(rdb, "segments", {"segments": [
        {"id": 0, "label": "event seeker", "sessions": 412,
         "centroid": {"pages": 4.2, "events_share": 0.71, "dwell_min": 2.3, "form_starts": 0.4}},
        {"id": 1, "label": "resource learner", "sessions": 260,
         "centroid": {"pages": 6.8, "resources_share": 0.64, "downloads": 1.2}},
        {"id": 2, "label": XSS, "sessions": 3, "centroid": {"pages": 1.0}},
    ]}, now)  # fmt: skip


def css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def shown(driver: Any, selector: str) -> bool:
    return bool(css(driver, selector)[0].is_displayed())


def step_text(driver: Any, step: str, part: str) -> str:
    return str(css(driver, f'#funnels [data-step="{step}"] .{part}')[0].text)


ALPHA_AT = """
const [canvasId, row, col] = arguments;
const canvas = document.getElementById(canvasId);
const cw = canvas.width / 20, ch = canvas.height / 20;
const pixels = canvas.getContext('2d').getImageData(
  Math.floor(col * cw + cw * 0.3), Math.floor(row * ch + ch * 0.3),
  Math.max(1, Math.floor(cw * 0.4)), Math.max(1, Math.floor(ch * 0.4))).data;
let max = 0;
for (let i = 3; i < pixels.length; i += 4) max = Math.max(max, pixels[i]);
return max;
"""


def test_insight_and_learning_views_render_live_numbers_as_text(
    browser: Any, feed: Any, token: str
) -> None:
    driver, rdb = browser, feed.redis
    now = int(time.time() * 1000)
    seed(rdb, now)
    log_in(driver, feed.url + "/", token)

    # Alerts count in the header on any tab; the badge opens the Insights tab.
    wait_for(lambda: text(driver, "alerts-count") == "2", "the alert badge")
    css(driver, "#alerts-badge")[0].click()
    wait_for(lambda: shown(driver, "#view-insights"), "the insights tab")
    assert not css(driver, "#view-live")[0].is_displayed()
    reasons = [e.text for e in css(driver, "#alerts .alert-reason")]
    assert reasons == [f"sessions down to 19% {XSS}", "views 3.9 times the usual for Tuesday 18:00"]

    # Funnels: step counts, step conversion, median gaps, the biggest drop-off.
    wait_for(lambda: bool(css(driver, '#funnels [data-step="events_list"]')), "the funnel")
    assert step_text(driver, "home", "step-sessions") == "1,240"
    assert step_text(driver, "events_list", "step-sessions") == "760"
    assert step_text(driver, "events_list", "step-conv") == "61%"
    assert step_text(driver, "form_started", "step-time") == "41.0 s"
    assert step_text(driver, "form_submitted", "step-time") == "1 min 14 s"
    dropoff = css(driver, "#funnels li.dropoff")
    assert [li.get_attribute("data-step") for li in dropoff] == ["events_list"]
    assert "15% overall" in text(driver, "funnels")
    css(driver, '#funnel-device [data-device="desktop"]')[0].click()
    wait_for(lambda: step_text(driver, "home", "step-sessions") == "610", "desktop funnel")
    assert css(driver, "#funnels li.dropoff")[0].get_attribute("data-step") == "form_started"
    css(driver, '#funnel-device [data-device="tablet"]')[0].click()
    wait_for(lambda: "No tablet sessions yet" in text(driver, "funnels"), "empty tablet funnel")
    css(driver, '#funnel-device [data-device="all"]')[0].click()

    # Journeys: a link per published forward transition, wider for more sessions.
    link = css(driver, '#journeys-sankey path[data-from="/"][data-to="/events"]')
    small = css(driver, '#journeys-sankey path[data-from="/"][data-to="/about"]')
    assert link and small
    assert css(driver, '#journeys-sankey path[data-from="/events"][data-to="/events/robot-rally"]')
    assert float(link[0].get_attribute("stroke-width")) > 4 * float(
        small[0].get_attribute("stroke-width")
    )
    # "/events" -> "/" closes a cycle: it is left out of the diagram, not drawn backwards.
    assert not css(driver, '#journeys-sankey path[data-from="/events"][data-to="/"]')
    assert "/ → /events → /events/robot-rally → /register" in text(driver, "journey-paths")
    assert "/events ⇄ /" in text(driver, "journey-loops")
    assert text(driver, "journeys-live") == "46"
    labels = [t.get_attribute("textContent") for t in css(driver, "#journeys-sankey .node text")]
    assert any(label.startswith("/search?q=<img") for label in labels)

    # Heatmap: the hottest cell is painted, an unclicked one stays clear.
    wait_for(lambda: text(driver, "heatmap-clicks") == "410", "the heatmap of /events")
    assert driver.execute_script(ALPHA_AT, "heatmap-heat", *CLICKED) > 150
    assert driver.execute_script(ALPHA_AT, "heatmap-heat", *EMPTY) == 0
    assert driver.execute_script(ALPHA_AT, "heatmap-page", *EMPTY) == 255  # the wireframe
    reach = [e.text.replace("\n", " ") for e in css(driver, "#heatmap-reach .reach-band")]
    assert reach == ["25% 96%", "50% 71%", "75% 44%", "100% 18%"]
    screenshot(driver, "insights", height=1480)

    from selenium.webdriver.support.ui import Select

    Select(css(driver, "#heatmap-viewport")[0]).select_by_value("mobile")
    wait_for(lambda: text(driver, "heatmap-clicks") == "300", "the mobile heatmap")
    assert driver.execute_script("return document.getElementById('heatmap-heat').style.width") == (
        "200px"
    )
    Select(css(driver, "#heatmap-url")[0]).select_by_value(f"/search?q={XSS}")
    wait_for(lambda: text(driver, "heatmap-title") == f"/search?q={XSS}", "the hostile page")

    # Learning: engagement quality, histogram, recommendations, segments.
    css(driver, '.tabs [data-tab="learning"]')[0].click()
    wait_for(lambda: shown(driver, "#view-learning"), "the learning tab")
    assert text(driver, "auc-model") == "0.812"
    assert text(driver, "auc-baseline") == "0.701"
    assert text(driver, "auc-lift") == "+0.111 vs baseline"
    assert text(driver, "quality-n") == "1,834"
    bars = driver.execute_script(
        "return [...document.querySelectorAll('#score-histogram .hist-bar')]"
        ".map(b => b.getBoundingClientRect().height)"
    )
    assert len(bars) == 10 and max(bars) == bars[2] and bars[2] > 5 * bars[9]
    assert "s-7f3e91" in text(driver, "active-sessions")
    assert css(driver, "#auc-chart canvas")  # uPlot drew the AUC history
    assert text(driver, "rec-hit") == "34%" and text(driver, "rec-baseline") == "21%"
    assert "resource:scratch-cards" in text(driver, "rec-top")
    assert "event seeker" in text(driver, "segments") and XSS in text(driver, "segments")
    screenshot(driver, "learning")

    assert css(driver, "img") == []
    assert driver.execute_script("return typeof window.__xss") == "undefined"
    assert severe_errors(driver) == []


def test_views_show_dashes_while_models_warm_up(browser: Any, feed: Any, token: str) -> None:
    driver, rdb = browser, feed.redis
    now = int(time.time() * 1000)
    publish(rdb, "funnels", {"funnels": [{"name": "registration", "steps": None,
                                          "by_device": None, "unknown": 1}]}, now)  # fmt: skip
    publish(rdb, "journeys", {"transitions": [{"from": "/a", "to": "/b"}], "paths": None}, now)
    publish(rdb, "heatmaps", {"pages": [{"url": "/x", "viewport": "tablet", "grid": None}]}, now)
    publish(rdb, "engagement", {"score_histogram": None, "quality": {"auc": None, "n": 0}}, now)
    publish(rdb, "recommendations", {"hit_rate_at_5": None, "top_items": [None, 3]}, now)
    publish(rdb, "segments", {"segments": [{"id": 1, "centroid": None}]}, now)
    publish(rdb, "alerts", {"alerts": [{"kind": "spike"}]}, now)
    log_in(driver, feed.url + "/", token)
    driver.get(feed.url + "/#insights")  # the fragment picks the tab

    wait_for(lambda: "registration" in text(driver, "funnels"), "the warming-up funnel")
    assert "No sessions yet" in text(driver, "funnels")
    assert "— overall" in text(driver, "funnels")
    wait_for(lambda: text(driver, "heatmap-title") == "/x", "the gridless heatmap")
    assert driver.execute_script(ALPHA_AT, "heatmap-heat", *CLICKED) == 0
    assert text(driver, "journeys-length") == "—"
    assert text(driver, "alerts-count") == "1"
    css(driver, '.tabs [data-tab="learning"]')[0].click()
    wait_for(lambda: text(driver, "quality-n") == "0", "the warming-up engagement")
    assert text(driver, "auc-model") == "—"
    assert text(driver, "rec-hit") == "—"
    assert "—" in text(driver, "segments")
    assert severe_errors(driver) == []


def test_sankey_layout_survives_cycles(browser: Any, feed: Any) -> None:
    driver = browser
    driver.get(feed.url + "/static/favicon.svg")  # same origin, no panel code running
    layout = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        import('/static/journeys.js').then((m) => {
          const t = [{from: '/a', to: '/b', count: 5}, {from: '/b', to: '/a', count: 3},
                     {from: '/b', to: '/c', count: 4}, {from: '/c', to: '/a', count: 2},
                     {from: '/x', to: '/y', count: 1}, {from: '/y', to: '/x', count: 1}];
          const out = m.sankeyLayout(t, ['/a']);
          done({cols: Object.fromEntries(out.nodes.map((n) => [n.name, n.col])),
                links: out.links.map((l) => l.from + '>' + l.to), hidden: out.hidden});
        }, (err) => done({error: String(err)}));
        """
    )
    assert layout == {
        "cols": {"/a": 0, "/b": 1, "/c": 2, "/x": 0, "/y": 1},
        "links": ["/a>/b", "/b>/c", "/x>/y"],
        "hidden": 3,
    }
