"""The live feed app: ``create_app`` wires routes, Redis and the hub; ``serve`` runs it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from live_feed.auth import Gate, refuse_unless_admin, refuse_unless_metrics_reader
from live_feed.channels import is_channel, read_snapshot_raw
from live_feed.checkin import KafkaSink
from live_feed.checkin import routes as checkin_routes
from live_feed.content_api import routes as content_routes
from live_feed.content_desk import ContentDesk
from live_feed.experiments_api import experiment, experiments
from live_feed.feed import live_endpoint
from live_feed.frame_protocol import FrameProtocol
from live_feed.history import HistoryStore, history, history_channels
from live_feed.hub import Hub
from live_feed.insights import FunnelListing, funnels, heatmap
from live_feed.lag import EVERY_S as LAG_EVERY_S
from live_feed.lag import KafkaOffsets, LagWatch, OffsetReader, worker_groups
from live_feed.metrics import LiveMetrics
from live_feed.panel import STATIC_DIR, SecurityHeaders, config, index, login, logout
from live_feed.reports import routes as report_routes
from live_feed.session import Sessions
from live_feed.throttle import Throttle
from live_feed.unavailable import store_unavailable
from live_feed.visitor_day import visitor_day, visitors_day
from live_feed.worker_health import WorkerHealth, judge
from stream.logs import log_config
from stream.models.keys import Keys
from stream.runtime.progress import agent_times
from stream.settings import Settings

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def create_app(
    settings: Settings,
    *,
    stall_timeout: float = 10.0,
    heartbeat: float = 15.0,
    offsets: OffsetReader | None = None,
    lag_every_s: float = LAG_EVERY_S,
    throttle: Throttle | None = None,
    content: ContentDesk | None = None,
) -> Starlette:
    """Build the live feed app; Redis, the hub, the lag watch and the funnels open in its lifespan.

    ``offsets`` is where consumer lag is read (Kafka at ``settings.kafka`` by default).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.funnels = FunnelListing.of(settings)  # the worker's funnels (DOJO_FUNNELS)
        redis = Redis.from_url(settings.redis_url)
        hub = Hub(
            redis,
            app.state.keys,
            app.state.metrics,
            max_hz=settings.live_max_hz,
            stall_timeout=stall_timeout,
            heartbeat=heartbeat,
        )
        await hub.start()
        app.state.redis = redis
        app.state.hub = hub
        app.state.gate = Gate(
            settings,
            Sessions(redis, app.state.keys, settings.admin_token),
            throttle or Throttle(),
            app.state.metrics,
        )
        reader = offsets if offsets is not None else KafkaOffsets(settings.kafka)
        lag = LagWatch(reader, worker_groups(settings), app.state.metrics, every_s=lag_every_s)
        lag.start()
        app.state.lag = lag
        await app.state.content.start()
        try:
            yield
        finally:
            await app.state.content.stop()
            await lag.stop()
            if isinstance(app.state.checkin_sink, KafkaSink):
                await app.state.checkin_sink.close()
            await hub.stop()
            await redis.aclose()
            app.state.history.close()

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/api/config", config),
            Route("/api/snapshot/{channel}", snapshot),
            Route("/api/heatmap", heatmap),
            Route("/api/funnels", funnels),
            Route("/api/visitors/day", visitors_day),
            Route("/api/history", history_channels),
            Route("/api/history/{channel}", history),
            Route("/api/experiments", experiments),
            Route("/api/experiments/{key}", experiment),
            *content_routes(),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            WebSocketRoute("/ws/live", live_endpoint),
            *checkin_routes(),
            *report_routes(),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={RedisError: store_unavailable},  # 503 while Redis is away, not 500
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.keys = Keys.of(settings)
    app.state.metrics = LiveMetrics()
    app.state.history = HistoryStore(settings)  # opened on the first history request
    app.state.checkin_sink = KafkaSink(settings)  # opened on the first arrival
    app.state.checkin_throttle = Throttle()
    app.state.content = content or ContentDesk(settings, app.state.history)
    return app


async def snapshot(request: Request) -> Response:
    """The latest stored snapshot of one channel, as the agents wrote it."""
    if (refused := await refuse_unless_admin(request)) is not None:
        return refused
    channel = request.path_params["channel"]
    raw = (
        await read_snapshot_raw(request.app.state.redis, request.app.state.keys, channel)
        if is_channel(channel)
        else None
    )
    if raw is None:
        return JSONResponse({"detail": "no such channel or no snapshot yet"}, status_code=404)
    return Response(raw, media_type="application/json", headers={"cache-control": "no-store"})


async def healthz(request: Request) -> Response:
    """The feed's health (200 while Redis answers, else 503) and, beside it, the worker's.

    A load balancer should look at the status code only: the feed can serve the panel,
    and tell admins what is wrong, while the worker is down. ``worker`` is ``ok``,
    ``stale`` or ``not running``, with its lag, how long it is behind and when it was
    last seen; ``kafka`` says whether the lag could be read.
    """
    try:
        await request.app.state.redis.ping()
        health = await worker_health(request)
    except (RedisError, OSError):
        return JSONResponse({"status": "redis unavailable"}, status_code=503)
    lag: LagWatch = request.app.state.lag
    body = {
        "status": "ok",
        "clients": request.app.state.hub.client_count,
        "worker": health.state,
        "kafka": lag.kafka,
        **{k: v for k, v in health.asdict().items() if k != "state"},
    }
    return Response(orjson.dumps(body), media_type="application/json")


async def metrics(request: Request) -> Response:
    """Prometheus text exposition of this process (``DOJO_METRICS_TOKEN`` guards it if set)."""
    if (refused := refuse_unless_metrics_reader(request)) is not None:
        return refused
    registry: LiveMetrics = request.app.state.metrics
    try:
        await worker_health(request)
        day = await visitor_day(request.app.state.redis, request.app.state.keys, time.time())
        registry.visitors_day_broken.set(1 if day.broken else 0)
        body = await registry.render(request.app.state.redis, request.app.state.keys)
    except (RedisError, OSError):
        return Response("redis unavailable\n", status_code=503, media_type="text/plain")
    return Response(body, media_type=PROMETHEUS_TEXT)


async def worker_health(request: Request) -> WorkerHealth:
    """Judge the worker now, and mirror what was judged on the metrics."""
    times = await agent_times(request.app.state.redis, request.app.state.keys)
    lag: LagWatch = request.app.state.lag
    health = judge(times, lag.readings, time.time())
    request.app.state.metrics.record_worker(times, health.running, health.behind_s)
    return health


def uvicorn_options() -> dict[str, Any]:
    """How uvicorn must serve the app: the fan-out writes shared, uncompressed frames."""
    return {
        "ws": FrameProtocol,
        "ws_per_message_deflate": False,
        "ws_ping_interval": None,  # dead peers: TCP_USER_TIMEOUT, see FrameProtocol
        "ws_max_size": 64 * 1024,
        "access_log": False,
        "proxy_headers": False,
        "log_config": log_config(
            server_level="info"
        ),  # no client addresses, no query strings (tokens)
    }


def serve(settings: Settings) -> None:
    """Run the live feed with uvicorn on ``settings.live_host:live_port`` (anonymous logs)."""
    import uvicorn

    uvicorn.run(
        create_app(settings), host=settings.live_host, port=settings.live_port, **uvicorn_options()
    )
