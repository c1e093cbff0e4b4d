"""Past ranges in a real Chromium: every tab's cards read /api/history from the real store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from stream.settings import Settings
from stream.sketches.quantiles import Quantiles
from stream.sketches.tally import Tally
from stream.sketches.uniques import Uniques, fingerprint
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

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
TABS = ("live", "insights", "learning")
# What the cards ask for, and the headline numbers of the seeded store for "7 days".
FETCHED = """
return performance.getEntriesByType('resource').map((e) => e.name)
  .filter((name) => name.includes('/api/history/'));
"""
GET = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: 'same-origin'}).then(async (r) => done({
  status: r.status, type: r.headers.get('content-type'),
  disposition: r.headers.get('content-disposition'), body: await r.text()}));
"""


def visitors(names: list[str]) -> Uniques:
    counter = Uniques()
    for name in names:
        counter.add(fingerprint(name))
    return counter


def tally(counts: dict[str, float], **uniques: Uniques) -> Tally:
    return Tally(counts=dict(counts), uniques=dict(uniques))


def seed_store(settings: Settings, today: int) -> None:
    """Fourteen days: the last 7 (this week) and the 7 before (the previous period)."""
    rows = []
    for day in range(14):
        minute = today - (13 - day) * DAY_MS + 10 * HOUR_MS  # 10:00 UTC each day
        week = day >= 7
        # The same ten visitors every day this week: a week's visitors are their union, 10.
        people = visitors([f"{'a' if week else 'b'}{i}" for i in range(10 if week else 8)])
        views = {"views": 118 if week else 100, "sessions_started": 30, "bounces": 12 if week else 15,
                 "pages./events": 70 if week else 40, f"pages./search?q={XSS}": 5}  # fmt: skip
        rows.append(MinuteRow("traffic", minute, 0, tally(views, visitors=people, sessions=people)))
        forms = {"event-registration.starts": 20, "event-registration.submits": 15 if week else 10,
                 f"{XSS}.starts": 1}  # fmt: skip
        rows.append(MinuteRow("forms", minute, 1, tally(forms)))
        rows.append(MinuteRow("pipeline", minute, 0, tally({"accepted": 500, "dead.schema": 3})))
        lcp = Quantiles()
        for ms in (1200, 1800, 2400, 3000) if week else (2400, 3600, 4800, 6000):
            lcp.add(ms)
        rated = {"LCP.good": 2, "LCP.needs": 2, "LCP.poor": 0} if week else {"LCP.poor": 4}
        rows.append(MinuteRow("vitals", minute, 2, Tally(rated, quantiles={"LCP": lcp})))
        rows.append(MinuteRow("learning", minute, 0,
                              tally({"hits": 30 if week else 20, "shown": 100, "labelled": 40})))  # fmt: skip
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


def headline(driver: Any, card: str, name: str) -> tuple[str, str]:
    box = css(driver, f'#history-{card} .headline[data-name="{name}"]')[0]
    return box.find_elements("css selector", ".value")[0].text, box.find_elements(
        "css selector", ".change"
    )[0].text


