"""content.js alone in a real Chromium: filling, no layout shift, fallbacks, hostile answers.

The site serves its own copy of content.js (so the API is found beside the script, on the
site's origin) and answers the content API itself, holding each answer until the test lets
it through. The whole flow against the real collector and store is in ``test_content.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from collector.app import CONTENT_JS
from tests.browser.content_site import ContentSite, serve_site
from tests.browser.panel_page import XSS, severe_errors, wait_for

pytestmark = pytest.mark.browser

# Strict: scripts only from the site itself, no inline script or style anywhere.
CSP = "default-src 'none'; script-src 'self'; connect-src 'self'"
SHIFTS_JS = """window.shifts = []; window.moved = [];
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (e) {
    if (e.hadRecentInput) return;
    window.shifts.push(e.value);
    e.sources.forEach(function (s) { window.moved.push(s.node && (s.node.id || s.node.nodeName)); });
  });
}).observe({type: "layout-shift", buffered: true});
"""
HEAD = (
    f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    '<script src="shifts.js"></script><script src="content.js"></script>'
)
BELOW = '<p id="below">' + "Scratch, Python and robots every Saturday. " * 20 + "</p>"

EVENTS = [
    {"id": "event:scratch-2026-12-05", "revision": 3, "title": "Scratch dojo",
     "slug": "scratch-2026-12-05", "starts_at": "2026-12-05T10:00:00+00:00",
     "timezone": "Europe/London", "venue": "Library", "age_min": 7, "age_max": 17,
     "status": "scheduled"},
    {"id": "event:x", "revision": 1, "title": XSS, "slug": "javascript:alert(1)",
     "starts_at": "2026-12-12T10:00:00+00:00", "timezone": "Not/AZone", "status": "scheduled"},
    {"id": "event:full", "revision": 1, "title": "Python night", "slug": "python-night",
     "starts_at": "2026-12-19T18:00:00+00:00", "status": "full"},
    {"id": "event:later", "revision": 1, "title": "Robots", "slug": "robots",
     "starts_at": "2027-01-09T10:00:00+00:00", "status": "scheduled"},
]  # fmt: skip


@pytest.fixture
def site(tmp_path: Path) -> Iterator[ContentSite]:
    """The site with its own copy of content.js and the layout-shift recorder."""
    root = tmp_path / "site"
    root.mkdir()
    shutil.copyfile(CONTENT_JS, root / "content.js")
    (root / "shifts.js").write_text(SHIFTS_JS, encoding="utf-8")
    with serve_site(root) as served:
        yield served


def state(browser: Any, element_id: str) -> str | None:
    """The element's ``data-dojo-state``."""
    value = browser.find_element(By.ID, element_id).get_attribute("data-dojo-state")
    return None if value is None else str(value)


def box(browser: Any, element_id: str) -> tuple[float, float]:
    """Top and height of the element's box, in CSS px."""
    rect = browser.execute_script(
        "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
        "return [r.top + scrollY, r.height];",
        element_id,
    )
    return float(rect[0]), float(rect[1])


def rows(browser: Any, element_id: str) -> list[Any]:
    return list(browser.find_elements(By.CSS_SELECTOR, f"#{element_id} li.dojo-content-item"))


def test_upcoming_events_fill_the_reserved_space_and_nothing_moves(
    browser: Any, site: ContentSite
) -> None:
    site.answer("/api/content/events", {"items": EVENTS})
    fallback = '<a id="all" href="/events">See the upcoming dojos</a>'
    dojos = f'<div id="dojos" data-dojo-content="upcoming-events" data-limit="3">{fallback}</div>'
    body = f"<h1>Dojos</h1>{dojos}{BELOW}"
    browser.get(site.page("home.html", body, HEAD))
    wait_for(lambda: state(browser, "dojos") == "loading", "content.js to ask")
    reserved, below = box(browser, "dojos"), box(browser, "below")
    assert reserved[1] == pytest.approx(3 * 3.2 * 16, abs=1)  # three rows of 3.2em at 16px
    assert browser.find_element(By.ID, "all").is_displayed()  # the fallback while it waits

    site.gate.set()
    wait_for(lambda: state(browser, "dojos") == "ready", "the events to be shown")
    assert box(browser, "dojos") == reserved
    assert box(browser, "below") == below
    assert browser.execute_script("return window.shifts") == [], browser.execute_script(
        "return window.moved"
    )
    assert site.asked == ["/api/content/events?upcoming=1"]

    shown = rows(browser, "dojos")
    assert len(shown) == 3  # data-limit
    titles = [r.find_element(By.CSS_SELECTOR, ".dojo-content-title").text for r in shown]
    assert titles == ["Scratch dojo", XSS, "Python night"]
    assert browser.execute_script("return window.__xss") is None
    links = [r.find_element(By.TAG_NAME, "a").get_attribute("href") for r in shown]
    assert links == [
        f"{site.url}/events/scratch-2026-12-05",
        f"{site.url}/events/javascript%3Aalert(1)",
        f"{site.url}/events/python-night",
    ]
    metas = [r.find_element(By.CSS_SELECTOR, ".dojo-content-meta").text for r in shown]
    assert metas[0] == "Sat 5 Dec, 10:00 · Library · ages 7\u201317"
    assert metas[1].startswith("Sat 12 Dec")  # an unknown zone: the visitor's own
    assert metas[2].endswith("· full")
    assert "dojo-content-full" in (shown[2].get_attribute("class") or "")
    assert not severe_errors(browser)


