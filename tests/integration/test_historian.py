"""The historian on the real stack: closed minutes reach the store once, whatever stops.

Events over three phases with event times in the past hour. A worker without
``keep_history`` folds phase A (its minutes wait in ``history.minutes``); a worker with every
agent takes phase B, its historian catching up on A, and is SIGKILLed mid-way; a third
worker takes phase C (whose events close B's last minutes). ``/api/history`` then counts
exactly the page views of A and B: nothing lost while the historian was away, nothing
doubled by the replays, and the store holds no visitor or session id. The same test runs
on SQLite (the default store) and on a real PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dojo_pulse.simulation import Request, generate
from stream.runtime.minutes_out import TOPIC as MINUTES_TOPIC
from stream.settings import AGENTS, Secret, Settings
from tests.integration.conftest import Proc, group_lag, healthy, read_topic, wait_for
from tests.integration.test_ground_truth import produce, snapshot
from tests.store.conftest import postgres_server  # noqa: F401 (the session's server)

pytestmark = pytest.mark.integration

MINUTE_MS = 60_000
RATE = 30  # events per second of event time
PHASE_S = 240


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The store the stack keeps history in: "" (SQLite in the data dir) or a PostgreSQL one."""
    if request.param == "sqlite":
        yield ""
        return
    server = request.getfixturevalue("postgres_server")
    name = f"t{uuid.uuid4().hex}"
    yield server.create_database(name)
    server.drop_database(name)


def stored_bytes(settings: Settings, url: str) -> bytes:
    """Every byte the store holds: SQLite's files, or every value of every table."""
    if not url:
        return b"".join(p.read_bytes() for p in settings.data_dir.glob("pulse.db*"))
    engine = sa.create_engine(url)
    try:
        tables = sa.MetaData()
        tables.reflect(engine)
        with engine.connect() as conn:
            return b"".join(
                value if isinstance(value, bytes) else str(value).encode()
                for table in tables.sorted_tables
                for row in conn.execute(sa.select(table))
                for value in row
            )
    finally:
        engine.dispose()


def page_views(requests: list[Request], start: int, end: int) -> int:
    """Accepted page views with event times in [start, end)."""
    return sum(
        1
        for request in requests
        for event, expect in zip(request.body["events"], request.expect, strict=True)
        if event["type"] == "page_view" and not expect and start <= event["ts"] < end
    )


def history(settings: Settings, path: str) -> Any:
    url = f"http://{settings.live_host}:{settings.live_port}/api/history{path}"
    token = settings.admin_token.reveal()
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def views(settings: Settings, start: int, end: int) -> float:
    body = history(settings, f"/traffic?from={start}&to={end}&interval=minute")
    return float(body["total"].get("views", 0))


def sent_views(settings: Settings, start: int, end: int) -> float:
    """Traffic views of the newest record per key of history.minutes (what the agents sent)."""
    records = asyncio.run(
        read_topic(replace(settings, partitions=1), settings.topic(MINUTES_TOPIC), lambda _: False,
                   deadline_s=5, settle_s=0)
    )  # fmt: skip
    newest = {
        (r["start"], r["part"]): r["tally"]["counts"].get("views", 0)
        for r in records
        if r["channel"] == "traffic" and start <= r["start"] < end
    }
    return float(sum(newest.values()))


async def minutes_lag(settings: Settings) -> int:
    """Records of history.minutes the historian's group has not committed."""
    topic = TopicPartition(settings.topic(MINUTES_TOPIC), 0)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(
            settings.history_group, partitions=[topic]
        )
        end = (await consumer.end_offsets([topic]))[topic]
        return int(end - max(committed[topic].offset if topic in committed else 0, 0))
    finally:
        await consumer.stop()
        await admin.close()


def test_the_store_holds_every_closed_minute_once_across_a_stopped_and_a_killed_historian(
    stack_settings: Settings, start: Callable[..., Proc], store_url: str
) -> None:
    settings = replace(stack_settings, database_url=Secret(store_url))
    now = int(time.time() * 1000)
    a = now - now % MINUTE_MS - 30 * MINUTE_MS
    b, c = a + PHASE_S * 1000, now - 60_000
    phases = [
        list(generate(seed, rate=RATE, duration_s=PHASE_S, start_ms=at)[0])
        for seed, at in ((31, a), (32, b))
    ]
    phases.append(list(generate(33, rate=RATE, duration_s=55, start_ms=c)[0]))
    everything = [r for phase in phases for r in phase]
    end = b + PHASE_S * 1000
    expected_a, expected = page_views(phases[0], a, b), page_views(everything, a, end)
    assert expected_a > 500 and expected > expected_a

    live = start(["live"], settings)
    live_url = f"http://{settings.live_host}:{settings.live_port}/healthz"
    wait_for(lambda: healthy(live_url) or not live.alive(), 30, "the live feed")
    assert live.alive(), live.output()

    # Phase A with the historian away: the metric agents fold it and send its minutes.
    no_historian = tuple(agent for agent in AGENTS if agent != "keep_history")
    first = start(["worker"], replace(settings, agents=no_historian))
    asyncio.run(produce(settings, phases[0]))
    wait_for(
        lambda: asyncio.run(group_lag(settings, settings.topic_events)) == 0 or not first.alive(),
        180, "the first worker to fold phase A",
    )  # fmt: skip
    assert first.alive(), first.output()
    assert views(settings, a, end) == 0  # nobody wrote the store yet
    first.stop()

    # Phase B with every agent: the historian catches up on A, then is killed mid-way.
    second = start(["worker"], settings)
    asyncio.run(produce(settings, phases[1]))
    wait_for(
        lambda: views(settings, a, end) > expected_a or not second.alive(),
        180, "the historian to catch up on phase A and write some of phase B",
    )  # fmt: skip
    assert second.alive(), second.output()
    assert "keep_history: this worker keeps the history now" in second.output()
    second.stop(signal.SIGKILL)

    # Phase C closes B's last minutes; a new worker replays what the killed one left.
    third = start(["worker"], settings)
    asyncio.run(produce(settings, phases[2]))
    wait_for(
        lambda: views(settings, a, end) >= expected or not third.alive(),
        240, f"{expected} page views in the store",
    )  # fmt: skip
    wait_for(lambda: asyncio.run(minutes_lag(settings)) == 0, 60, "history.minutes committed")
    # The store holds what the agents sent, once; and that is every page view of A and B.
    assert views(settings, a, end) == sent_views(settings, a, end)
    assert snapshot(settings, "traffic").get("late") == 0
    assert views(settings, a, end) == expected  # and not more: nothing was counted twice
    by_minute = history(settings, f"/traffic?from={a}&to={end}&interval=minute")["rows"]
    assert sum(row["views"] for row in by_minute) == expected
    assert {row["start"] for row in by_minute} <= set(range(a, end, MINUTE_MS))
    by_day = history(settings, f"/traffic?from={a}&to={end}&interval=day")
    assert by_day["total"]["views"] == expected  # the day rows agree with the minutes
    assert {"traffic", "forms", "vitals", "journeys"} <= set(history(settings, "")["channels"])

    # Aggregates only: no visitor or session id in any byte of the store.
    store = stored_bytes(settings, store_url)
    assert b"traffic" in store
    ids = {r.visitor_id for r in everything} | {r.session_id for r in everything}
    assert [i for i in ids if i.encode() in store] == []
