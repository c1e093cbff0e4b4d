"""The Content tab in a real Chromium, against the real live feed, store and collector.

An admin edits a dojo event's title, publishes it, and a page of the test's own site shows
the new title through content.js from the collector's delivery API; reverting shows the old
one again. Someone else saving first (412) keeps the admin's edits in the form; a bad field
(422) is named beside the field; the tab fits a phone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from collector.app import create_app as create_collector
from live_feed import create_app
from live_feed.app import uvicorn_options
from live_feed.content_desk import ContentDesk
from live_feed.history import HistoryStore
from stream.content import ContentService
from stream.content.messages import Outbox
from stream.secret import Secret
from stream.settings import Settings
from stream.store.engine import open_store
from tests.browser.content_site import ContentSite, serve_app, serve_site
from tests.browser.panel_page import (
    OUTPUT,
    PHONE,
    XSS,
    assert_fits,
    log_in,
    resize,
    screenshot,
    severe_errors,
    shoot,
    wait_for,
)
from tests.collector.conftest import MemorySink
from tests.live_feed.conftest import FixedOffsets
from tests.store.content_items import event, page

pytestmark = pytest.mark.browser

EVENT = "event:scratch-2026-12-05"
TITLE = "Scratch Saturday"


@dataclass
class Desk:
    """The live feed with its content desk, the service others write through, and the site."""

    url: str
    service: ContentService
    outbox: Outbox
    site: ContentSite
    collector: str

    def site_page(self) -> str:
        """A page of the site listing upcoming dojos with content.js from the collector."""
        head = f'<script src="{self.collector}/content.js"></script>'
        body = '<div id="dojos" data-dojo-content="upcoming-events" data-limit="3">'
        body += '<a href="/events">See the upcoming dojos</a></div>'
        return self.site.page("dojos.html", body, head)


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ms / 1000))


def upcoming(**changes: Any) -> dict[str, Any]:
    """The dojo event, moved to start a day from now (registration left open)."""
    starts = int(time.time() * 1000) + 86_400_000
    fields = event(starts_at=iso(starts), ends_at=iso(starts + 7_200_000), **changes)
    del fields["registration_opens"], fields["registration_closes"]
    return fields


@pytest.fixture
def store_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The test settings with a store of the test's own."""
    return replace(settings, database_url=Secret(f"sqlite:///{tmp_path / 'pulse.db'}"))


@pytest.fixture
def desk(store_settings: Settings, tmp_path: Path) -> Iterator[Desk]:
    """The live feed (messages kept in an outbox), the collector, the site, one dojo event."""
    outbox = Outbox()
    content = ContentDesk(store_settings, HistoryStore(store_settings), publisher=outbox)
    app = create_app(store_settings, offsets=FixedOffsets({}), content=content)
    engine = open_store(store_settings)
    service = ContentService(engine, Outbox(), settings=store_settings)
    service.create("event", upcoming(), "seed", "the term's first dojo")
    service.publish(EVENT)
    root = tmp_path / "site"
    root.mkdir()
    try:
        with serve_site(root) as site, serve_app(app, **uvicorn_options()) as url:
            site_settings = replace(store_settings, site_origins=(site.url,))
            collector = create_collector(site_settings, sink=MemorySink())
            with serve_app(collector) as collector_url:
                yield Desk(url, service, outbox, site, collector_url)
    finally:
        engine.dispose()


def css(driver: Any, selector: str) -> list[Any]:
    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def one(driver: Any, selector: str) -> Any:
    return driver.find_element(By.CSS_SELECTOR, selector)


def note(driver: Any) -> str:
    return str(one(driver, "#content-note").text)


def open_tab(driver: Any, desk: Desk, token: str) -> None:
    log_in(driver, desk.url, token)
    one(driver, '.tabs [data-tab="content"]').click()
    wait_for(lambda: css(driver, f'#content-items [data-id="{EVENT}"]'), "the content list")


def open_item(driver: Any, item_id: str) -> None:
    one(driver, f'#content-items [data-id="{item_id}"] .content-open').click()
    wait_for(lambda: one(driver, "#content-editing").text == item_id, f"the editor of {item_id}")
    wait_for(lambda: css(driver, "#content-revisions .revision"), "the revisions")


def type_into(driver: Any, field: str, value: str) -> None:
    box = one(driver, f"#content-field-{field}")
    box.clear()
    box.send_keys(value)


