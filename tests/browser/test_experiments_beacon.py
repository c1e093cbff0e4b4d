"""``dojoPulse.variant(KEY)`` in a real Chromium: the asker's variant, one exposure per session."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from collector.app import create_app
from stream.content.messages import Outbox
from stream.content.service import ContentService
from stream.settings import Secret, Settings
from stream.store import open_store
from tests.browser.conftest import free_port
from tests.browser.test_beacon import Collector, Site, site, wait_for
from tests.collector.conftest import MemorySink

__all__ = ["site"]  # the fixture, shared with the beacon's own tests

ASK = (
    "const done = arguments[arguments.length - 1];"
    "Promise.all([dojoPulse.variant(arguments[0]), dojoPulse.variant(arguments[0])])"
    ".then(v => { dojoPulse.flush(); done(v); });"
)


@pytest.fixture
def collector(settings: Settings, site: Site, tmp_path: Path) -> Iterator[Collector]:
    """A collector whose store holds one running experiment, cta_colour (blue / orange)."""
    own = dataclasses.replace(
        settings,
        site_origins=(site.url,),
        site_id=f"site-{uuid.uuid4().hex[:12]}",
        database_url=Secret(f"sqlite:///{tmp_path / 'pulse.db'}"),
    )
    engine = open_store(own)
    service = ContentService(engine, Outbox())
    service.create("experiment", {"key": "cta_colour", "title": "Button colour",
                   "variants": "blue: 50, orange: 50", "unit": "visitor",
                   "primary": "goal:newsletter", "status": "running"}, "admin", "")  # fmt: skip
    service.publish("experiment:cta_colour")
    engine.dispose()
    sink = MemorySink()
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


def exposures(collector: Collector) -> list[dict[str, Any]]:
    return [e for e in collector.events() if e["type"] == "experiment_exposure"]


def test_variant_resolves_and_exposure_is_sent_once_per_session(
    browser: Any, site: Site, collector: Collector
) -> None:
    page = site.page("home.html", "<h1>Dojo</h1>", collector.script())
    browser.get(page)
    wait_for("the beacon", lambda: browser.execute_script("return !!window.dojoPulse"))
    first = browser.execute_async_script(ASK, "cta_colour")
    assert first[0] in {"blue", "orange"} and first[0] == first[1]
    sent = wait_for("the exposure", lambda: exposures(collector))
    assert sent[0]["props"] == {"experiment": "cta_colour", "variant": first[0]}
    browser.get(page)  # the same tab, so the same session: the same variant, no new exposure
    wait_for("the beacon", lambda: browser.execute_script("return !!window.dojoPulse"))
    again = browser.execute_async_script(ASK, "cta_colour")
    assert again == first
    wait_for(
        "the second page view",
        lambda: len([e for e in collector.events() if e["type"] == "page_view"]) >= 2,
    )
    assert len(exposures(collector)) == 1


@pytest.mark.parametrize("key", ["not_running", "Bad Key", "", "x" * 65])
def test_unknown_or_bad_keys_resolve_to_null_without_an_exposure(
    browser: Any, site: Site, collector: Collector, key: str
) -> None:
    browser.get(site.page("other.html", "<h1>Dojo</h1>", collector.script()))
    wait_for("the beacon", lambda: browser.execute_script("return !!window.dojoPulse"))
    assert browser.execute_async_script(ASK, key) == [None, None]
    wait_for("the page view", lambda: [e for e in collector.events() if e["type"] == "page_view"])
    assert exposures(collector) == []
