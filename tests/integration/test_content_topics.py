"""The content topics on the real broker: what publishing writes, and the repair at start."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from stream.content import ContentService
from stream.content.kafka import send_all
from stream.content.messages import Outbox, Topics
from stream.settings import Settings
from stream.store import open_store
from stream.topics import content_revisions_topic, content_topic
from tests.integration.conftest import PrivateKafka, Proc, healthy, wait_for
from tests.store.content_items import event, page

Record = tuple[str, Any]


async def read_keyed(
    settings: Settings, topic: str, done: Callable[[list[Record]], bool]
) -> list[Record]:
    """(key, value or None) of ``topic`` from the start, until ``done`` or 60 s."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        records: list[Record] = []
        end = time.monotonic() + 60
        while time.monotonic() < end and not done(records):
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records += [
                    (r.key.decode(), None if r.value is None else orjson.loads(r.value))
                    for r in batch
                ]
        return records
    finally:
        await consumer.stop()


def live_feed(settings: Settings, start: Callable[..., Proc]) -> str:
    proc = start(["live"], settings)
    url = f"http://{settings.live_host}:{settings.live_port}"
    wait_for(lambda: healthy(f"{url}/healthz") or not proc.alive(), 30, "the live feed")
    assert proc.alive(), proc.output()
    return url


def test_admin_writes_reach_both_topics_in_order(
    stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    url = live_feed(stack_settings, start)
    auth = {"Authorization": f"Bearer {stack_settings.admin_token.reveal()}"}
    api = f"{url}/api/admin/content"
    with httpx.Client(headers=auth, timeout=10) as client:
        assert (
            client.post(
                api, json={"type": "event", "fields": event(), "message": "new"}
            ).status_code
            == 201
        )
        assert client.post(api, json={"type": "page", "fields": page()}).status_code == 201
        assert client.post(f"{api}/event:scratch-2026-12-05/publish", json={}).status_code == 200
        assert client.post(f"{api}/page:/about/publish", json={}).status_code == 200
        edited = client.put(
            f"{api}/event:scratch-2026-12-05",
            json={"fields": event(title="Draft only")},
            headers={"If-Match": '"1"'},
        )
        assert edited.status_code == 200
        assert client.post(f"{api}/page:/about/unpublish", json={}).status_code == 200

    def catalogue_done(records: list[Record]) -> bool:
        return ("page:/about", None) in records

    catalogue = asyncio.run(
        read_keyed(stack_settings, content_topic(stack_settings), catalogue_done)
    )
    live = [(key, value and value["revision"]) for key, value in catalogue]
    # The start's repair may come first (an empty catalogue sends nothing); then the writes.
    assert live[-3:] == [("event:scratch-2026-12-05", 1), ("page:/about", 1), ("page:/about", None)]
    assert all("Draft only" not in orjson.dumps(value).decode() for _, value in catalogue)
    revisions = asyncio.run(
        read_keyed(stack_settings, content_revisions_topic(stack_settings), lambda r: len(r) >= 3)
    )
    assert [(key, value["revision"], value["author"]) for key, value in revisions] == [
        ("event:scratch-2026-12-05", 1, "admin"),
        ("page:/about", 1, "admin"),
        ("event:scratch-2026-12-05", 2, "admin"),
    ]
    assert revisions[2][1]["fields"]["title"] == "Draft only"


def test_a_lost_send_is_repaired_when_the_live_feed_starts(
    stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    engine = open_store(stack_settings)
    lost = Outbox()  # what publishing handed over, never sent: Kafka was away
    service = ContentService(engine, lost, settings=stack_settings)
    service.create("page", page(), "seed")
    service.publish("page:/about")
    engine.dispose()
    assert len(lost.messages) == 2
    live_feed(stack_settings, start)
    catalogue = asyncio.run(
        read_keyed(stack_settings, content_topic(stack_settings), lambda r: len(r) >= 1)
    )
    assert catalogue == [
        ("page:/about", {"id": "page:/about", "type": "page", "revision": 1, **page()})
    ]


def test_send_all_delivers_and_a_repeat_changes_no_key(stack_settings: Settings) -> None:
    topics = Topics.of(stack_settings)
    messages = [
        topics.live("page:/a", {"id": "page:/a", "revision": 1}),
        topics.live("page:/b", None),
    ]
    asyncio.run(send_all(stack_settings.kafka, messages))
    asyncio.run(send_all(stack_settings.kafka, messages))
    records = asyncio.run(read_keyed(stack_settings, topics.content, lambda r: len(r) >= 4))
    assert dict(records) == {"page:/a": {"id": "page:/a", "revision": 1}, "page:/b": None}


def test_run_seeds_the_catalogue_once_and_the_site_serves_it(
    stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    from datetime import date

    from dojo_pulse import seed

    run = start(["run", "--rate", "2", "--backfill-days", "0"], stack_settings)
    wait_for(lambda: "Live activity panel" in run.output() or not run.alive(), 240, "the panel")
    assert run.alive(), run.output()
    assert "content: seeded " in run.output()
    collector = f"http://{stack_settings.collector_host}:{stack_settings.collector_port}"
    upcoming = httpx.get(f"{collector}/api/content/events", params={"upcoming": "1"}, timeout=10)
    slugs = {item["slug"] for item in upcoming.json()["items"]}
    # Sessions after today: one today may be over already (the API counts hours).
    visited = {s.slug for s in seed.around(date.today()) if s.day > date.today()}
    assert visited <= slugs
    assert (
        httpx.get(f"{collector}/api/content/pages/about", timeout=10).json()["title"]
        == "About the dojo"
    )
    catalogue = asyncio.run(
        read_keyed(stack_settings, content_topic(stack_settings), lambda r: len(r) >= 20)
    )
    assert {key for key, _ in catalogue} >= {f"event:{slug}" for slug in visited}
    run.stop()
    again = start(["run", "--rate", "2", "--backfill-days", "0"], stack_settings)
    wait_for(lambda: "Live activity panel" in again.output() or not again.alive(), 240, "the panel")
    assert again.alive() and "content: seeded" not in again.output()


def test_messages_sent_while_kafka_is_down_arrive_once_it_is_back(
    private_kafka: PrivateKafka,
) -> None:
    from dataclasses import replace

    from stream.content.kafka import KafkaPublisher
    from stream.topics import ensure_topics

    settings = replace(Settings(), kafka=private_kafka.bootstrap, topic_prefix="outage")
    topics = Topics.of(settings)
    private_kafka.stop()

    async def scenario() -> KafkaPublisher:
        publisher = KafkaPublisher(settings.kafka, retry_s=0.2)
        await publisher.start()
        publisher.send([topics.live("page:/a", {"id": "page:/a", "revision": 1})])
        publisher.send([topics.live("page:/a", {"id": "page:/a", "revision": 2})])
        await asyncio.to_thread(private_kafka.start)
        await ensure_topics(settings)
        await asyncio.wait_for(publisher.drained(), 90)
        await publisher.stop()
        return publisher

    publisher = asyncio.run(scenario())
    assert publisher.failures >= 1 and publisher.sent == 2
    records = asyncio.run(read_keyed(settings, topics.content, lambda r: len(r) >= 2))
    assert [value["revision"] for _, value in records] == [1, 2]  # in order, once each
