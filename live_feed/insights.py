"""Admin REST views onto insight data: one page's click heatmap and the configured funnels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live_feed.auth import refuse_unless_admin
from live_feed.channels import read_snapshot
from stream.metrics.funnel_config import (
    FunnelConfigError,
    configured_path,
    funnels_as_dict,
    load_funnels,
)
from stream.settings import Settings

VIEWPORTS = ("mobile", "tablet", "desktop")
MAX_URL_CHARS = 2048  # the event contract's limit on urls


class FunnelListing:
    """The funnels file read once at startup; a broken file is reported, not fatal."""

    def __init__(self, body: dict[str, Any] | None, error: str | None) -> None:
        self.body = body
        self.error = error

    @classmethod
    def load(cls, path: Path | str) -> FunnelListing:
        """Read and validate the funnels at ``path``, keeping the error if it cannot be used."""
        try:
            return cls(funnels_as_dict(load_funnels(path)), None)
        except FunnelConfigError as exc:
            return cls(None, str(exc))

    @classmethod
    def of(cls, settings: Settings) -> FunnelListing:
        """The funnels the worker counts: the file of ``DOJO_FUNNELS``, or the shipped one."""
        return cls.load(configured_path(settings.funnels_path))


def _no_store(body: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers={"cache-control": "no-store"})


def find_heatmap(snapshot: Any, url: str, viewport: str) -> dict[str, Any] | None:
    """The page entry of a ``heatmaps`` snapshot for ``url`` at ``viewport``, if it has one."""
    pages = snapshot.get("pages") if isinstance(snapshot, dict) else None
    for page in pages if isinstance(pages, list) else []:
        if isinstance(page, dict) and page.get("url") == url and page.get("viewport") == viewport:
            return page
    return None


async def heatmap(request: Request) -> Response:
    """``GET /api/heatmap?url=&viewport=``: one page's entry from the ``heatmaps`` snapshot."""
    if (refused := await refuse_unless_admin(request)) is not None:
        return refused
    url = request.query_params.get("url", "")
    viewport = request.query_params.get("viewport", "")
    if not url.startswith("/") or len(url) > MAX_URL_CHARS:
        return _no_store({"detail": "url must be a site path starting with '/'"}, 400)
    if viewport not in VIEWPORTS:
        return _no_store({"detail": f"viewport must be one of {', '.join(VIEWPORTS)}"}, 400)
    message = await read_snapshot(request.app.state.redis, request.app.state.keys, "heatmaps")
    page = find_heatmap(message["data"], url, viewport)
    if page is None:
        return _no_store({"detail": "no heatmap for that page and viewport yet"}, 404)
    return _no_store(page)


async def funnels(request: Request) -> Response:
    """``GET /api/funnels``: the funnel definitions the worker counts."""
    if (refused := await refuse_unless_admin(request)) is not None:
        return refused
    listing: FunnelListing = request.app.state.funnels
    if listing.body is None:
        return _no_store({"detail": listing.error}, 503)
    return _no_store(listing.body)
