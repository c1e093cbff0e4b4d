"""The seed holds every path the simulator visits that the recommender may recommend."""

from __future__ import annotations

import time
from datetime import date, timedelta

import orjson

from dojo_pulse import seed
from dojo_pulse.simulation import site
from stream.content.bulk import read
from stream.learning.catalogue import Catalogue, entry_of
from stream.learning.items import SITE_ITEMS, item_kind, item_of


def test_every_recommendable_path_the_simulator_visits_is_a_published_seeded_item() -> None:
    today = date.today()
    term = (today, today + timedelta(days=1))  # the weeks around today are seeded anyway
    entries = [e for e in read(orjson.dumps(seed.catalogue(term, today)), "json")]
    catalogue, seeded = Catalogue(), set()
    for e in entries:
        if e.type == "experiment":
            continue
        snapshot = orjson.dumps({"type": e.type, **e.fields})  # as dojo.content carries it
        assert e.publish and catalogue.follow(e.item_id, snapshot), e.item_id
        found = entry_of(e.item_id, snapshot)
        assert found is not None
        seeded.add(found.path)
    eligible = {
        item for page in site.ALL_PAGES if (item := SITE_ITEMS.item(item_of(page.url))) is not None
    }
    assert {"/events", "/resources", "/blog", "/blog/why-scratch-first"} <= eligible
    assert eligible - seeded == set()
    now_ms = int(time.time() * 1000)
    assert all(catalogue.allows(i, now_ms) for i in eligible if item_kind(i) == "page")
    open_events = [
        p.url for p in site.UPCOMING if seed.event_fields(seed.session_on(date.fromisoformat(
            p.url[-10:]))) ["status"] == "scheduled"
    ]  # fmt: skip
    assert open_events and all(catalogue.allows(url, now_ms) for url in open_events)
    assert not any(catalogue.allows(p.url, now_ms) for p in site.PAST)


def test_a_hub_page_left_out_of_the_seed_would_not_be_recommended() -> None:
    catalogue = Catalogue()
    for path, title, body in seed.PAGES:
        if path != "/blog":
            page = {"type": "page", "path": path, "title": title, "body": body}
            catalogue.follow(f"page:{path}", orjson.dumps(page))
    assert catalogue.allows("/events", 0) and not catalogue.allows("/blog", 0)
