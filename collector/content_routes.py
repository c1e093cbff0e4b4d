"""The site's content API: published dojo events, resources and pages, read-only and public.

``GET /api/content/events?from=<ISO>&upcoming=1``, ``/api/content/resources?tag=<tag>`` and
``/api/content/pages/<path>``. Only live revisions are read (``ContentService.published``):
a draft, a newer unpublished edit or an unpublished item never leaves the store. Answers
carry a strong ETag (a hash of the body) and answer ``If-None-Match`` with 304; they may be
cached for ``MAX_AGE_S`` by browsers and shared caches, so an edit shows within that long.
Browsers on ``DOJO_SITE_ORIGINS`` may read them (the app's CORS); ``Vary: Origin`` keeps a
cache from handing one origin's CORS answer to another.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.answers import error, unavailable
from stream.content.errors import NotFound
from stream.content.queries import Reader
from stream.settings import Settings
from stream.store import StoreError, open_store

MAX_AGE_S = 30
MAX_TAG = 40
MAX_PATH = 200


class Shelf:
    """The store as delivery reads it: opened on the first request, once per process."""

    def __init__(self, settings: Settings, engine: sqlalchemy.Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self._lock = threading.Lock()

    def reader(self) -> Reader:
        """A reader on the store (``StoreError`` if it cannot be opened; tried again next time)."""
        with self._lock:
            if self.engine is None:
                self.engine = open_store(self.settings)
            return Reader(self.engine)

    def published(self, type_name: str) -> list[dict[str, Any]]:
        """The live items of ``type_name`` as delivered: ``{id, revision, ...fields}``."""
        items = self.reader().published(type_name)
        return [{k: v for k, v in item.items() if k != "type"} for item in items]


class BadQuery(ValueError):
    """A query parameter this API cannot use; ``field`` names it."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


def _answer(request: Request, body: object) -> Response:
    encoded = orjson.dumps(body)
    etag = f'"{hashlib.sha256(encoded).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={MAX_AGE_S}", "Vary": "Origin"}
    tags = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
    if etag in tags or "*" in tags:
        return Response(status_code=304, headers=headers)
    return Response(encoded, media_type="application/json", headers=headers)


def _moment(raw: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw) if len(raw) <= 40 else None
    except ValueError:
        moment = None
    if moment is None:
        raise BadQuery(field, f"{field} is an ISO 8601 date or date-time (2026-12-05)")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _events(request: Request, shelf: Shelf) -> object:
    params = request.query_params
    upcoming = params.get("upcoming", "0")
    if upcoming not in ("0", "1"):
        raise BadQuery("upcoming", "upcoming is 1 (events not yet over) or 0")
    since = [_moment(params["from"], "from")] if params.get("from") else []
    if upcoming == "1":
        clock: Callable[[], float] = request.state.collector.clock
        since.append(datetime.fromtimestamp(clock(), UTC))
    items = [
        item for item in shelf.published("event")
        if all(datetime.fromisoformat(item["ends_at"]) > moment for moment in since)
    ]  # fmt: skip
    items.sort(key=lambda item: (datetime.fromisoformat(item["starts_at"]), item["id"]))
    return {"items": items}


def _resources(request: Request, shelf: Shelf) -> object:
    tag = request.query_params.get("tag")
    if tag is not None and not 0 < len(tag) <= MAX_TAG:
        raise BadQuery("tag", f"tag is 1 to {MAX_TAG} characters")
    items = shelf.published("resource")
    return {"items": [i for i in items if tag is None or tag in i.get("tags", [])]}


def _page(request: Request, shelf: Shelf) -> object:
    path = "/" + request.path_params["path"].strip("/")
    if len(path) > MAX_PATH:
        return None
    try:
        page = shelf.reader().snapshot(f"page:{path}")
    except NotFound:
        return None
    return None if page is None else {k: v for k, v in page.items() if k != "type"}


def _endpoint(
    shelf: Shelf, read: Callable[[Request, Shelf], object]
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            body = await asyncio.to_thread(read, request, shelf)
        except BadQuery as bad:
            return error(400, "bad_query", str(bad))
        except (StoreError, sqlalchemy.exc.SQLAlchemyError):
            return unavailable("Content is unavailable right now; retry shortly.")
        if body is None:
            return error(404, "not_found", "No published page at this path.")
        return _answer(request, body)

    return endpoint


def routes(settings: Settings, engine: sqlalchemy.Engine | None = None) -> list[Route]:
    """The content routes, reading the store of ``settings`` (or ``engine``)."""
    shelf = Shelf(settings, engine)
    return [
        Route("/api/content/events", _endpoint(shelf, _events), methods=["GET"]),
        Route("/api/content/resources", _endpoint(shelf, _resources), methods=["GET"]),
        Route("/api/content/pages/{path:path}", _endpoint(shelf, _page), methods=["GET"]),
    ]