def save(driver: Any) -> None:
    one(driver, "#content-save").click()


def site_shows(driver: Any, desk: Desk) -> str:
    """Open the site's page in a new tab as a later visitor would; the first dojo's title."""
    panel = driver.current_window_handle
    # A visitor after the delivery API's max-age: nothing of an earlier answer is cached.
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.switch_to.new_window("tab")
    try:
        driver.get(desk.site_page())
        wait_for(lambda: one(driver, "#dojos").get_attribute("data-dojo-state") == "ready",
                 "content.js to fill the site's page")  # fmt: skip
        return str(one(driver, "#dojos .dojo-content-title").text)
    finally:
        driver.close()
        driver.switch_to.window(panel)


def test_edit_publish_and_revert_reach_the_live_revision(
    browser: Any, desk: Desk, token: str
) -> None:
    driver = browser
    open_tab(driver, desk, token)
    assert site_shows(driver, desk) == TITLE
    open_item(driver, EVENT)
    assert one(driver, "#content-field-title").get_attribute("value") == TITLE
    assert "published · #2" not in one(driver, "#content-badge").text  # revision 1 is live

    type_into(driver, "title", "Scratch Saturday: new room")
    one(driver, "#content-message").send_keys("moved upstairs")
    save(driver)
    wait_for(lambda: note(driver) == "Saved as revision #2.", "the save")
    assert one(driver, "#content-badge").text == "changed · #2"
    assert desk.service.get(EVENT)["live_revision"] == 1  # a save is a draft
    assert site_shows(driver, desk) == TITLE  # drafts never reach the site

    one(driver, "#content-publish").click()
    wait_for(lambda: note(driver) == "Revision #2 is live.", "the publish")
    assert one(driver, "#content-badge").text == "published · #2"
    assert desk.service.published("event")[0]["title"] == "Scratch Saturday: new room"
    assert site_shows(driver, desk) == "Scratch Saturday: new room"
    live = [m for m in desk.outbox.messages if m.key == EVENT and m.value is not None]
    assert b"new room" in (live[-1].value or b"")  # what dojo.content receives

    # History: the diff of revision 2 against 1, then a revert to 1 published again.
    one(driver, '#content-revisions [data-revision="2"] .diff-button').click()
    wait_for(lambda: "No differences" in one(driver, "#content-diff").text, "2 is the live one")
    one(driver, '#content-revisions [data-revision="1"] .diff-button').click()
    wait_for(lambda: css(driver, '#content-diff [data-field="title"] .diff-add'), "the title diff")
    assert (
        one(driver, '#content-diff [data-field="title"] .diff-del').text
        == "-Scratch Saturday: new room"
    )
    assert one(driver, '#content-diff [data-field="title"] .diff-add').text == f"+{TITLE}"

    one(driver, '#content-revisions [data-revision="1"] .revert-button').click()
    wait_for(lambda: note(driver) == "Reverted to #1 as a new draft revision.", "the revert")
    assert one(driver, "#content-field-title").get_attribute("value") == TITLE
    assert one(driver, "#content-badge").text == "changed · #3"
    one(driver, "#content-publish").click()
    wait_for(lambda: note(driver) == "Revision #3 is live.", "the revert published")
    assert desk.service.published("event")[0]["title"] == TITLE
    assert site_shows(driver, desk) == TITLE
    assert [r["revision"] for r in _revisions(desk)] == [3, 2, 1]
    screenshot(driver, "content-desktop", 1100)
    assert not severe_errors(driver)


def _revisions(desk: Desk) -> list[dict[str, Any]]:
    return sorted(
        (r.summary() for r in desk.service.revisions(EVENT)), key=lambda r: -r["revision"]
    )


