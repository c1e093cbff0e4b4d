"""The live feed app: ``create_app`` wires routes, Redis and the hub; ``serve`` runs it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
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

from live_feed.auth import refuse_unless_admin
from live_feed.channels import is_channel, read_snapshot_raw
from live_feed.feed import live_endpoint
from live_feed.frame_protocol import FrameProtocol
from live_feed.hub import Hub
from live_feed.insights import FunnelListing, funnels, heatmap
from live_feed.metrics import LiveMetrics
from live_feed.panel import STATIC_DIR, SecurityHeaders, index, login, logout
from live_feed.unavailable import store_unavailable
from stream.funnel_config import DEFAULT_PATH as DEFAULT_FUNNELS
from stream.settings import Settings

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def create_app(
    settings: Settings,
    *,
    stall_timeout: float = 10.0,
    heartbeat: float = 15.0,
    funnels_path: Path | str = DEFAULT_FUNNELS,
) -> Starlette:
    """Build the live feed app; Redis, the pub/sub hub and the funnels open in its lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.funnels = FunnelListing.load(funnels_path)
        redis = Redis.from_url(settings.redis_url)
        hub = Hub(
            redis,
            app.state.metrics,
            max_hz=settings.live_max_hz,
            stall_timeout=stall_timeout,
            heartbeat=heartbeat,
        )
        await hub.start()
        app.state.redis = redis
        app.state.hub = hub
        try:
            yield
        finally:
            await hub.stop()
            await redis.aclose()

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/api/snapshot/{channel}", snapshot),
            Route("/api/heatmap", heatmap),
            Route("/api/funnels", funnels),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            WebSocketRoute("/ws/live", live_endpoint),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={RedisError: store_unavailable},  # 503 while Redis is away, not 500
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = LiveMetrics()
    return app


async def snapshot(request: Request) -> Response:
    """The latest stored snapshot of one channel, as the agents wrote it."""
    if (refused := refuse_unless_admin(request)) is not None:
        return refused
    channel = request.path_params["channel"]
    raw = await read_snapshot_raw(request.app.state.redis, channel) if is_channel(channel) else None
    if raw is None:
        return JSONResponse({"detail": "no such channel or no snapshot yet"}, status_code=404)
    return Response(raw, media_type="application/json", headers={"cache-control": "no-store"})


async def healthz(request: Request) -> Response:
    """200 if Redis answers a ping, 503 otherwise."""
    try:
        await request.app.state.redis.ping()
    except (RedisError, OSError):
        return JSONResponse({"status": "redis unavailable"}, status_code=503)
    body = {"status": "ok", "clients": request.app.state.hub.client_count}
    return Response(orjson.dumps(body), media_type="application/json")


async def metrics(request: Request) -> Response:
    """Prometheus text exposition of this process."""
    registry: LiveMetrics = request.app.state.metrics
    try:
        body = await registry.render(request.app.state.redis)
    except (RedisError, OSError):
        return Response("redis unavailable\n", status_code=503, media_type="text/plain")
    return Response(body, media_type=PROMETHEUS_TEXT)


def uvicorn_options() -> dict[str, Any]:
    """How uvicorn must serve the app: the fan-out writes shared, uncompressed frames."""
    return {
        "ws": FrameProtocol,
        "ws_per_message_deflate": False,
        "ws_ping_interval": None,  # dead peers: TCP_USER_TIMEOUT, see FrameProtocol
        "ws_max_size": 64 * 1024,
        "access_log": False,
        "proxy_headers": False,
    }


def serve(settings: Settings) -> None:
    """Run the live feed with uvicorn on ``settings.live_host:live_port`` (no access log)."""
    import uvicorn

    uvicorn.run(
        create_app(settings), host=settings.live_host, port=settings.live_port, **uvicorn_options()
    )
