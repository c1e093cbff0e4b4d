"""``dojo-pulse dlq inspect | replay`` against the real Kafka, Redis, worker and collector.

The curable case is a setting the validate stage judges: a worker started with
``DOJO_MAX_EVENT_AGE_H=1`` dead-letters events three hours old as ``too_old``; restarted with
the default 48 hours, a replay lands them in ``dojo.events``, once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from dojo_pulse.dlq.scan import end_offsets
from stream.ingest.bundles import batches_of
from stream.settings import Settings
from stream.topics import replayed_topic
from tests.integration.conftest import Proc, read_topic

pytestmark = pytest.mark.integration

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
HOUR_MS = 3_600_000
EMAIL = "kid.coder@example.com"


def dlq(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "dojo_pulse.cli", "dlq", *args]
    env = {**os.environ, **settings.to_env()}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def view(run: str, n: int, session: int, ts: int, **overrides: Any) -> dict[str, Any]:
    event = {
        "event_id": f"evt_{run}_{n:04d}",
        "type": "page_view",
        "ts": ts,
        "session_id": f"sess_{run}_{session:04d}",
        "url": f"/events/{n}",
        "props": {"title": f"Dojo {n}"},
    }
    return event | overrides


def offsets(settings: Settings) -> list[dict[int, int]]:
    topics = (settings.topic_raw, settings.topic_dlq, replayed_topic(settings))
    return [asyncio.run(end_offsets(settings, topic)) for topic in topics]


def test_inspect_counts_and_replay_cures_a_setting_once(
    stack_settings: Settings, collector_url: str, start: Callable[..., Proc]
) -> None:
    validate_only = replace(stack_settings, agents=("validate_events",))
    strict = replace(validate_only, max_event_age_h=1)
    worker = start(["worker"], strict)
    now = int(time.time() * 1000)
    run = f"{now}"
    fresh = [view(run, n, 1, now - 1000) for n in range(2)]
    old = [
        view(run, 10, 2, now - 3 * HOUR_MS, props={"title": f"write to {EMAIL}"},
             url="/events/10?name=Alice&utm_source=news"),
        view(run, 11, 2, now - 3 * HOUR_MS),
        view(run, 12, 3, now - 2 * HOUR_MS),
    ]  # fmt: skip
    wrong = view(run, 20, 3, now - 1000, props={"title": "x", "typed_value": "secret"})
    with httpx.Client(base_url=collector_url, timeout=10, headers={"User-Agent": BROWSER}) as http:
        for body in (fresh + old[:2], [old[2], wrong], [fresh[0]]):
            reply = http.post("/collect", json={"events": body})
            assert reply.status_code == 202, reply.text

    letters = asyncio.run(
        read_topic(stack_settings, stack_settings.topic_dlq, lambda v: len(v) >= 5)
    )
    assert sorted(letter["reason"] for letter in letters) == [
        "duplicate", "schema", "too_old", "too_old", "too_old",
    ]  # fmt: skip

    report = orjson.loads(ok(dlq(stack_settings, "inspect", "--json")))
    assert report["by_reason"] == {"too_old": 3, "schema": 1, "duplicate": 1}
    assert report["by_field"] == {
        "duplicate": {"event_id": 1},
        "schema": {"props.typed_value": 1},
        "too_old": {"ts": 3},
    }
    assert report["unreadable"] == 0
    assert len(report["samples"]["too_old"]) == 3

    text = ok(dlq(stack_settings, "inspect", "--samples", "5"))
    assert "too_old    ts" in text
    assert "schema     props.typed_value" in text
    # Shown only as the DLQ holds it: scrubbed by the collector, and no visitor id at all.
    for secret in (EMAIL, "Alice", letters[0]["visitor_id"]):
        assert secret not in text
        assert secret not in orjson.dumps(report).decode()

    narrow = orjson.loads(
        ok(dlq(stack_settings, "inspect", "--reason", "too_old", "--field", "ts", "--samples",
               "1", "--since", "10m", "--json"))
    )  # fmt: skip
    assert (narrow["total"], len(narrow["samples"]["too_old"])) == (3, 1)
    future = orjson.loads(ok(dlq(stack_settings, "inspect", "--since", "2100-01-01", "--json")))
    assert future["total"] == 0

    before = offsets(stack_settings)
    dry = ok(dlq(stack_settings, "replay", "--reason", "too_old", "--dry-run"))
    assert dry.startswith("would replay 3 (too_old) in 2 raw messages, skip 0 already replayed")
    assert offsets(stack_settings) == before  # a dry run writes nothing

    # The cure: the same events, judged by a worker with the default age limit.
    worker.stop()
    cured = start(["worker"], validate_only)
    first = ok(dlq(stack_settings, "replay", "--reason", "too_old", "--wait", "120"))
    assert "replayed 3, skipped 0 already replayed" in first
    assert "judged again: 3 accepted, 0 dead-lettered again" in first, cured.output()

    ids = {e["event_id"] for e in old}
    bundles = asyncio.run(
        read_topic(
            stack_settings,
            stack_settings.topic_events,
            lambda v: ids <= {e["event_id"] for b in batches_of(v) for e in b["events"]},
        )
    )
    landed = [e for b in batches_of(bundles) for e in b["events"] if e["event_id"] in ids]
    assert sorted(e["event_id"] for e in landed) == sorted(ids)  # each exactly once
    assert EMAIL not in orjson.dumps(landed).decode()
    received = {orjson.loads(x["payload"])["event_id"]: x["received_at"] for x in letters}
    for batch in batches_of(bundles):
        for e in batch["events"]:
            if e["event_id"] in ids:
                assert batch["received_at"] == received[e["event_id"]]  # the original

    again = ok(dlq(stack_settings, "replay", "--reason", "too_old", "--wait", "120"))
    assert "replayed 0, skipped 3 already replayed" in again

    # Not cured: a duplicate is still caught by the dedupe claims, a schema error stays one.
    duplicate = ok(dlq(stack_settings, "replay", "--reason", "duplicate", "--wait", "120"))
    assert "judged again: 0 accepted, 1 dead-lettered again (duplicate 1)" in duplicate
    schema = ok(dlq(stack_settings, "replay", "--reason", "schema", "--wait", "120"))
    assert "judged again: 0 accepted, 1 dead-lettered again (schema 1)" in schema


HOSTILE: list[bytes | None] = [
    b"not json",
    b"\xff\xfe\x00",
    b"",
    None,
    b"[1, 2]",
    b'"too_old"',
    b"null",
    b"{}",
]


def letter(**overrides: Any) -> dict[str, Any]:
    payload = {"event_id": "evt_hostile01", "type": "page_view", "ts": 1, "session_id":
               "sess_hostile", "url": "/"}  # fmt: skip
    base = {
        "reason": "too_old", "field": "ts", "detail": "event time is older than the accepted age",
        "payload": orjson.dumps(payload).decode(), "truncated": False, "session_id": "sess_hostile",
        "visitor_id": "v" * 16, "received_at": 1_700_000_000_000, "source_topic": "dojo.events.raw",
        "source_partition": 0, "source_offset": 7, "index": 0,
    }  # fmt: skip
    return base | overrides


# Every documented field given every JSON type it must not have.
WRONG_TYPES = [
    {name: value}
    for name in letter()
    for value in ([], {}, None, 1.5, True, "x", 3)
    if type(value) is not type(letter()[name])
]


async def produce(settings: Settings, values: list[bytes | None]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(settings.topic_dlq, value, key=b"k", partition=0)
    finally:
        await producer.stop()


def test_unreadable_records_are_counted_never_shown_never_replayed(
    stack_settings: Settings,
) -> None:
    broken = [orjson.dumps(letter(**change)) for change in WRONG_TYPES]
    broken += [
        orjson.dumps(letter(reason="gone")),
        orjson.dumps(letter(source_offset=-1)),
        orjson.dumps(letter(index=-2)),
        orjson.dumps({k: v for k, v in letter().items() if k != "visitor_id"}),
        b"x" * 200_000,
    ]
    # Readable, but its payload (not JSON: never replayed) would drive a terminal: escaped.
    escape = letter(payload='{"title": "\x1b[2J\u202egnp.exe"}', source_offset=8, index=1)
    readable = [orjson.dumps(letter()), orjson.dumps(escape)]
    asyncio.run(produce(stack_settings, [*HOSTILE, *broken, *readable]))
    unreadable = len(HOSTILE) + len(broken)

    report = orjson.loads(ok(dlq(stack_settings, "inspect", "--json")))
    assert (report["unreadable"], report["total"]) == (unreadable, 2)
    text = ok(dlq(stack_settings, "inspect"))
    assert f"2 dead letters, {unreadable} unreadable" in text
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\x1b[2J\\u202egnp.exe" in text
    assert "x" * 100 not in text and "not json" not in text

    replay = ok(dlq(stack_settings, "replay", "--reason", "too_old", "--wait", "0"))
    assert replay.splitlines() == [
        "replayed 1, skipped 0 already replayed",
        "1 cannot be replayed (malformed, whole message or cut)",
    ]
    # The one readable letter went out in one raw message; nothing of the unreadable ones.
    assert sum(asyncio.run(end_offsets(stack_settings, stack_settings.topic_raw)).values()) == 1


def test_kafka_away_is_one_line(stack_settings: Settings) -> None:
    away = replace(stack_settings, kafka="127.0.0.1:1")
    done = dlq(away, "inspect")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: Kafka at 127.0.0.1:1 cannot be reached (KafkaConnectionError): "
        "start it (dojo-pulse infra up) or set DOJO_KAFKA"
    ]
