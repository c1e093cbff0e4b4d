"""20,000+ hostile beacon requests against the real collector and validate stage.

The corpus is built from simulated site traffic with a fixed seed: every JSON type in every
field, wrong types, oversize strings, unknown types, deep nesting, binary garbage, wrong
encodings and media types, and the poison pills that used to stop the worker for good
(``web_vital`` with ``props.name`` an array). Whatever the collector accepts is conserved
exactly: each event of a 202 ends once in ``dojo.events`` or once in ``dojo.events.dlq``,
no check raised (no ``invalid`` dead letter), and the worker is alive to pass a valid event
sent after all of it.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from dojo_pulse.simulation import generate
from stream.ingest.bundles import batches_of
from stream.ingest.contract import EVENT_KEYS, PROPS, REASONS, TYPES
from stream.settings import Settings
from tests.integration.conftest import Proc, group_lag, read_topic, wait_for

pytestmark = pytest.mark.integration

SEED = 20261202
REQUESTS = 20_000
IN_FLIGHT = 32
ODD_STRINGS = ["", " ", "LCP", "blur", "é" * 40, "\U0001f600", "\x00", "<img src=x onerror=1>",
               "x" * 3000, "\u202eevil", "\ud800", "null", "1e308", "/"]  # fmt: skip
ODD_NUMBERS = [0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**64 - 1, 2**64, -(2**63) - 1, 10**30,
               -0.0, 0.5, 1.0000001, 5e-324, 1e308, -1e308, float("nan"), float("inf")]  # fmt: skip
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
UNKNOWN_TYPES = ["purchase", "PAGE_VIEW", "page_view ", "", "__proto__", "constructor"]


@dataclass(frozen=True)
class Hostile:
    """One request of the corpus: its bytes, media type, user agent and what it is."""

    body: bytes
    content_type: str
    user_agent: str
    kind: str


def odd_value(rng: random.Random, depth: int = 0) -> Any:
    """A JSON value of any type, edges first: null, bools, huge numbers, odd text, containers."""
    roll = rng.randrange(8 if depth < 3 else 5)
    if roll == 0:
        return None
    if roll == 1:
        return rng.random() < 0.5
    if roll == 2:
        return rng.choice(ODD_NUMBERS)
    if roll == 3:
        return rng.choice(ODD_STRINGS)
    if roll == 4:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(12)))
    if roll == 5:
        return [odd_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    if roll == 6:
        return {rng.choice(ODD_STRINGS[:6]): odd_value(rng, depth + 1) for _ in range(3)}
    return rng.choice([[], {}, ["LCP"], {"LCP": 1}, [[[]]], {"name": "LCP"}])


def mutate(rng: random.Random, event: dict[str, Any]) -> Any:
    """The event with one hostile change (or, now and then, not an event at all)."""
    item = json.loads(json.dumps(event))
    kind = item.get("type")
    props = item.get("props") if isinstance(item.get("props"), dict) else {}
    required, optional = PROPS.get(kind, ({}, {})) if isinstance(kind, str) else ({}, {})
    roll = rng.randrange(10)
    if roll < 4:  # any JSON value in any field, top level or property
        names = [*EVENT_KEYS, *(f"props.{key}" for key in (*required, *optional))]
        name = rng.choice(names)
        if name.startswith("props.") and isinstance(item.get("props"), dict):
            item["props"][name.removeprefix("props.")] = odd_value(rng)
        else:
            item[name] = odd_value(rng)
    elif roll == 4:  # fields missing
        item.pop(rng.choice(list(item)), None)
        for key in [k for k in props if rng.random() < 0.5]:
            props.pop(key)
    elif roll == 5:
        item[rng.choice(["extra", "props.extra", "__proto__"])] = odd_value(rng)
        if rng.random() < 0.5:
            props["typed_value"] = "kid@example.com"
    elif roll == 6:
        item["type"] = rng.choice([*sorted(TYPES), *UNKNOWN_TYPES, 7, None, ["page_view"]])
    elif roll == 7:
        item[rng.choice(["url", "referrer"])] = "/" + rng.choice("aé😀") * rng.randrange(2000, 5000)
    elif roll == 8:
        return odd_value(rng)
    else:
        item["ts"] = rng.choice([item.get("ts", 0) - 49 * 3_600_000, item.get("ts", 0) + 10**7])
    return item


def poison(rng: random.Random, n: int, ts: int) -> dict[str, Any]:
    """An event that used to stop the worker for good: a choice property holding a container."""
    pill: Any = rng.choice([[], {}, ["LCP"], {"LCP": 1}])
    if n % 2:
        props = {"form_id": "registration", "field": "email", "action": pill}
        kind = "form_field"
    else:
        props, kind = {"name": pill, "value": 1}, "web_vital"
    return {"event_id": f"pill_{n:06d}", "type": kind, "ts": ts, "session_id": f"sess_pill{n:04d}",
            "url": "/events", "props": props}  # fmt: skip


def encode(rng: random.Random, document: Any) -> bytes:
    """JSON text as careless clients write it: NaN, integers past 64 bits, raw surrogates."""
    text = json.dumps(document, ensure_ascii=rng.random() < 0.3)
    return text.encode("utf-8", errors="surrogatepass")


def corpus(seed: int, now_ms: int) -> tuple[list[Hostile], list[str]]:
    """The hostile requests (deterministic for ``seed``) and the poison pills' event ids."""
    rng = random.Random(seed)
    # About one simulated request per hostile one, so few events repeat an id by accident.
    simulated, _ = generate(seed, rate=350, duration_s=180, start_ms=now_ms - 200_000)
    out: list[Hostile] = []
    pills: list[str] = []
    while len(out) < REQUESTS:
        request = simulated[len(out) % len(simulated)]
        ua = request.user_agent
        events = [mutate(rng, e) if rng.random() < 0.4 else e for e in request.body["events"]]
        media = rng.choice(["application/json", "text/plain;charset=UTF-8"])
        roll = rng.randrange(100)
        if roll < 55:
            kind, body = "mutated", encode(rng, {"events": events})
        elif roll < 62 or not out:
            kind, body = "valid", encode(rng, request.body)
        elif roll < 65:  # a request again, as a beacon retrying: its ids are now duplicates
            again = out[rng.randrange(len(out))]
            kind, body, media, ua = "resent", again.body, again.content_type, again.user_agent
        elif roll < 70:
            kind, body = "single", encode(rng, events[0])
        elif roll < 73:
            n, ua = len(pills), BROWSER  # a crawler's pill would be dead-lettered as "bot"
            pills.append(f"pill_{n:06d}")
            pill = poison(rng, n, now_ms)
            kind, body = "poison", encode(rng, {"events": [*request.body["events"], pill]})
        elif roll < 77:
            depth = rng.choice([8, 20, 31, 40, 300, 1100])
            kind = "deep"
            body = encode(rng, {"events": events})[:-2] + b"," + b"[" * depth + b"]" * depth + b"]}"
        elif roll < 81:
            kind, body = "garbage", rng.randbytes(rng.randrange(1, 400))
        elif roll < 85:
            kind = "encoding"
            text = json.dumps({"events": events}, ensure_ascii=False)
            body = text.encode(rng.choice(["utf-16", "utf-32", "latin-1"]), errors="replace")
        elif roll < 88:
            kind, media = (
                "media",
                rng.choice(["", "text/html", "application/x-www-form-urlencoded"]),
            )
            body = encode(rng, {"events": events})
        elif roll < 91:
            kind, body = "envelope", encode(rng, rng.choice([{"events": odd_value(rng)}, [events],
                                                             {"events": []}, "events", None]))  # fmt: skip
        elif roll < 93:
            kind, body = "oversize", encode(rng, {"events": events * 40, "pad": "p" * 70_000})
        elif roll < 95:
            kind, body = "too_many", encode(rng, {"events": (events * 101)[:101]})
        else:
            kind, ua = "odd_ua", rng.choice(["", "x" * 4000, "curl/8.0", "Googlebot/2.1", "\u00e9"])
            body = encode(rng, {"events": events})
        out.append(Hostile(body, media, ua.encode("latin-1", "replace").decode("latin-1"), kind))
    return out, pills


