"""``GET /api/history`` and ``GET /api/history/{channel}``: the store's windows for admins.

The store is opened on the first history request (once per process, migrated by
``open_store``) and closed with the app; queries run in a worker thread. Every bad parameter
is one 400 ``{"error", "field"}`` (``stream.history.query``); a store that cannot be used is
a 503 that says so in one line. JSON by default, CSV with ``format=csv`` or ``Accept:
text/csv`` (``stream.history.export``, the bytes ``dojo-pulse history export`` prints).
"""

from __future__ import annotations

import asyncio
import time

import orjson
import sqlalchemy
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live_feed.auth import refuse_unless_admin
from stream.content.queries import Reader
from stream.history.export import Rendered, answer, render
from stream.history.query import Query, QueryError, parse
from stream.settings import Settings
from stream.store import StoreError, open_store
from stream.store.history import channels

NO_STORE = {"cache-control": "no-store"}
# Channels the agents write (docs/topics.md, history.minutes): asking for one before it has
# data is an empty answer, not an error.
CHANNELS = (
    "traffic", "forms", "vitals", "funnels", "journeys", "heatmaps", "pipeline", "learning",
    "dojo", "experiments",
)  # fmt: skip


class HistoryStore:
    """The store of one live feed process: opened on first use, disposed at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: sqlalchemy.Engine | None = None
        self.lock = asyncio.Lock()

    async def open(self) -> sqlalchemy.Engine:
        """The engine (``StoreError`` if the store cannot be opened; the next call tries again)."""
        async with self.lock:
            if self.engine is None:
                self.engine = await asyncio.to_thread(open_store, self.settings)
            return self.engine

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None


async def history_channels(request: Request) -> Response:
    """The channels the store holds any window of."""
    if (refused := await refuse_unless_admin(request)) is not None:
        return refused
    try:
        engine = await request.app.state.history.open()
        names = await asyncio.to_thread(channels, engine)
    except (StoreError, sqlalchemy.exc.OperationalError) as exc:
        return unavailable(exc)
    return JSONResponse({"channels": names}, headers=NO_STORE)


async def history(request: Request) -> Response:
    """One channel's windows over a range (and the previous period), as JSON or CSV."""
    if (refused := await refuse_unless_admin(request)) is not None:
        return refused
    try:
        engine = await request.app.state.history.open()
        known = (*CHANNELS, *await asyncio.to_thread(channels, engine))
        query = parse(
            request.query_params.multi_items(),
            request.path_params["channel"],
            now_ms=time.time_ns() // 1_000_000,
            accept=request.headers.get("accept", ""),
            known=sorted(set(known)),
        )
        rendered = await asyncio.to_thread(_answered, engine, query)
    except QueryError as exc:
        return Response(orjson.dumps(exc.body()), 400, media_type="application/json")
    except (StoreError, sqlalchemy.exc.OperationalError) as exc:
        return unavailable(exc)
    headers = dict(NO_STORE)
    if rendered.filename:
        headers["content-disposition"] = f'attachment; filename="{rendered.filename}"'
    return Response(rendered.body, media_type=rendered.media_type, headers=headers)


def _answered(engine: sqlalchemy.Engine, query: Query) -> Rendered:
    """The query's answer; JSON also says which content went live or off in its range."""
    if query.format == "csv":
        return render(engine, query)
    changes = Reader(engine).changes(query.start, query.end)
    return Rendered(
        orjson.dumps(answer(engine, query) | {"content_changes": changes}), "application/json"
    )


def unavailable(exc: Exception) -> Response:
    """503: the store is away or unusable (its one line, which never holds a password)."""
    said = str(exc) if isinstance(exc, StoreError) else "the history store is unavailable"
    return JSONResponse({"error": said}, status_code=503, headers={"retry-after": "5"})