def test_a_stale_save_keeps_the_edits_to_compare_and_save_over(
    browser: Any, desk: Desk, token: str
) -> None:
    driver = browser
    open_tab(driver, desk, token)
    open_item(driver, EVENT)
    type_into(driver, "title", "Mine: Scratch in the hall")
    type_into(driver, "venue", "Main hall")
    # Another admin saves revision 2 while this form still edits revision 1.
    desk.service.update(EVENT, upcoming(title="Theirs: Scratch Saturday"), 1, "admin", "theirs")
    save(driver)
    wait_for(lambda: one(driver, "#content-conflict").is_displayed(), "the conflict")
    assert "revision #2" in one(driver, "#content-conflict").text
    assert one(driver, "#content-field-title").get_attribute("value") == "Mine: Scratch in the hall"
    assert one(driver, "#content-field-venue").get_attribute("value") == "Main hall"
    assert desk.service.get(EVENT)["revision"] == 2  # nothing of mine was written

    one(driver, "#content-compare").click()
    wait_for(lambda: css(driver, '#content-diff [data-field="title"] .diff-add'), "their change")
    assert (
        one(driver, '#content-diff [data-field="title"] .diff-add').text
        == "+Theirs: Scratch Saturday"
    )
    assert not css(driver, '#content-diff [data-field="venue"]')  # they did not move it

    one(driver, "#content-overwrite").click()
    wait_for(lambda: note(driver) == "Saved as revision #3.", "mine saved over theirs")
    got = desk.service.get(EVENT)
    assert (got["fields"]["title"], got["fields"]["venue"]) == (
        "Mine: Scratch in the hall",
        "Main hall",
    )


def test_bad_fields_are_named_beside_them_and_nothing_is_written(
    browser: Any, desk: Desk, token: str
) -> None:
    driver = browser
    desk.service.create("page", page("/xss", title=XSS, body=XSS), "seed")
    open_tab(driver, desk, token)
    wait_for(lambda: XSS in one(driver, "#content-items").text, "a title with markup, as text")
    open_item(driver, "page:/xss")
    assert one(driver, "#content-field-title").get_attribute("value") == XSS
    open_item(driver, EVENT)
    type_into(driver, "capacity", "-3")
    type_into(driver, "ends_at", "next Saturday")
    type_into(driver, "title", XSS)
    save(driver)
    wait_for(lambda: one(driver, "#content-field-capacity-error").is_displayed(), "the errors")
    assert "from 0" in one(driver, "#content-field-capacity-error").text
    assert "ISO 8601" in one(driver, "#content-field-ends_at-error").text
    assert not one(driver, "#content-field-title-error").is_displayed()
    assert desk.service.get(EVENT)["revision"] == 1
    assert driver.execute_script("return window.__xss") is None

    # A new item of another type, from the form the type's specs build.
    Select(one(driver, "#content-new-type")).select_by_value("resource")
    one(driver, "#content-new").click()
    wait_for(lambda: one(driver, "#content-editing").text == "New resource", "the new form")
    type_into(driver, "slug", "Not A Slug")
    save(driver)
    wait_for(lambda: one(driver, "#content-field-slug-error").is_displayed(), "the slug error")
    assert "lower-case" in one(driver, "#content-field-slug-error").text
    assert one(driver, "#content-field-title-error").is_displayed()  # required, left empty
    type_into(driver, "slug", "microbit-pets")
    type_into(driver, "title", "Micro:bit pets")
    Select(one(driver, "#content-field-kind")).select_by_value("project")
    type_into(driver, "url", "/files/microbit-pets.pdf")
    save(driver)
    wait_for(lambda: one(driver, "#content-editing").text == "resource:microbit-pets", "created")
    assert desk.service.get("resource:microbit-pets")["status"] == "draft"
    # Scheduled for a later moment: not live yet, and the panel says when.
    at = one(driver, "#content-at")
    driver.execute_script("arguments[0].value = '2030-01-05T10:00'", at)
    one(driver, "#content-schedule").click()
    wait_for(lambda: note(driver).startswith("Publishing at 05/01/2030, 10:00"), "the schedule")
    assert one(driver, "#content-badge").text == "scheduled · #1"
    scheduled = desk.service.get("resource:microbit-pets")["scheduled"]
    assert list(scheduled) == ["publish"] and desk.service.published("resource") == []

    resize(driver, *PHONE)
    assert_fits(driver, "the Content tab on a phone")
    one(driver, "#content-q").send_keys("micro")
    wait_for(lambda: len(css(driver, "#content-items .content-item")) == 1, "the search")
    Select(one(driver, "#content-status")).select_by_value("draft")
    wait_for(lambda: "No content matches" in one(driver, "#content-items").text, "no drafts")
    Select(one(driver, "#content-status")).select_by_value("scheduled")
    wait_for(lambda: css(driver, '#content-items [data-id="resource:microbit-pets"]'), "scheduled")
    assert_fits(driver, "the filtered list on a phone")
    OUTPUT.mkdir(exist_ok=True)
    shoot(driver, OUTPUT, "content-phone")