def events_in(body: bytes) -> int:
    """How many events the collector puts in the raw message of an accepted body."""
    document = json.loads(body)
    return len(document["events"]) if "events" in document else 1


async def send_all(url: str, requests: list[Hostile], origin: str) -> list[int]:
    """POST every request, ``IN_FLIGHT`` at a time; the status of each, in order."""
    # aiohttp, not httpx: at 32 in flight httpx spent ~2 ms of CPU per request, twenty
    # times aiohttp, and the client, not the collector, set the pace.
    statuses = [0] * len(requests)
    pending = iter(range(len(requests)))
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(url, connector=connector) as session:

        async def work() -> None:
            for n in pending:
                r = requests[n]
                headers = {"content-type": r.content_type, "user-agent": r.user_agent,
                           "origin": origin}  # fmt: skip
                async with session.post("/collect", data=r.body, headers=headers) as response:
                    await response.read()
                    statuses[n] = response.status

        await asyncio.gather(*(work() for _ in range(IN_FLIGHT)))
    return statuses


async def read_all(settings: Settings, topic: str) -> list[Any]:
    """Every message of ``topic`` now: read until the end offsets of this moment."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        total = sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()
    return await read_topic(settings, topic, lambda v: len(v) >= total, 90.0, 0.5)


def payload_id(letter: dict[str, Any]) -> Any:
    """The event id a dead letter's payload holds, if it is whole and has one."""
    try:
        payload = json.loads(letter["payload"])
    except ValueError:
        return None
    return payload.get("event_id") if isinstance(payload, dict) else None


