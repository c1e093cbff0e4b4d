"""The learner's catalogue follows dojo.content on the real broker, as the service writes it.

The content service publishes, edits and unpublishes items in a real store; its messages go
to the deployment's ``dojo.content`` on the real Kafka; ``follow_catalogue`` (what every
learner runs) reads them from the first, and the catalogue allows exactly what is live.
A second follower started afterwards rebuilds the same catalogue from the compacted topic,
and a follower started while the broker is away waits for it instead of stopping the worker.
And in a running worker: once a catalogue is published, the site is recommended only it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
import redis
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from dojo_pulse.simulation import generate
from stream.agents.learn_online_catalogue import follow_catalogue
from stream.content import ContentService
from stream.content.messages import Outbox, Topics
from stream.learning.catalogue import Catalogue
from stream.learning.items import item_kind
from stream.models.keys import Keys
from stream.secret import Secret
from stream.settings import Settings
from stream.store.engine import open_store
from stream.topics import content_topic, ensure_topics
from tests.integration.conftest import PrivateKafka, Proc, wait_for
from tests.integration.test_ground_truth import produce
from tests.store.content_items import event, page, resource

pytestmark = pytest.mark.integration

NOW_MS = int(time.time() * 1000)
DEADLINE_S = 30.0


async def deliver(settings: Settings, outbox: Outbox) -> None:
    """Send what the service queued, in order, then forget it."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka, acks="all")
    await producer.start()
    try:
        for message in outbox.messages:
            await producer.send_and_wait(message.topic, message.value, key=message.key.encode())
    finally:
        await producer.stop()
    outbox.messages.clear()


async def until(check: object, what: str) -> None:
    """Wait (yielding to the follower) until ``check()`` holds."""
    deadline = time.monotonic() + DEADLINE_S
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)  # the follower runs on this loop meanwhile


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ms / 1000))


def dojo(slug: str, starts_ms: int, **changes: object) -> dict[str, object]:
    """A two-hour dojo event starting at ``starts_ms`` (registration left open)."""
    fields = event(slug, starts_at=iso(starts_ms), ends_at=iso(starts_ms + 7_200_000), **changes)
    del fields["registration_opens"], fields["registration_closes"]
    return fields


def open_now(catalogue: Catalogue) -> set[str]:
    paths = ("/events/scratch-next", "/events/python-past", "/events/robots-full",
             "/resources/scratch-starter-cards", "/about", "/contact")  # fmt: skip
    return {p for p in paths if catalogue.allows(p, NOW_MS)}


def test_the_learner_follows_what_is_published(stack_settings: Settings, tmp_path: Path) -> None:
    settings = replace(stack_settings, database_url=Secret(f"sqlite:///{tmp_path / 'pulse.db'}"))
    outbox = Outbox()
    service = ContentService(open_store(settings), outbox, settings=settings)
    soon, past = NOW_MS + 86_400_000, NOW_MS - 86_400_000
    made = [
        service.create("event", dojo("scratch-next", soon), "test"),
        service.create("event", dojo("python-past", past), "test"),
        service.create("event", dojo("robots-full", soon, status="full"), "test"),
        service.create("resource", resource(), "test"),
        service.create("page", page("/about"), "test"),
        service.create("page", page("/contact"), "test"),  # a draft: never published
    ]  # fmt: skip
    for revision in made[:-1]:
        service.publish(revision.item_id)

    async def scenario() -> None:
        catalogue = Catalogue()
        follower = asyncio.create_task(follow_catalogue(settings, catalogue))
        try:
            await deliver(settings, outbox)
            await until(lambda: len(catalogue) == 5, "the five published items")
            assert open_now(catalogue) == {
                "/events/scratch-next", "/resources/scratch-starter-cards", "/about"}  # fmt: skip

            cancelled = dojo("scratch-next", soon, status="cancelled")
            service.update("event:scratch-next", cancelled, 1, "test")
            service.publish("event:scratch-next")
            service.unpublish("page:/about")
            await deliver(settings, outbox)
            await until(lambda: "/about" not in open_now(catalogue), "the unpublished page")
            await until(lambda: open_now(catalogue) == {"/resources/scratch-starter-cards"},
                        "the cancelled event")  # fmt: skip

            # A worker that starts later reads the same catalogue from the compacted topic.
            again = Catalogue()
            second = asyncio.create_task(follow_catalogue(settings, again))
            try:
                await until(lambda: len(again) == len(catalogue) == 4, "the second follower")
                assert open_now(again) == open_now(catalogue)
            finally:
                second.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await second
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower

    assert content_topic(settings).startswith(settings.topic_prefix)
    asyncio.run(scenario())


