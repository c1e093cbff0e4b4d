"""The collector's Starlette app: ``create_app(settings, sink)`` and ``serve(settings)``."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from collector import content_routes, experiments_routes, processes, schema_route, site_api
from collector.answers import error, unavailable
from collector.device import classify, warm_up
from collector.envelope import BadRequest, check_headers, parse_events, read_body
from collector.metrics import CollectorMetrics
from collector.origins import from_site
from collector.proxies import client_address
from collector.ratelimit import RateLimiter, client_bucket
from collector.resources import Collector, collector_of
from collector.salt import SaltCache, SaltUnavailable
from collector.scrub import scrub_events
from collector.sink import EventSink, KafkaSink, SinkUnavailable
from collector.visitor import visitor_id
from collector.web_vitals import web_vitals_js
from stream.models import Keys
from stream.settings import Settings

log = logging.getLogger(__name__)

BEACON_JS = Path(__file__).parent / "static" / "beacon.js"
CONTENT_JS = Path(__file__).parent / "static" / "content.js"
REDIS_TIMEOUT_S = 1.0
# A request needs Redis at most twice (salt, rate-limit lease), each well under a
# millisecond, so 32 connections serve thousands of requests a second; a burst beyond
# that waits up to REDIS_TIMEOUT_S for a free connection instead of opening hundreds.
REDIS_POOL_SIZE = 32
RAW_VERSION = 1  # RawBatch.v; tests/collector/test_fast_path.py holds the two together

Endpoint = Callable[[Request], Awaitable[Response]]


def foreign_origin() -> Response:
    """403 for a request from a page that is not one of the site's."""
    return error(403, "origin", "Requests are accepted only from the site's own pages.")


def raw_message(
    *, received_at: int, visitor_id: str, device: str, bot: bool, site: str, events: list[Any]
) -> bytes:
    """The bytes of ``RawBatch(...).dumps()``, without building the record (once per request)."""
    return orjson.dumps(
        {"received_at": received_at, "visitor_id": visitor_id, "device": device, "bot": bot,
         "site": site, "events": events, "v": RAW_VERSION}
    )  # fmt: skip


@functools.cache  # one per event count, at most max_events of them
def _accepted_body(count: int) -> bytes:
    return orjson.dumps({"accepted": count})


def accepted(count: int) -> Response:
    """``202 {"accepted": count}``."""
    return Response(_accepted_body(count), status_code=202, media_type="application/json")


def message_key(events: list[Any]) -> bytes:
    """The Kafka key: the first event's ``session_id`` when it is a string, else "unknown"."""
    first = events[0]
    session = first.get("session_id") if isinstance(first, dict) else None
    return (session if isinstance(session, str) else "unknown").encode()


async def collect(request: Request) -> Response:
    """Accept one beacon request and hand it to the sink as one ``RawBatch``."""
    c = collector_of(request)
    settings = c.settings
    if not from_site(request.headers, settings.site_origins, settings.originless):
        return foreign_origin()
    try:
        check_headers(request.headers, settings.max_body_bytes)
    except BadRequest as bad:
        return error(bad.status, bad.code, bad.detail)
    now = c.clock()
    try:
        salt = await c.salts.get(now)
    except SaltUnavailable:
        log.warning("refusing a request: the daily salt is unavailable")
        return unavailable("The collector cannot reach its store; retry shortly.")
    address = client_address(request, settings.trusted_proxies)
    verdict = await c.limiter.hit(client_bucket(salt, settings.site_id, address), now)
    if verdict.failed:
        c.metrics.limiter_failures.inc()
    if not verdict.allowed and verdict.failed:
        return unavailable("The collector cannot check its rate limit; retry shortly.")
    if not verdict.allowed:
        return error(
            429,
            "rate_limited",
            "Too many requests; slow down.",
            {"Retry-After": str(verdict.retry_after)},
        )
    try:
        body = await read_body(request, settings.max_body_bytes)
        events = parse_events(body, settings.max_events)
    except BadRequest as bad:
        return error(bad.status, bad.code, bad.detail)
    events = scrub_events(events, settings.query_allow)  # before any byte is produced
    user_agent = request.headers.get("user-agent", "")
    device = classify(user_agent)
    message = raw_message(
        received_at=int(now * 1000),
        visitor_id=visitor_id(salt, settings.site_id, address, user_agent),
        device=device.device,
        bot=device.bot,
        site=settings.site_id,
        events=events,
    )
    try:
        await c.sink.send(message_key(events), message)
    except SinkUnavailable as exc:
        log.warning("refusing a request: %s", exc)
        return unavailable("The event stream is unavailable; retry shortly.")
    c.metrics.events.inc(len(events))
    return accepted(len(events))