def pick(driver: Any, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(css(driver, "#range")[0]).select_by_value(value)


def loaded(driver: Any, tab: str) -> bool:
    cards = css(driver, f"#history-{tab} .history-card")
    return bool(cards) and all(c.get_attribute("aria-busy") == "false" for c in cards)


def test_seven_days_come_from_the_store_beside_the_previous_seven(
    browser: Any, feed: Any, token: str, settings: Settings, tmp_path: Path
) -> None:
    driver = browser
    now = int(time.time() * 1000)
    today = now - now % DAY_MS
    seed_store(settings, today)
    log_in(driver, feed.url + "/", token)

    pick(driver, "7d")
    wait_for(lambda: shown(driver, "#history-live"), "the past-range cards")
    assert not css(driver, "#view-live")[0].is_displayed()
    wait_for(lambda: loaded(driver, "live"), "the overview's cards")
    assert text(driver, "range-title") == "7 days"
    assert headline(driver, "traffic", "views") == ("826", "+18 % vs the previous 7 days")
    # Visitors are a union of the days' sketches: 10 people all week, 8 the week before.
    assert headline(driver, "traffic", "visitors") == ("10", "+25 % vs the previous 7 days")
    assert headline(driver, "traffic", "bounce rate") == (
        "40%",
        "\u221220 % vs the previous 7 days",
    )
    assert headline(driver, "forms", "submits")[0] == "105"
    assert headline(driver, "pipeline", "dead-lettered") == ("21", "±0 % vs the previous 7 days")
    # A week's p75 comes from the week's values in the merged sketch, never a mean of days.
    lcp, versus = headline(driver, "vitals", "LCP p75")
    assert lcp in ("2.4 s", "2.5 s") and versus.startswith("\u2212")
    assert "LCP" in text(driver, "history-vitals") and "50%" in text(driver, "history-vitals")
    assert "event-registration" in text(driver, "history-forms")
    assert XSS in text(driver, "history-traffic") and XSS in text(driver, "history-forms")
    assert css(driver, "#history-traffic canvas")  # uPlot drew the week's hours
    fetched = driver.execute_script(FETCHED)
    assert any("/api/history/traffic?" in u and "interval=hour" in u and "compare=previous" in u
               for u in fetched)  # fmt: skip
    for size in (DESKTOP, PHONE):
        resize(driver, *size)
        for tab in TABS:
            css(driver, f'.tabs [data-tab="{tab}"]')[0].click()
            wait_for(lambda: loaded(driver, tab), f"the {tab} cards")
            assert_fits(driver, f"the {tab} tab, 7 days, at {size[0]} px")
            shoot(driver, tmp_path, f"{tab}-7-days-{size[0]}x{size[1]}")
    assert headline(driver, "learning", "hit rate") == ("30%", "+50 % vs the previous 7 days")
    resize(driver, *DESKTOP)
    css(driver, '.tabs [data-tab="live"]')[0].click()

    # The CSV button downloads the same query as CSV.
    link = css(driver, "#history-traffic a.csv")[0]
    href = link.get_attribute("href")
    assert link.get_attribute("download") is not None and "format=csv" in href
    got = driver.execute_async_script(GET, href)
    assert got["status"] == 200 and got["type"].startswith("text/csv")
    assert got["disposition"].startswith('attachment; filename="traffic-hour-')
    lines = got["body"].splitlines()
    assert lines[0].startswith("start,end,") and "views" in lines[0].split(",")
    assert len(lines) == 1 + 7  # a window per day's 10:00 hour
    assert lines[-1].split(",")[1].endswith("T11:00:00Z")
    assert driver.find_elements("css selector", "img") == []
    assert driver.execute_script("return typeof window.__xss") == "undefined"
    assert severe_errors(driver) == []


def test_a_past_range_shows_loading_then_the_apis_error_or_an_empty_period(
    browser: Any, feed: Any, token: str
) -> None:
    driver = browser
    log_in(driver, feed.url + "/", token)

    # A slow network: each card says it is loading until its answer arrives.
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 1500, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    pick(driver, "30d")
    wait_for(lambda: css(driver, "#history-traffic .loading"), "the loading state")
    assert text(driver, "history-traffic").endswith("Loading traffic…")
    assert css(driver, "#history-traffic")[0].get_attribute("aria-busy") == "true"
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    wait_for(lambda: loaded(driver, "live"), "the 30-day cards")
    # An empty store: no rows, and every change against an empty previous period is "—".
    assert "Nothing stored for this range" in text(driver, "history-traffic")
    assert headline(driver, "traffic", "views") == ("0", "— vs the previous 30 days")

    # A custom range the API refuses: every card shows the API's own words.
    pick(driver, "custom")
    driver.execute_script(
        "document.getElementById('range-from').value = '2026-03-10';"
        "document.getElementById('range-to').value = '2026-03-01';"
    )
    css(driver, "#range-custom button")[0].click()
    wait_for(lambda: loaded(driver, "live"), "the refused cards")
    errors = [e.text for e in css(driver, "#history-live .history-error")]
    assert errors == ["from must be before to"] * 4
    driver.execute_script(
        "document.getElementById('range-from').value = '1990-01-01';"
        "document.getElementById('range-to').value = '2026-03-01';"
    )
    css(driver, "#range-custom button")[0].click()
    wait_for(lambda: "5000" in text(driver, "history-live"), "the too-long range refused")
    assert "Custom · 1990-01-01 \u2013 2026-03-01" in text(driver, "history-traffic")

    # Back to live: the WebSocket's cards again.
    pick(driver, "live")
    wait_for(lambda: shown(driver, "#view-live"), "the live cards")
    assert not css(driver, "#history-live")[0].is_displayed()
    assert text(driver, "range-title") == "live activity"
    refused = [m for m in severe_errors(driver) if "/api/history/" not in m]
    assert refused == []  # the 400s above are the only failed loads


RANGES = """
const done = arguments[arguments.length - 1];
Promise.all([import('/static/range.js'), import('/static/history.js')]).then(([r, h]) => {
  const now = Date.UTC(2026, 9, 14, 15, 30);  // Wednesday 14 October 2026, 15:30 UTC
  const pick = (kind, options) => {
    const got = r.rangeOf(kind, now, options);
    return got && [new Date(got.from).toISOString(), new Date(got.to).toISOString(),
                   got.interval, got.versus];
  };
  const term = {start: '2026-09-01', end: '2026-12-20'};
  done({
    live: pick('live'), today: pick('today'), week: pick('7d'), month: pick('30d'),
    term: pick('term', {term}), future: pick('term', {term: {start: '2027-01-05', end: '2027-03-31'}}),
    custom: pick('custom', {from: '2026-10-01', to: '2026-10-01'}),
    hostile: [
      ...[null, 7, '', '2026-02-30', '2026-13-01', '26-10-01', '2026-10-01T00:00', ' 2026-10-01',
          '2026-10-01<img>', '\\uff12\\uff10\\uff12\\uff16-10-01', '9'.repeat(100000), {}, []]
        .map((bad) => pick('custom', {from: bad, to: '2026-10-02'})),
      pick('term', {term: null}), pick('term', {term: {start: 1, end: true}}),
      pick('term', {term: {start: '2026-09-01'}}), pick('nonsense'), pick('__proto__'),
    ],
    intervals: [r.intervalFor(0, 6 * 3600e3), r.intervalFor(0, 6 * 3600e3 + 1),
                r.intervalFor(0, 14 * 86400e3), r.intervalFor(0, 14 * 86400e3 + 1)],
    changes: [0.18, -0.04, 0, 0.004, -0.004, null, undefined, NaN, Infinity, '0.5', 12.345]
      .map(h.changeText),
    csv: r.historyUrl('traffic', r.rangeOf('7d', now), true),
    json: r.historyUrl('a/b?c', r.rangeOf('7d', now)),
  });
}, (err) => done({error: String(err)}));
"""

HOSTILE_BODIES = """
const done = arguments[arguments.length - 1];
import('/static/history_cards.js').then((m) => {
  const bodies = [{}, {total: null}, {total: []}, {total: 'x'}, {total: {views: '12', 'pages.': {},
    'a.starts': null, '.0': 5, 'f.x': 1, 'LCP.p75': 'slow', 'dead.': -1, __proto__: {views: 9}}},
    {total: {'f.0': 10, 'f.99999999': 1, 'f.-1': 3, 'g.0': 0, 'g.1': 4}, rows: 'no'}];
  const out = [];
  for (const cards of Object.values(m.CARDS)) for (const card of cards) for (const body of bodies) {
    const heads = card.headlines(body, new Map()).map((h) => [h.label, h.format(h.value(body.total ?? {}))]);
    const table = (card.table ? card.table(body, new Map()) : []).map((n) => n.textContent);
    out.push([card.id, heads, table.join(' | ')]);
  }
  done(out);
}, (err) => done({error: String(err)}));
"""


def test_range_arithmetic_and_hostile_inputs(browser: Any, feed: Any) -> None:
    driver = browser
    driver.get(feed.url + "/static/favicon.svg")  # same origin, no panel code running
    got = driver.execute_async_script(RANGES)
    assert got["live"] is None
    assert got["today"] == ["2026-10-14T00:00:00.000Z", "2026-10-15T00:00:00.000Z", "hour",
                            "yesterday"]  # fmt: skip
    assert got["week"] == ["2026-10-08T00:00:00.000Z", "2026-10-15T00:00:00.000Z", "hour",
                           "the previous 7 days"]  # fmt: skip
    assert got["month"] == ["2026-09-15T00:00:00.000Z", "2026-10-15T00:00:00.000Z", "day",
                            "the previous 30 days"]  # fmt: skip
    # This term so far, compared with as many days before it.
    assert got["term"] == ["2026-09-01T00:00:00.000Z", "2026-10-15T00:00:00.000Z", "day",
                           "the previous 44 days"]  # fmt: skip
    assert got["future"][:2] == ["2027-01-05T00:00:00.000Z", "2027-04-01T00:00:00.000Z"]
    assert got["custom"] == ["2026-10-01T00:00:00.000Z", "2026-10-02T00:00:00.000Z", "hour",
                             "the previous day"]  # fmt: skip
    assert got["hostile"] == [None] * 18
    assert got["intervals"] == ["minute", "hour", "hour", "day"]
    assert got["changes"] == ["+18 %", "\u22124 %", "±0 %", "±0 %", "±0 %", "—", "—", "—", "—", "—",
                              "+1,235 %"]  # fmt: skip
    assert got["csv"].startswith("/api/history/traffic?from=1791417600000&to=1792022400000")
    assert got["csv"].endswith("&interval=hour&format=csv") and "compare" not in got["csv"]
    assert got["json"].startswith("/api/history/a%2Fb%3Fc?")
    assert got["json"].endswith("&compare=previous")

    shown = driver.execute_async_script(HOSTILE_BODIES)
    assert isinstance(shown, list), shown
    cards = {card for card, _, _ in shown}
    # Six hostile bodies each for every card with history (the dojo and experiment tabs too).
    assert len(cards) >= 8 and len(shown) == 6 * len(cards), shown
    by_card = {card: [] for card, _, _ in shown}
    for card, heads, table in shown:
        by_card[card].append((heads, table))
    # Strings, nulls and inherited names are no numbers: "0" or "—", never "NaN" or "12".
    assert all("NaN" not in str(v) and "undefined" not in str(v) for v in by_card.values())
    traffic_views = [dict(heads)["views"] for heads, _ in by_card["traffic"]]
    assert traffic_views == ["0"] * 6
    funnels = by_card["funnels"][-1][0]
    assert ["f entered", "10"] in funnels and ["g completed", "—"] in funnels
