"""A child's name typed into a real GET form is in no byte the product keeps.

A page of the test's own, on one of the site's origins, embeds the real ``beacon.js`` from
a running collector and holds a ``<form method="get">``. Headless Chromium types a child's
name and a parent's email and submits; the next page's URL carries both, and the beacon
sends that URL. Then every topic of the test (raw, clean, dead letters, metrics, the
worker's checkpoints), every Redis key and value, and every file the product processes
wrote (logs included) are searched for the name and the email in all their spellings.
The page views themselves must have arrived, so the search is not vacuous. A second test
sends an attacker's markup as page URLs and checks what the site's API recommends.
"""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from stream.ingest.bundles import batches_of
from stream.models.keys import Keys
from stream.settings import Settings
from stream.topics import describe
from tests.browser.conftest import chromium
from tests.integration.conftest import Proc, healthy, read_topic, wait_for
from tests.integration.test_ingest_pipeline import BROWSER

pytestmark = [pytest.mark.integration, pytest.mark.browser]

Stack = tuple[Settings, str, str, Proc]
SITE = ("/events/robot-rally", "/resources/scratch-starter-cards")

CHILD = "Zebediah Quillfeather"
EMAIL = "quillfeather.parent@example.org"
# Every spelling a URL, a form encoding or JSON could give them, compared case-blind.
NEEDLES = (
    b"zebediah",
    b"quillfeather",
    b"zebediah+quillfeather",
    b"zebediah%20quillfeather",
    b"quillfeather.parent%40example.org",
    EMAIL.encode(),
)


def page(title: str, collector: str, body: str) -> bytes:
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<script src="{collector}/beacon.js" data-endpoint="{collector}/collect" defer></script>
</head><body>{body}</body></html>""".encode()


def site_pages(collector: str) -> dict[str, bytes]:
    """The test site: a sign-up form, the page it submits to, and a page linked from there."""
    form = """<h1>Sign up for the Scratch dojo</h1>
<form id="signup" method="get" action="/thanks">
  <label>Child's name <input id="child_name" name="child_name"></label>
  <label>Parent's email <input id="parent_email" name="parent_email" type="email"></label>
  <input type="hidden" name="utm_source" value="newsletter">
  <button id="go" type="submit">Sign up</button>
</form>"""
    thanks = '<h1>Thank you!</h1><a id="next" href="/resources/scratch-starter-cards">Next</a>'
    return {
        "/signup": page("Sign up", collector, form),
        "/thanks": page("Thank you", collector, thanks),
        "/resources/scratch-starter-cards": page("Scratch Starter Cards", collector, "<p>Cards"),
    }


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """A tiny site on a free port; its pages are filled in once the collector is known."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?", 1)[0])
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test's own server: its request lines would hold the query

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium that does not say so: a crawler's events would be dead-lettered."""
    driver = chromium(tmp_path / "chromium-profile", f"--user-agent={BROWSER}")
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def stack(
    stack_settings: Settings,
    start: Callable[..., Proc],
    site: tuple[str, dict[str, bytes]],
) -> Stack:
    """Collector and worker for the site's origin: settings, collector URL, origin, worker."""
    origin, pages = site
    settings = replace(stack_settings, site_origins=(origin,))
    collector = start(["collector"], settings)
    worker = start(["worker"], settings)
    url = f"http://{settings.collector_host}:{settings.collector_port}"
    wait_for(lambda: healthy(f"{url}/healthz") or not collector.alive(), 30, "the collector")
    assert collector.alive(), collector.output()
    pages.update(site_pages(url))
    return settings, url, origin, worker