def test_hostile_corpus_is_conserved_and_the_stage_survives(
    stack_settings: Settings, collector_url: str, start: Callable[..., Proc]
) -> None:
    # The validate stage alone (DOJO_AGENTS=validate): the stage under test, and the metric
    # agents would only share the two cores with it.
    settings = replace(stack_settings, agents=("validate",))
    worker = start(["worker"], settings)
    now_ms = int(time.time() * 1000)
    requests, pills = corpus(SEED, now_ms)
    assert len(requests) >= 20_000 and len(pills) >= 100

    began = time.monotonic()
    origin = settings.site_origins[0]
    statuses = asyncio.run(send_all(collector_url, requests, origin))
    sending_s = time.monotonic() - began
    by_status = Counter(statuses)
    assert set(by_status) <= {202, 400, 413, 415}, by_status  # never a 5xx, never a 429
    accepted = sum(events_in(r.body) for r, s in zip(requests, statuses, strict=True) if s == 202)
    kinds = Counter((r.kind, s) for r, s in zip(requests, statuses, strict=True))
    assert kinds["poison", 202] == len(pills)
    assert kinds["garbage", 202] == kinds["media", 202] == kinds["oversize", 202] == 0
    assert kinds["deep", 400] > 0 and kinds["mutated", 202] > REQUESTS * 0.4

    # After every pill: a valid event must still come through.
    sentinel = {"event_id": f"evt_after_{now_ms}", "type": "page_view", "ts": now_ms,
                "session_id": "sess_sentinel", "url": "/after-the-pills", "props": {}}  # fmt: skip
    reply = httpx.post(
        f"{collector_url}/collect", json=sentinel, headers={"origin": origin, "user-agent": BROWSER}
    )
    assert reply.status_code == 202, reply.text
    accepted += 1

    def drained_or_dead() -> bool:
        return not worker.alive() or asyncio.run(group_lag(settings, settings.topic_raw)) == 0

    wait_for(drained_or_dead, 150, "the worker to commit every raw message")
    assert worker.alive(), worker.output()
    bundles = asyncio.run(read_all(settings, settings.topic_events))
    letters = asyncio.run(read_all(settings, settings.topic_dlq))
    assert worker.alive(), worker.output()

    # Readers drop re-sent copies by source position; so does this count.
    batches = {(b["source_partition"], b["source_offset"], b["source_index"]): b
               for b in batches_of(bundles)}  # fmt: skip
    dead = {(d["source_partition"], d["source_offset"], d["index"]): d for d in letters}
    clean = [e for b in batches.values() for e in b["events"]]
    reasons = Counter(d["reason"] for d in dead.values())
    assert len(clean) + len(dead) == accepted, (len(clean), reasons, accepted, by_status)
    assert set(reasons) <= set(REASONS) and reasons["invalid"] == 0, reasons
    assert f"evt_after_{now_ms}" in {e["event_id"] for e in clean}
    pill_letters = [d for d in dead.values() if payload_id(d) in pills]
    assert {payload_id(d) for d in pill_letters} == set(pills)  # some were sent again
    assert {(d["reason"], d["field"]) for d in pill_letters} == {
        ("schema", "props.name"),
        ("schema", "props.action"),
    }
    print(f"fuzz: {len(requests)} requests in {sending_s:.1f}s {dict(by_status)}; "
          f"{accepted} events = {len(clean)} clean + {len(dead)} dead {dict(reasons)}")  # fmt: skip
