"""``GET /schema/events.json``: the event contract as JSON Schema, for the site's developers.

Public like ``beacon.js``: it says no more than docs/contract.md, so any client may fetch it,
and browsers on the site's origins may read it (the app's CORS, ``DOJO_SITE_ORIGINS``). The
body only changes with a release or with the settings it quotes (``DOJO_MAX_EVENTS``, clock
limits), so it is built once per process, with a strong ETag for cheap revalidation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stream.ingest.contract import Limits
from stream.ingest.schema import request_schema
from stream.settings import Settings

MEDIA_TYPE = "application/schema+json"
CACHE_CONTROL = "public, max-age=300"  # as beacon.js: a release shows within five minutes


@dataclass(frozen=True)
class SchemaDocument:
    """The encoded schema and its strong ETag."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, settings: Settings) -> SchemaDocument:
        """The schema for ``settings``' limits, encoded once."""
        limits = Limits(
            max_age_ms=settings.max_event_age_h * 3_600_000,
            max_skew_ms=settings.max_clock_skew_s * 1000,
        )
        body = orjson.dumps(request_schema(settings.max_events, limits), option=orjson.OPT_INDENT_2)
        return cls(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')

    def matches(self, if_none_match: str) -> bool:
        """Whether ``If-None-Match`` names this body (weak comparison, as RFC 9110 asks)."""
        tags = [tag.strip() for tag in if_none_match.split(",")]
        return any(tag == "*" or tag.removeprefix("W/") == self.etag for tag in tags)


def route(settings: Settings) -> Route:
    """The ``GET /schema/events.json`` route for ``settings``: 200 with the body, or 304."""
    document = SchemaDocument.of(settings)

    async def events_schema(request: Request) -> Response:
        headers = {"ETag": document.etag, "Cache-Control": CACHE_CONTROL}
        if document.matches(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        return Response(document.body, media_type=MEDIA_TYPE, headers=headers)

    return Route("/schema/events.json", events_schema, methods=["GET"])
