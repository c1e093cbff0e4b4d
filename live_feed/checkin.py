"""The mentors' check-in at the door: today's dojo events and one ``attendance`` per arrival.

``GET /checkin`` serves the page (only when ``DOJO_CHECKIN_TOKEN`` is set: else 404). The
page's API takes that token as ``Authorization: Bearer`` (never the admin token, and the
admin session opens nothing here); five wrong tokens a minute per address are answered 429.
``GET /api/checkin/events`` lists today's (UTC) events from the dojo snapshot (the catalogue
as ``count_dojo`` joined it). ``POST /api/checkin/attendance`` takes ``{id, event_id, count,
walk_in, ts}`` and produces one v1.1 ``attendance`` event to ``dojo.events.raw``, where the
validate stage judges it like any other; ``id`` becomes its ``event_id``, so a queue sent
again after a lost answer is counted once (the dedupe window). No name, no person: a head
count per tap, and the session is the day's door.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from live_feed.auth import bearer, token_matches
from live_feed.channels import read_snapshot_raw
from live_feed.panel import STATIC_DIR
from live_feed.throttle import Throttle
from stream.ingest.contract import ID_PATTERN, MAX_HEADCOUNT
from stream.models.raw import RawBatch
from stream.settings import Settings

PAGE = Path(STATIC_DIR) / "checkin.html"
MAX_BODY = 1024
DAY_MS = 86_400_000
MAX_AGE_MS = 24 * 3_600_000  # a queue kept offline longer than this is not today's door
NO_STORE = {"cache-control": "no-store"}
SHOWN = ("id", "title", "starts_ms", "capacity", "net_tickets", "attended")


class AttendanceSink(Protocol):
    """Where an accepted arrival goes (Kafka in production)."""

    async def send(self, session_id: str, raw: bytes) -> None: ...


class KafkaSink:
    """Produces to ``dojo.events.raw``, opened on first use and closed with the app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None

    async def send(self, session_id: str, raw: bytes) -> None:
        if self.producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka, acks="all", request_timeout_ms=10_000
            )
            await producer.start()
            self.producer = producer
        await self.producer.send_and_wait(self.settings.topic_raw, raw, key=session_id.encode())

    async def close(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None


def _refused(request: Request) -> Response | None:
    settings: Settings = request.app.state.settings
    throttle: Throttle = request.app.state.checkin_throttle
    client = request.client.host if request.client else "-"
    now = time.monotonic()
    wait = throttle.wait_s(client, now)
    if wait > 0:
        return JSONResponse({"error": "throttled"}, 429, {"retry-after": str(int(wait) + 1)})
    if not token_matches(settings.checkin_token, bearer(request.headers)):
        throttle.failed(client, now)
        return JSONResponse({"error": "unauthorized"}, 401, NO_STORE)
    return None


async def page(request: Request) -> Response:
    """The check-in page (404 while no check-in token is set)."""
    if not request.app.state.settings.checkin_token.reveal():
        return JSONResponse({"error": "not found"}, 404)
    return FileResponse(PAGE, headers=NO_STORE)


async def events(request: Request) -> Response:
    """Today's dojo events: id, title, start, capacity, booked and arrived so far."""
    if (refused := _refused(request)) is not None:
        return refused
    raw = await read_snapshot_raw(request.app.state.redis, request.app.state.keys, "dojo")
    now = int(time.time() * 1000)
    today = now - now % DAY_MS
    out = []
    if raw is not None:
        rows = orjson.loads(raw).get("data", {}).get("registrations", {}).get("events", [])
        for row in rows:
            starts = row.get("starts_ms")
            if isinstance(starts, int) and today <= starts < today + DAY_MS:
                out.append({key: row.get(key) for key in SHOWN})
    return JSONResponse({"events": out}, headers=NO_STORE)


def judge(body: Any, now_ms: int) -> dict[str, Any] | tuple[str, str]:
    """The arrival in ``body``, or (field, why) for what cannot be accepted."""
    if not isinstance(body, dict):
        return "", "the body must be a JSON object"
    checks = (
        ("id", isinstance(body.get("id"), str) and ID_PATTERN.fullmatch(body["id"]) is not None),
        ("event_id", isinstance(body.get("event_id"), str) and 0 < len(body["event_id"]) <= 64),
        ("count", type(body.get("count")) is int and 1 <= body["count"] <= MAX_HEADCOUNT),
        ("walk_in", type(body.get("walk_in")) is bool),
        (
            "ts",
            type(body.get("ts")) is int and now_ms - MAX_AGE_MS <= body["ts"] <= now_ms + 60_000,
        ),
    )
    for field, ok in checks:
        if not ok:
            return field, "missing or not acceptable"
    unknown = set(body) - {name for name, _ in checks} - {"device"}
    if unknown:
        return sorted(unknown)[0][:40], "unknown field"
    return body


async def attendance(request: Request) -> Response:
    """Accept one arrival: 202 once Kafka has it, 400 naming the field, 503 to retry later."""
    if (refused := _refused(request)) is not None:
        return refused
    data = await request.body()
    if len(data) > MAX_BODY:
        return JSONResponse({"error": "too_large"}, 413)
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return JSONResponse({"error": "bad_request", "field": "", "detail": "not JSON"}, 400)
    now = int(time.time() * 1000)
    arrival = judge(body, now)
    if isinstance(arrival, tuple):
        return JSONResponse(
            {"error": "bad_request", "field": arrival[0], "detail": arrival[1]}, 400
        )
    session = f"checkin-{now // DAY_MS}"  # the day's door: one session per day, no device
    event = {
        "event_id": arrival["id"], "type": "attendance", "ts": arrival["ts"], "session_id": session,
        "url": "/check-in", "props": {"dojo_event_id": arrival["event_id"],
                                      "count": arrival["count"], "walk_in": arrival["walk_in"]},
    }  # fmt: skip
    settings: Settings = request.app.state.settings
    raw = RawBatch(received_at=now, visitor_id="checkin", device="mobile", bot=False,
                   site=settings.site_id, events=[event])  # fmt: skip
    sink: AttendanceSink = request.app.state.checkin_sink
    try:
        await sink.send(session, orjson.dumps(raw.asdict()))
    except (KafkaError, OSError):
        return JSONResponse({"error": "unavailable"}, 503, {"retry-after": "5"})
    return JSONResponse({"queued": arrival["id"]}, 202)


def routes() -> list[Route]:
    """The check-in routes, mounted by ``live_feed.app``."""
    return [
        Route("/checkin", page),
        Route("/api/checkin/events", events),
        Route("/api/checkin/attendance", attendance, methods=["POST"]),
    ]