def test_resources_by_tag_and_a_page_body_as_the_server_sanitised_it(
    browser: Any, site: ContentSite
) -> None:
    site.answer("/api/content/resources?tag=scratch%20%26%20maths", {"items": [
        {"id": "resource:cards", "revision": 2, "title": "Scratch cards", "slug": "cards",
         "kind": "worksheet", "age_min": 7, "age_max": 11, "tags": ["scratch"]},
    ]})  # fmt: skip
    site.answer("/api/content/pages/about/team", {"id": "page:/about/team", "revision": 1,
                "path": "/about/team", "title": "Team", "body": "<h2>Who we are</h2><p>Mentors.</p>"})  # fmt: skip
    body = (
        '<div id="res" data-dojo-content="resources" data-tag="scratch &amp; maths" data-limit="2">'
        '<a href="/resources">All resources</a></div>'
        '<div id="about" data-dojo-content="page" data-path="/about/team"></div>' + BELOW
    )
    browser.get(site.page("res.html", body, HEAD))
    wait_for(lambda: state(browser, "about") == "loading", "content.js to ask")
    site.gate.set()
    wait_for(lambda: state(browser, "res") == state(browser, "about") == "ready", "both filled")
    shown = rows(browser, "res")
    assert [r.text for r in shown] == ["Scratch cards\nworksheet · ages 7\u201311"]
    assert box(browser, "res")[1] == pytest.approx(2 * 3.2 * 16, abs=1)
    heading = browser.find_element(By.CSS_SELECTOR, "#about h2")
    assert heading.text == "Who we are"
    # A page reserves nothing (its height is unknown): filling it moves what follows, which
    # is what the site's own min-height is for, and shows the recorder does see shifts.
    assert sum(browser.execute_script("return window.shifts")) > 0
    assert sorted(site.asked) == [
        "/api/content/pages/about/team",
        "/api/content/resources?tag=scratch%20%26%20maths",
    ]


def test_without_an_answer_the_fallback_stays_in_the_reserved_space(
    browser: Any, site: ContentSite
) -> None:
    site.answer("/api/content/events", {"error": "unavailable"}, status=503)
    site.answer("/api/content/resources", {"items": []})
    body = (
        '<div id="dojos" data-dojo-content="upcoming-events"><a id="all" href="/events">Dojos</a></div>'
        '<div id="res" data-dojo-content="resources"><a id="more" href="/resources">More</a></div>'
    )
    site.gate.set()
    browser.get(site.page("down.html", body, HEAD))
    wait_for(lambda: state(browser, "dojos") == "error", "the refused answer")
    wait_for(lambda: state(browser, "res") == "empty", "the empty answer")
    assert browser.find_element(By.ID, "all").is_displayed()
    assert browser.find_element(By.ID, "more").is_displayed()
    assert box(browser, "dojos")[1] == pytest.approx(3 * 3.2 * 16, abs=1)  # the default limit
    assert rows(browser, "dojos") == rows(browser, "res") == []


JSON_VALUES: list[Any] = [None, True, 0, -1.5, 2**53, "", "x", [], ["a"], {}, {"a": 1}]
FIELDS = ("title", "slug", "starts_at", "timezone", "venue", "age_min", "age_max", "status",
          "kind")  # fmt: skip


def test_any_json_in_any_field_or_body_never_breaks_the_page(
    browser: Any, site: ContentSite
) -> None:
    items: list[Any] = [None, 1, "x", []]
    for field in FIELDS:
        for value in JSON_VALUES:
            items.append({"title": "t", "slug": "s", field: value})
    site.answer("/api/content/events", {"items": items})
    bodies: list[Any] = [None, [], "items", 7, {"items": {}}, {"items": "x"}, b"\xff{not json"]
    tags = "".join(
        f'<div id="r{i}" data-dojo-content="resources" data-tag="t{i}" data-limit="x"></div>'
        for i in range(len(bodies))
    )
    for i, body in enumerate(bodies):
        site.answer(f"/api/content/resources?tag=t{i}", body)
    many = [{"title": f"t{i}", "slug": f"s{i}"} for i in range(5000)]
    site.answer("/api/content/resources?tag=many", {"items": many})
    page = (
        '<div id="dojos" data-dojo-content="upcoming-events" data-limit="20"></div>'
        '<div id="many" data-dojo-content="resources" data-tag="many" data-limit="999"></div>'
        '<div id="odd" data-dojo-content="nonsense"></div>' + tags
    )
    site.gate.set()
    browser.get(site.page("hostile.html", page, HEAD))
    wait_for(lambda: state(browser, "dojos") == "ready", "the hostile events")
    for i in range(len(bodies)):
        wait_for(lambda i=i: state(browser, f"r{i}") in ("empty", "error"), f"body {i}")
    wait_for(lambda: state(browser, "many") == "ready", "the long list")
    assert len(rows(browser, "many")) == 20  # data-limit is capped
    assert len(rows(browser, "dojos")) == 20
    assert state(browser, "odd") is None  # an unknown kind is left alone
    valid = sum(1 for i in items if isinstance(i, dict) and isinstance(i.get("slug"), str)
                and i.get("slug"))  # fmt: skip
    assert valid > 20
    assert not [e for e in severe_errors(browser) if "content.js" in e]
