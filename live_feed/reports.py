"""The kept reports: where they live, what they are called, and the panel's list of them.

``dojo-pulse report`` writes each report as the email it sent, ``<period>-<first day>[-n].eml``
under ``<DOJO_DATA_DIR>/reports``. ``GET /api/reports`` (admin) lists them, newest first;
``GET /api/reports/{name}`` downloads one (only a name of that shape: no path reaches the disk).
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from live_feed.auth import refuse_unless_admin

NAME = re.compile(r"(daily|weekly|monthly)-\d{4}-\d{2}-\d{2}(-\d{1,4})?\.eml")


def directory(data_dir: Path) -> Path:
    """Where the reports of a deployment are kept."""
    return data_dir / "reports"


def listing(data_dir: Path) -> list[dict[str, object]]:
    """The kept reports, newest first: name, period, size and when written (ms)."""
    folder = directory(data_dir)
    if not folder.is_dir():
        return []
    rows = []
    for path in folder.iterdir():
        if NAME.fullmatch(path.name) and path.is_file():
            stat = path.stat()
            period = path.name.split("-", 1)[0]
            written = int(stat.st_mtime * 1000)
            rows.append(
                {"name": path.name, "period": period, "bytes": stat.st_size, "written_ms": written}
            )
    return sorted(rows, key=lambda r: (-int(str(r["written_ms"])), str(r["name"])))


async def reports(request: Request) -> Response:
    """The kept reports (admin)."""
    if (refused := await refuse_unless_admin(request)) is not None:
        return refused
    rows = listing(request.app.state.settings.data_dir)
    return JSONResponse({"reports": rows}, headers={"cache-control": "no-store"})


async def report(request: Request) -> Response:
    """One kept report as the .eml it was sent as (admin)."""
    if (refused := await refuse_unless_admin(request)) is not None:
        return refused
    name = request.path_params["name"]
    path = directory(request.app.state.settings.data_dir) / name
    if not NAME.fullmatch(name) or not path.is_file():
        return JSONResponse({"error": "no such report"}, 404)
    return FileResponse(path, media_type="message/rfc822", filename=name)


def routes() -> list[Route]:
    """The report routes, mounted by ``live_feed.app``."""
    return [Route("/api/reports", reports), Route("/api/reports/{name}", report)]