def test_a_broker_away_at_start_is_waited_for(
    private_kafka: PrivateKafka, caplog: pytest.LogCaptureFixture
) -> None:
    settings = replace(Settings(), kafka=private_kafka.bootstrap, topic_prefix="away")
    asyncio.run(ensure_topics(settings))
    private_kafka.stop()
    outbox = Outbox()
    outbox.send([Topics.of(settings).live("resource:cards", {"type": "resource", "slug": "cards"})])

    async def scenario() -> None:
        catalogue = Catalogue()
        follower = asyncio.create_task(follow_catalogue(settings, catalogue))
        try:
            await until(
                lambda: "Kafka unavailable" in caplog.text, "the follower to find no broker"
            )
            assert not follower.done()
            await asyncio.to_thread(private_kafka.start)
            for _ in range(20):  # the broker may still be electing the topic's leader
                try:
                    await deliver(settings, outbox)
                    break
                except KafkaError:
                    await asyncio.sleep(0.5)
            await until(lambda: len(catalogue) == 1, "the catalogue once the broker is back")
            assert catalogue.allows("/resources/cards", NOW_MS)
            assert not catalogue.allows("/resources/other", NOW_MS)
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower

    asyncio.run(scenario())


def popular(settings: Settings) -> list[str]:
    """The items the site's API serves to a visitor without history, best first."""
    raw = redis.Redis.from_url(settings.redis_url).get(Keys.of(settings).popular)
    return [entry["item"] for entry in orjson.loads(raw)] if raw else []


def live_snapshot(path: str) -> tuple[str, dict[str, object]]:
    """The item id and live snapshot that publish ``path``: an upcoming event, a resource, a page."""
    kind, slug = item_kind(path), path.rsplit("/", 1)[-1]
    if kind == "event":
        fields = dojo(slug, NOW_MS + 86_400_000)
    elif kind == "resource":
        fields = resource(slug)
    else:
        fields = page(path)
    item_id = f"page:{path}" if kind == "page" else f"{kind}:{slug}"
    return item_id, {"id": item_id, "type": kind, "revision": 1, **fields}


def test_a_running_worker_recommends_only_the_published_catalogue(
    stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    settings = stack_settings
    requests, _ = generate(11, rate=60, duration_s=120, start_ms=NOW_MS - 125_000)
    requests = list(requests)
    worker = start(["worker"], settings)
    asyncio.run(produce(settings, requests[: len(requests) // 2]))
    wait_for(lambda: len(popular(settings)) >= 5 or not worker.alive(), 180,
             "popular items before any catalogue")  # fmt: skip
    assert worker.alive(), worker.output()
    before = popular(settings)

    # Publish two of them (and one nobody visited); the rest are not on the site any more.
    # Resources: an event's own rules (check-ins, its date in the slug) also decide whether
    # it is recommended, whatever the catalogue says, and this test is about the catalogue.
    chosen = [path for path in before if path.startswith("/resources/")][:2]
    assert len(chosen) == 2, before
    outbox = Outbox()
    topics = Topics.of(settings)
    outbox.send([topics.live(*live_snapshot(path)) for path in [*chosen, "/resources/unseen"]])
    asyncio.run(deliver(settings, outbox))
    # Recommendations are refreshed for the visitors new traffic touches.
    asyncio.run(produce(settings, requests[len(requests) // 2 :]))
    wait_for(lambda: set(popular(settings)) == set(chosen) or not worker.alive(), 120,
             f"only {chosen} recommended (now {popular(settings)})")  # fmt: skip
    assert worker.alive(), worker.output()
