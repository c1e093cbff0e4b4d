"""``/api/admin/content``: the admins' content API (types, list, edit, publish, history, diff).

Behind the admin token or session like every ``/api`` route; JSON in and out. Every write
runs through ``stream.content.ContentService`` in a worker thread: a bad field is 422
``{"errors": {field: message}}`` and writes nothing; an edit must carry ``If-Match:
"<revision>"`` (428 without, 412 ``{"current": n}`` when another edit came first). Writes
must be sent as ``application/json`` (a cross-site form cannot send that without asking).
The service comes from the app's ``ContentDesk`` (``live_feed.content_desk``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from live_feed.auth import refuse_unless_admin
from live_feed.history import unavailable
from stream.content import ContentService, Invalid, NotFound, Stale
from stream.content.types import TYPES
from stream.history.query import DEFAULT_RANGE_MS, QueryError, parse_time
from stream.store import StoreError

AUTHOR = "admin"  # the admin token names no person: revisions say which door they came in by
MAX_BODY = 512 * 1024
NO_STORE = {"cache-control": "no-store"}
PREFIX = "/api/admin/content"


Handler = Callable[[Request, ContentService], Awaitable[Response]]


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body),
        status,
        media_type="application/json",
        headers=NO_STORE | (headers or {}),
    )


def _admin(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """``handler`` behind the admin check, with the service and the domain errors answered."""

    async def endpoint(request: Request) -> Response:
        if (refused := await refuse_unless_admin(request)) is not None:
            return refused
        try:
            service = await request.app.state.content.service()
            return await handler(request, service)
        except Invalid as exc:
            return _json({"errors": exc.errors}, 422)
        except Stale as exc:
            return _json({"current": exc.current}, 412, {"etag": f'"{exc.current}"'})
        except NotFound as exc:
            return _json({"error": str(exc)}, 404)
        except BadRequest as exc:
            return _json({"error": str(exc)}, exc.status)
        except QueryError as exc:
            return _json(exc.body(), 400)
        except (StoreError, sqlalchemy.exc.OperationalError) as exc:
            return unavailable(exc)

    return endpoint


class BadRequest(ValueError):
    """A request the API cannot read: ``status`` 400, 413, 415 or 428."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def _body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise BadRequest("send the body as application/json", 415)
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise BadRequest(f"the body is over {MAX_BODY // 1024} KiB", 413)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not JSON (UTF-8)") from None
    if not isinstance(body, dict):
        raise BadRequest("the body is a JSON object")
    return body


def _number(value: object, name: str) -> int | None:
    """An optional revision number from JSON or a query string."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise Invalid({name: "must be a revision number"})
    return value


def _moment(value: object) -> int | None:
    """``at``: an ISO 8601 date-time with offset, or epoch ms; None: now."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53:
        return value
    if isinstance(value, str) and len(value) <= 40:
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                return int(moment.timestamp() * 1000)
    raise Invalid({"at": "must be an ISO 8601 date-time with its offset, or epoch ms"})


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    return value if isinstance(value, str) else _refuse(name, "must be a string")


def _refuse(name: str, message: str) -> str:
    raise Invalid({name: message})


async def types(request: Request, service: ContentService) -> Response:
    """Every content type's fields, for the panel's forms."""
    return _json({"types": [t.spec() for t in TYPES.values()]})


async def listing(request: Request, service: ContentService) -> Response:
    """Items, filtered by ``type``, ``status`` and text ``q``."""
    params = request.query_params
    found = await asyncio.to_thread(
        service.list, params.get("type") or None, params.get("status") or None, params.get("q")
    )
    return _json({"items": [item.summary() for item in found]})


async def create(request: Request, service: ContentService) -> Response:
    """A new item from ``{type, fields, message}``: 201 ``{id, revision}``."""
    body = await _body(request)
    made = await asyncio.to_thread(
        service.create, body.get("type", ""), body.get("fields"), AUTHOR, _text(body, "message")
    )
    return _json({"id": made.item_id, "revision": made.number}, 201, {"etag": f'"{made.number}"'})


async def read(request: Request, service: ContentService) -> Response:
    """The item with its newest fields; ``ETag`` is its revision."""
    got = await asyncio.to_thread(service.get, request.path_params["id"])
    return _json(got, headers={"etag": f'"{got["revision"]}"'})


async def update(request: Request, service: ContentService) -> Response:
    """A new revision of the item, if ``If-Match`` names its newest one."""
    match = request.headers.get("if-match")
    if match is None:
        raise BadRequest('send If-Match: "<revision>" with the revision you edited', 428)
    if_match = _number(match.strip().removeprefix("W/").strip('"'), "If-Match")
    if if_match is None:
        raise BadRequest('If-Match names a revision: "3"', 428)
    body = await _body(request)
    made = await asyncio.to_thread(
        service.update, request.path_params["id"], body.get("fields"), if_match, AUTHOR,
        _text(body, "message"),
    )  # fmt: skip
    return _json(
        {"id": made.item_id, "revision": made.number}, headers={"etag": f'"{made.number}"'}
    )