def test_a_childs_name_from_a_get_form_is_in_no_stored_byte(
    stack: Stack,
    browser: Any,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    settings, _, origin, worker = stack
    browser.get(f"{origin}/signup")
    browser.find_element(By.ID, "child_name").send_keys(CHILD)
    browser.find_element(By.ID, "parent_email").send_keys(EMAIL)
    browser.find_element(By.ID, "go").click()
    wait_for(lambda: "/thanks?" in browser.current_url, 15, "the form's next page")
    assert "child_name=Zebediah+Quillfeather" in browser.current_url  # what the beacon sees
    browser.find_element(By.ID, "next").click()  # its referrer is the URL with the query
    wait_for(lambda: "/resources/" in browser.current_url, 15, "the linked page")
    browser.get("about:blank")  # leaving the page makes the beacon send what it holds

    # Positive control: both views arrived, whatever became of their queries.
    def views(events: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {
            (str(e.get("url")), str(e.get("referrer")))
            for e in events
            if isinstance(e, dict) and e.get("type") == "page_view"
        }

    def arrived(events: list[dict[str, Any]]) -> bool:
        paths = {(url.split("?")[0], ref.split("?")[0]) for url, ref in views(events)}
        return {
            ("/thanks", f"{origin}/signup"),
            ("/resources/scratch-starter-cards", f"{origin}/thanks"),
        } <= paths

    raw = asyncio.run(
        read_topic(
            settings,
            settings.topic_raw,
            lambda v: arrived([e for r in v for e in r["events"]]),
            deadline_s=60,
        )
    )
    assert arrived([e for r in raw for e in r["events"]]), raw
    clean = asyncio.run(
        read_topic(
            settings,
            settings.topic_events,
            lambda v: arrived([e for b in batches_of(v) for e in b["events"]]),
            deadline_s=90,
        )
    )
    assert arrived([e for b in batches_of(clean) for e in b["events"]]), worker.output()
    # Let the metric and learning agents publish, serve and checkpoint what they folded.
    store, keys = redis.Redis.from_url(settings.redis_url), Keys.of(settings)
    wait_for(
        lambda: bool(store.exists(keys.popular, keys.snapshot("traffic")) == 2),
        90,
        "snapshots and recommendations in Redis",
    )

    def checkpointed() -> bool:
        written = asyncio.run(topic_bytes(settings))
        return any(blobs for name, blobs in written.items() if name.startswith(settings.app_id))

    wait_for(checkpointed, 90, "the worker's checkpoints in Kafka")
    topics = asyncio.run(topic_bytes(settings))

    places = {f"topic {name}": blobs for name, blobs in topics.items()}
    places["redis"] = redis_bytes(store)
    places["files"] = [
        path.read_bytes()
        for path in tmp_path.rglob("*")
        if path.is_file() and "chromium-profile" not in path.parts
    ]
    assert len(places) >= 5 and places["files"], places.keys()  # raw, events, dlq, metrics...
    found: dict[str, set[str]] = {}
    for place, blobs in places.items():
        for blob in blobs:
            seen = expand(blob)
            found.setdefault(place, set()).update(n.decode() for n in NEEDLES if n in seen)
    assert not {place: hits for place, hits in found.items() if hits}
    # The search would see the name even compressed in a checkpoint, in any case.
    assert NEEDLES[1] in expand(b"\x00" + zlib.compress(b"Quillfeather", 1))
    # Campaign tags are kept: the query was cut by rule, not lost.
    assert {
        ("/thanks?utm_source=newsletter", f"{origin}/signup"),
        ("/resources/scratch-starter-cards", f"{origin}/thanks?utm_source=newsletter"),
    } <= views([e for r in raw for e in r["events"]])


def test_an_attackers_markup_is_never_recommended(stack: Stack) -> None:
    _, url, origin, _ = stack
    now = int(time.time() * 1000)
    xss = "/resources/<img src=x onerror=alert(1)>"
    # A quarter of the views are of the site's own pages, the rest an attacker's strings.
    hostile = [xss, "/resources/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/admin/delete-all"]
    events = [
        {
            "event_id": f"xss_{now}_{n:05d}",
            "type": "page_view",
            "ts": now - 1000,
            "session_id": f"sess_{now}_{n % 5}",
            "url": hostile[n % len(hostile)] if n % 4 else SITE[n % 8 // 4],
            "props": {},
        }
        for n in range(80)
    ]
    headers = {"User-Agent": BROWSER, "Origin": origin}
    with httpx.Client(base_url=url, timeout=15) as client:
        for start in range(0, len(events), 20):
            sent = client.post(
                "/collect", json={"events": events[start : start + 20]}, headers=headers
            )
            assert sent.status_code == 202, sent.text
        answers: list[dict[str, Any]] = []

        def recommended() -> bool:
            answer = client.get("/api/recommendations?n=20", headers=headers)
            answers.append(answer.json())
            return answer.status_code == 200 and bool(answer.json()["items"])

        wait_for(recommended, 90, "recommendations from the worker")
        # The worker serves about once a second: read the answers of a few more refreshes.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            recommended()
    shown = {item["item"] for answer in answers for item in answer.get("items", [])}
    assert shown and shown <= set(SITE), shown


async def topic_bytes(settings: Settings) -> dict[str, list[bytes]]:
    """Every message (key and value) of every topic this test's processes wrote."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
    await admin.start()
    try:
        mine = (f"{settings.topic_prefix}.", settings.app_id)
        partitions = {n: p for n, p in (await describe(admin)).items() if n.startswith(mine)}
    finally:
        await admin.close()
    tps = [TopicPartition(name, p) for name, count in partitions.items() for p in range(count)]
    out: dict[str, list[bytes]] = {name: [] for name in partitions}
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + 60
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, "could not read every topic to its end"
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                out[tp.topic] += [(r.key or b"") + b"\n" + (r.value or b"") for r in records]
    finally:
        await consumer.stop()
    return out


def redis_bytes(store: redis.Redis) -> list[bytes]:
    """Every key and every value in Redis, read by type (DUMP may compress)."""
    out: list[bytes] = []
    for key in store.scan_iter(count=500):
        out.append(key)
        kind = store.type(key).decode()
        if kind == "string":
            out.append(store.get(key) or b"")
        elif kind == "hash":
            out += [b for pair in store.hgetall(key).items() for b in pair]
        elif kind == "list":
            out += store.lrange(key, 0, -1)
        elif kind == "set":
            out += list(store.smembers(key))
        elif kind == "zset":
            out += [member for member, _ in store.zrange(key, 0, -1, withscores=True)]
        else:  # streams and newer types: their serialized form, searched inflated
            out.append(store.dump(key) or b"")
    return out


def expand(blob: bytes) -> bytes:
    """``blob`` lowercased, with every zlib stream inside it inflated and appended."""
    parts = [blob]
    for start in range(len(blob) - 1):
        if blob[start] == 0x78 and blob[start + 1] in (0x01, 0x5E, 0x9C, 0xDA):
            try:
                parts.append(zlib.decompressobj().decompress(blob[start:], 64 * 1024 * 1024))
            except zlib.error:
                continue
    return b"\n".join(parts).lower()
