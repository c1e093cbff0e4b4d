"""The beacon in a real Chromium, embedded by a site on another origin than the collector's.

A tiny HTTP server plays the site (its own port, so its own origin); the collector runs
under uvicorn with an in-test sink, and each test reads the events the sink received.
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
import uvicorn

from collector.app import BEACON_JS, create_app
from stream.metrics.vitals import VitalsState
from stream.settings import Settings
from tests.browser.conftest import free_port
from tests.collector.conftest import MemorySink

T = TypeVar("T")
TIMEOUT_S = 20.0


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = TIMEOUT_S) -> T:
    """Poll ``probe`` until it returns something truthy, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Site:
    """The site's server: where its pages live and which paths browsers asked for."""

    url: str
    root: Path
    requests: list[str]

    def page(self, name: str, body: str, head: str = "") -> str:
        """Write a page and return its address."""
        html = f"<!doctype html><html><head><title>{name}</title>{head}</head>"
        (self.root / name).write_text(f"{html}<body>{body}</body></html>", encoding="utf-8")
        return f"{self.url}/{name}"


@dataclass
class Collector:
    """The running collector and what its sink received."""

    url: str
    sink: MemorySink

    def events(self) -> list[dict[str, Any]]:
        """Every event received so far, in arrival order."""
        return [e for _, value in self.sink.messages for e in orjson.loads(value)["events"]]

    def script(self) -> str:
        """The one-line embed a site owner copies, without ``data-endpoint``."""
        return f'<script src="{self.url}/beacon.js" defer></script>'


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A static site on a port of its own, logging request lines (method and path)."""
    root = tmp_path / "site"
    root.mkdir()
    seen: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            seen.append(f"{self.command} {self.path}")

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", free_port()), functools.partial(Handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_port}", root, seen)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def collector(settings: Settings, site: Site) -> Iterator[Collector]:
    """The collector on another port, accepting the site's origin, with an in-test sink."""
    sink = MemorySink()
    own = dataclasses.replace(
        settings, site_origins=(site.url,), site_id=f"site-{uuid.uuid4().hex[:12]}"
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(own, sink=sink), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for("the collector to start", lambda: server.started, timeout=10)
    try:
        yield Collector(f"http://127.0.0.1:{port}", sink)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def hide_and_show(driver: Any) -> None:
    """Send the tab to the background (another tab opens) and bring it back."""
    tab = driver.current_window_handle
    driver.switch_to.new_window("tab")
    driver.close()
    driver.switch_to.window(tab)
    wait_for(
        "the tab to be visible again",
        lambda: driver.execute_script("return document.visibilityState") == "visible",
    )


def vitals(events: list[dict[str, Any]], name: str, since_ms: float = 0) -> list[float]:
    """Values of the ``name`` vital among ``events`` stamped at or after ``since_ms``."""
    return [
        e["props"]["value"]
        for e in events
        if e["type"] == "web_vital" and e["props"]["name"] == name and e["ts"] >= since_ms
    ]


def flushed_page_views(browser: Any, collector: Collector) -> list[dict[str, Any]]:
    """Once the beacon runs, ask it to send now and wait for the page views to arrive."""
    wait_for("the beacon", lambda: browser.execute_script("return !!window.dojoPulse"))
    browser.execute_script("window.dojoPulse.flush()")
    return wait_for(
        "the page view at the collector",
        lambda: [e for e in collector.events() if e["type"] == "page_view"],
    )


def open_under_policy(
    browser: Any, site: Site, collector: Collector, name: str, csp: str
) -> list[dict[str, Any]]:
    """Open a page embedding the beacon under the Content Security Policy ``csp``."""
    head = f'<meta http-equiv="Content-Security-Policy" content="{csp}">' + collector.script()
    browser.get(site.page(name, "<h1>Spring dojo</h1>", head))
    return flushed_page_views(browser, collector)


def flushed_vital(browser: Any, collector: Collector, name: str) -> list[float]:
    """Ask the beacon to send now until the ``name`` vital has arrived (web-vitals runs)."""

    def sent() -> list[float]:
        browser.execute_script("window.dojoPulse.flush()")
        return vitals(collector.events(), name)

    return wait_for(f"{name} at the collector", sent)


def now_ms() -> float:
    return time.time() * 1000


# Text below a spacer: growing the spacer (by script, not input) shifts it down.
SHIFTABLE = '<div id="gap"></div>' + "<p>" + "Scratch and Python on Saturdays. " * 60 + "</p>"
GROW = (
    "const done = arguments[arguments.length - 1];"
    "document.getElementById('gap').style.height = arguments[0] + 'px';"
    "requestAnimationFrame(() => requestAnimationFrame(done));"
)


def test_without_data_endpoint_events_go_to_the_collector_the_script_came_from(
    browser: Any, site: Site, collector: Collector
) -> None:
    # The policy a site needs, and nothing more: the collector in script-src and connect-src.
    csp = f"default-src 'none'; script-src {collector.url}; connect-src {collector.url}"
    views = open_under_policy(browser, site, collector, "plain.html", csp)
    assert views[0]["url"] == "/plain.html"
    assert views[0]["props"] == {"title": "plain.html"}
    flushed_vital(browser, collector, "FCP")  # web-vitals.js came from the collector too
    assert not [line for line in site.requests if line.startswith("POST")]
    assert not [m for m in browser.get_log("browser") if "Content Security Policy" in m["message"]]


def test_data_endpoint_still_chooses_the_collector_for_a_self_hosted_beacon(
    browser: Any, site: Site, collector: Collector
) -> None:
    (site.root / "beacon.js").write_bytes(BEACON_JS.read_bytes())
    script = f'<script src="beacon.js" data-endpoint="{collector.url}/collect" defer></script>'
    browser.get(site.page("hosted.html", "<h1>Spring dojo</h1>", script))
    views = flushed_page_views(browser, collector)
    assert views[0]["url"] == "/hosted.html"
    assert not [line for line in site.requests if line.startswith("POST")]


def test_page_views_do_not_depend_on_web_vitals(
    browser: Any, site: Site, collector: Collector
) -> None:
    # A policy that lets beacon.js run but not web-vitals.js: as in a browser too old to
    # parse web-vitals, the vitals are lost and nothing else.
    csp = f"script-src {collector.url}/beacon.js; connect-src {collector.url}"
    views = open_under_policy(browser, site, collector, "lean.html", csp)
    assert views[0]["url"] == "/lean.html"
    wait_for(
        "web-vitals.js to be refused",
        lambda: [m for m in browser.get_log("browser") if "web-vitals.js" in m["message"]],
    )
    browser.find_element("tag name", "h1").click()
    hide_and_show(browser)  # where CLS would be sent, beside the click
    wait_for("the click", lambda: [e for e in collector.events() if e["type"] == "click"])
    assert not [e for e in collector.events() if e["type"] == "web_vital"]


def test_vitals_that_change_after_the_tab_returns_are_sent_at_the_next_hide(
    browser: Any, site: Site, collector: Collector
) -> None:
    slow_button = (
        '<button id="slow" style="position:fixed;top:0;right:0" onclick="'
        "const end = performance.now() + 300; while (performance.now() < end) {}"
        '">Busy</button>'
    )
    # Event timing entries come after the next paint; the test hides the tab only once the
    # browser has measured the click, as it would have long before a visitor switches tabs.
    measured = (
        "<script>window.measured = 0; new PerformanceObserver((list) => {"
        "window.measured += list.getEntries().filter((e) => e.interactionId).length;"
        "}).observe({type: 'event', durationThreshold: 16});"
        "window.webVitals = 'the site own copy';</script>"
    )
    browser.get(site.page("vitals.html", slow_button + SHIFTABLE, collector.script() + measured))
    flushed_vital(browser, collector, "FCP")
    assert browser.execute_script("return window.webVitals") == "the site own copy"
    browser.execute_async_script(GROW, 60)
    hide_and_show(browser)
    first = wait_for("CLS at the first hide", lambda: vitals(collector.events(), "CLS"))
    assert first[0] > 0
    assert vitals(collector.events(), "INP") == []  # nothing was clicked yet

    browser.execute_async_script(GROW, 400)  # a larger shift, after the return
    browser.find_element("id", "slow").click()  # and a slow interaction
    wait_for("the click's timing", lambda: browser.execute_script("return window.measured"))
    hide_and_show(browser)
    cls = wait_for(
        "CLS again at the second hide",
        lambda: (
            vitals(collector.events(), "CLS")
            if len(vitals(collector.events(), "CLS")) > 1
            else None
        ),
    )
    assert cls[-1] > cls[0]
    inp = wait_for("INP at the second hide", lambda: vitals(collector.events(), "INP"))
    assert inp[-1] >= 300


def test_a_prerendered_page_sends_nothing_until_it_is_opened(
    browser: Any, site: Site, collector: Collector
) -> None:
    # While prerendering, the page asks the beacon to send, then tells the site it did.
    probe = (
        "<script>document.addEventListener('DOMContentLoaded', () => {"
        "if (!document.prerendering) return;"
        "window.dojoPulse.flush(); fetch('/prerendered');"
        "});</script>"
    )
    target = site.page("next.html", "<h1>Next dojo</h1>", collector.script() + probe)
    rules = '{"prerender": [{"source": "list", "urls": ["next.html"]}]}'
    browser.get(
        site.page(
            "start.html",
            '<a id="next" href="next.html">Next</a>',
            f'<script type="speculationrules">{rules}</script>',
        )
    )
    wait_for("the prerender", lambda: "GET /prerendered" in site.requests)
    opened = now_ms()
    browser.find_element("id", "next").click()
    wait_for("the opened page", lambda: browser.current_url == target)
    activation = browser.execute_script(
        "return performance.getEntriesByType('navigation')[0].activationStart"
    )
    assert activation > 0, "the page was not served from the prerender"
    flushed_page_views(browser, collector)
    ttfb = wait_for("TTFB", lambda: vitals(collector.events(), "TTFB"))
    events = collector.events()
    assert [e["type"] for e in events].count("page_view") == 1
    assert all(e["ts"] >= opened for e in events), "an event was stamped before the visit"
    assert ttfb == [0]  # the response came before the visitor asked: no wait was felt


def test_a_back_forward_cache_restore_starts_the_vitals_again(
    browser: Any, site: Site, collector: Collector
) -> None:
    restored = (
        "<script>addEventListener('pageshow', (e) => { window.restored = e.persisted; });</script>"
    )
    site.page("away.html", "<h1>Elsewhere</h1>")
    browser.get(
        site.page(
            "home.html",
            '<a id="away" href="away.html">Away</a>' + SHIFTABLE,
            collector.script() + restored,
        )
    )
    flushed_vital(browser, collector, "FCP")
    browser.execute_async_script(GROW, 300)
    browser.find_element("id", "away").click()
    before = wait_for("CLS of the first view", lambda: vitals(collector.events(), "CLS"))
    assert before[0] > 0
    back = now_ms()
    browser.back()
    assert wait_for("the restore", lambda: browser.execute_script("return window.restored"))
    hide_and_show(browser)
    wait_for("CLS of the restored view", lambda: vitals(collector.events(), "CLS", back))
    events = collector.events()
    assert vitals(events, "CLS", back) == [0]  # no shift since the restore: counted afresh
    assert len(vitals(events, "FCP", back)) == 1  # the restored view is painted anew
    views = [e for e in events if e["type"] == "page_view"]
    assert len(views) == 2 and views[1]["ts"] >= back


def test_a_view_hidden_twice_counts_its_cls_once_with_the_latest_value(
    browser: Any, site: Site, collector: Collector
) -> None:
    browser.get(site.page("twice.html", SHIFTABLE, collector.script()))
    flushed_vital(browser, collector, "FCP")
    browser.execute_async_script(GROW, 60)
    hide_and_show(browser)
    first = wait_for("CLS at the first hide", lambda: vitals(collector.events(), "CLS"))
    browser.execute_async_script(GROW, 400)
    hide_and_show(browser)
    wait_for("CLS at the second hide", lambda: len(vitals(collector.events(), "CLS")) > 1)
    hide_and_show(browser)  # nothing moved since: nothing more to say about this view
    # A mark sent after that hide: once it is in, what the hide sent is in too.
    browser.execute_script("dojoPulse.track('conversion', {goal: 'mark'}); dojoPulse.flush()")
    wait_for("the mark", lambda: any(e["type"] == "conversion" for e in collector.events()))

    reports = [
        e for e in collector.events() if e["type"] == "web_vital" and e["props"]["name"] == "CLS"
    ]
    assert len(reports) == 2, reports
    assert "replaces" not in reports[0]["props"]
    assert reports[1]["props"]["replaces"] == first[0]
    latest = reports[1]["props"]["value"]
    assert latest > first[0]
    # What the vitals agent makes of them: one view, with its latest value.
    state = VitalsState()
    for event in collector.events():
        state.apply({"received_at": event["ts"], "events": [event]}, event["ts"])
    cls = state.snapshot(reports[1]["ts"])["site"]["CLS"]
    assert cls["n"] == 1
    assert cls["p75"] == pytest.approx(latest, rel=0.01)