async def publish(request: Request, service: ContentService) -> Response:
    """Publish ``revision`` (default the newest) now, or ``at`` a later moment."""
    body = await _body(request)
    item = await asyncio.to_thread(
        service.publish, request.path_params["id"], _number(body.get("revision"), "revision"),
        _moment(body.get("at")),
    )  # fmt: skip
    return _json(item.summary() | {"scheduled": item.scheduled})


async def unpublish(request: Request, service: ContentService) -> Response:
    """Take the item off the site now, or ``at`` a later moment."""
    body = await _body(request)
    item = await asyncio.to_thread(
        service.unpublish, request.path_params["id"], _moment(body.get("at"))
    )
    return _json(item.summary() | {"scheduled": item.scheduled})


async def revert(request: Request, service: ContentService) -> Response:
    """A new revision copied from ``revision``: 201 ``{id, revision}``."""
    body = await _body(request)
    number = _number(body.get("revision"), "revision")
    if number is None:
        raise Invalid({"revision": "is required"})
    made = await asyncio.to_thread(
        service.revert, request.path_params["id"], number, AUTHOR, _text(body, "message")
    )
    return _json({"id": made.item_id, "revision": made.number}, 201, {"etag": f'"{made.number}"'})


async def revisions(request: Request, service: ContentService) -> Response:
    """The item's kept revisions, newest first, each marked if it is the live one."""
    item_id = request.path_params["id"]
    item = await asyncio.to_thread(service.item, item_id)
    kept = await asyncio.to_thread(service.revisions, item_id)
    listed = [r.summary() | {"live": r.number == item.live_revision} for r in kept]
    return _json({"id": item_id, "live_revision": item.live_revision, "revisions": listed})


async def diff(request: Request, service: ContentService) -> Response:
    """What revision ``a`` (default the newest) changes against ``b`` (default the live one)."""
    item_id = request.path_params["id"]
    item = await asyncio.to_thread(service.item, item_id)
    a = _number(request.query_params.get("a"), "a") or item.revision
    b = _number(request.query_params.get("b"), "b")
    changes = await asyncio.to_thread(service.diff, item_id, a, b)
    base = b if b is not None else item.live_revision
    return _json({"id": item_id, "a": a, "b": base, "changes": changes})


def _when(request: Request, name: str, default: int) -> int:
    """Epoch ms of the query parameter ``name`` (ISO 8601 or epoch ms), else ``default``."""
    given = request.query_params.getlist(name)
    if len(given) > 1:
        raise QueryError(name, f"{name} is given more than once")
    return parse_time(name, given[0]) if given else default


async def changes(request: Request, service: ContentService) -> Response:
    """What was published or unpublished in [from, to) (default the day before now)."""
    end = _when(request, "to", time.time_ns() // 1_000_000)
    start = _when(request, "from", max(0, end - DEFAULT_RANGE_MS))
    if start >= end:
        raise QueryError("to" if "to" in request.query_params else "from", "from must be before to")
    kind = request.query_params.get("type") or None
    if kind is not None and kind not in TYPES:
        raise QueryError("type", f"type is one of {', '.join(TYPES)}")
    found = await asyncio.to_thread(service.changes, start, end, kind)
    return _json({"from": start, "to": end, "type": kind, "changes": found})


async def live(request: Request, service: ContentService) -> Response:
    """Which revision of each item was live ``at`` a moment (default now)."""
    at = _when(request, "at", time.time_ns() // 1_000_000)
    return _json({"at": at, "live": await asyncio.to_thread(service.live_at, at)})


def routes() -> list[Route]:
    """The content API's routes (the action routes first: ids may hold slashes)."""
    one = PREFIX + "/{id:path}"
    return [
        Route(PREFIX + "/types", _admin(types)),
        Route(PREFIX + "/changes", _admin(changes)),
        Route(PREFIX + "/live", _admin(live)),
        Route(PREFIX, _admin(listing)),
        Route(PREFIX, _admin(create), methods=["POST"]),
        Route(one + "/publish", _admin(publish), methods=["POST"]),
        Route(one + "/unpublish", _admin(unpublish), methods=["POST"]),
        Route(one + "/revert", _admin(revert), methods=["POST"]),
        Route(one + "/revisions", _admin(revisions)),
        Route(one + "/diff", _admin(diff)),
        Route(one, _admin(read)),
        Route(one, _admin(update), methods=["PUT"]),
    ]