def counted(route: str, endpoint: Endpoint) -> Endpoint:
    """``endpoint`` with its answers counted: 202 as accepted, 4xx/5xx as refused by reason."""

    async def answer(request: Request) -> Response:
        response = await endpoint(request)
        metrics = collector_of(request).metrics
        if response.status_code == 202:
            metrics.accepted.inc()
        elif response.status_code >= 400:
            metrics.refusal(route, response.status_code)
        return response

    return answer


def script(path: Path) -> Endpoint:
    """An endpoint serving our script at ``path`` (beacon.js, content.js), cacheable for 5 min."""

    async def serve(request: Request) -> Response:
        return FileResponse(
            path,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300"},
        )

    return serve


async def healthz(request: Request) -> Response:
    """200 when Redis answers and the sink is ready, else 503 with what is wrong."""
    c: Collector = request.state.collector
    try:
        redis_ok = bool(await c.redis.ping())
    except (RedisError, OSError):
        redis_ok = False
    ok = redis_ok and c.sink.ready
    body = {
        "status": "ok" if ok else "unavailable",
        "redis": redis_ok,
        "sink": c.sink.ready,
        "rate_limit_failed_open": c.limiter.failed_open,
    }
    return JSONResponse(body, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    """Prometheus counters of this collector process (no client is named in them)."""
    c: Collector = request.state.collector
    return Response(c.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def create_app(
    settings: Settings,
    sink: EventSink | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """Build the collector; Redis and the sink are opened when the app starts."""
    event_sink: EventSink = sink if sink is not None else KafkaSink(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Collector]]:
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=REDIS_POOL_SIZE,
            timeout=REDIS_TIMEOUT_S,  # longest wait for a free connection
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
        )
        redis = aioredis.Redis.from_pool(pool)
        warm_up()
        await event_sink.start()
        metrics = CollectorMetrics()
        keys = Keys.of(settings)
        collector = Collector(
            settings=settings,
            keys=keys,
            redis=redis,
            sink=event_sink,
            salts=SaltCache(redis, keys, on_reset=metrics.salt_resets.inc),
            limiter=RateLimiter(
                redis, keys, settings.rate_limit_per_minute, fail=settings.rate_limit_fail
            ),
            metrics=metrics,
            clock=clock,
        )
        try:
            yield {"collector": collector}
        finally:
            await event_sink.stop()
            await redis.aclose()

    cors = Middleware(
        CORSMiddleware,
        allow_origins=list(settings.site_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type"],
        max_age=600,
    )
    routes = [
        Route("/collect", counted("collect", collect), methods=["POST"]),
        Route("/beacon.js", script(BEACON_JS), methods=["GET"]),
        Route("/content.js", script(CONTENT_JS), methods=["GET"]),
        Route("/web-vitals.js", web_vitals_js, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route(
            "/api/recommendations",
            counted("api", site_api.recommendations),
            methods=["GET"],
        ),
        Route("/api/personalize", counted("api", site_api.personalize), methods=["GET"]),
        Route("/api/experiments/assign", counted("api", experiments_routes.assign_route(settings))),
        schema_route.route(settings),
        *content_routes.routes(settings),
    ]
    return Starlette(routes=routes, middleware=[cors], lifespan=lifespan)


def serve(settings: Settings) -> None:
    """Run the collector on ``collector_host:collector_port`` until stopped."""
    processes.serve(create_app, settings)
