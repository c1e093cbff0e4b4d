"""The seeded catalogue: a valid term of weekly sessions, the slugs the simulator visits, once."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta

import orjson
import sqlalchemy as sa

from dojo_pulse import seed
from dojo_pulse.simulation import site
from infra.process import free_port
from stream.content import ContentService
from stream.content.bulk import read
from stream.settings import Settings
from stream.store import open_store

TERM = (date(2026, 9, 1), date(2026, 12, 20))


def test_the_catalogue_is_valid_and_covers_the_term_weekly() -> None:
    entries = read(orjson.dumps(seed.catalogue(TERM, date(2026, 10, 14))), "json")
    events = [e for e in entries if e.type == "event"]
    days = [date.fromisoformat(e.fields["starts_at"][:10]) for e in events]
    assert days[0] == date(2026, 9, 5) and days[-1] == date(2026, 12, 19)
    assert len(days) == 16 and all(d.weekday() == 5 for d in days)
    assert all(b - a == timedelta(days=7) for a, b in itertools.pairwise(days))
    assert len({e.item_id for e in entries}) == len(entries)
    assert {e.type for e in entries} == {"event", "resource", "page", "experiment"} and all(
        e.publish for e in entries
    )
    first = events[0].fields
    assert first["starts_at"] == "2026-09-05T10:00:00+01:00"  # British Summer Time
    assert events[-1].fields["starts_at"] == "2026-12-19T10:00:00+00:00"
    assert {e.fields["status"] for e in events} == {"scheduled", "full"}


def test_the_catalogue_reaches_the_weeks_around_today_outside_the_term() -> None:
    summer = date(2026, 8, 12)  # a holiday: the latest term has ended
    ids = {e.item_id for e in read(orjson.dumps(seed.catalogue(TERM, summer)), "json")}
    assert {f"event:{s.slug}" for s in seed.around(summer)} <= ids


def test_the_simulator_visits_the_seeded_slugs() -> None:
    today = date.today()
    ids = {e.item_id for e in read(orjson.dumps(seed.catalogue(TERM, today)), "json")}
    for page in site.EVENT_PAGES:
        assert f"event:{page.url.removeprefix('/events/')}" in ids
    for page in site.RESOURCE_PAGES:
        assert f"resource:{page.url.removeprefix('/resources/')}" in ids
    assert len(site.UPCOMING) == len(site.PAST) == seed.WINDOW_WEEKS
    assert all(p.item_id == "event:" + p.url.removeprefix("/events/") for p in site.EVENT_PAGES)


def test_seed_once_imports_once_per_deployment(store_settings: Settings) -> None:
    settings = replace(store_settings, kafka=f"127.0.0.1:{free_port()}")  # Kafka away: a warning
    said: list[str] = []
    assert seed.seed_once(settings, said.append, today=date(2026, 12, 3), kafka_wait_s=0.5)
    assert said[0].startswith("content: seeded ") and "live feed sends it" in said[1]
    engine = open_store(settings)
    try:
        service = ContentService(engine)
        published = service.published()
        assert len(published) == len(service.list()) > 20
        service.update(
            "page:/about", {**service.get("page:/about")["fields"], "title": "Ours"}, 1, "admin"
        )
        assert not seed.seed_once(settings, said.append, kafka_wait_s=0.5)
        assert service.get("page:/about")["fields"]["title"] == "Ours"
    finally:
        engine.dispose()


def test_a_store_with_content_is_never_seeded(store_settings: Settings, store: sa.Engine) -> None:
    ContentService(store).create("page", {"path": "/x", "title": "X", "body": "x"}, "admin")
    assert not seed.seed_once(store_settings, print, kafka_wait_s=0.5)
    assert [i.id for i in ContentService(store).list()] == ["page:/x"]
