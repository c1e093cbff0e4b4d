"""``GET /api/experiments`` and ``/api/experiments/{key}`` (admin): the figures the panel shows.

Read from the ``experiments`` snapshot the worker keeps in Redis (docs/topics.md,
``dojo.metrics.experiments``): per variant the units, conversions and rates, the
always-valid comparison with control, chance to beat control, SRM, guardrails and the
decision line. Definitions (variants, traffic, start and stop) are content of the type
``EXPERIMENT`` (imported here so the admin content API of this process knows it), changed
through ``/api/admin/content``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live_feed.auth import refuse_unless_admin
from live_feed.channels import read_snapshot
from stream.experiments.assignment import KEY
from stream.experiments.definition import EXPERIMENT  # also registers the content type

NO_STORE = {"cache-control": "no-store"}


def _experiments(data: Any) -> list[dict[str, Any]]:
    found = data.get("experiments") if isinstance(data, dict) else None
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


async def experiments(request: Request) -> Response:
    """Every experiment the worker has seen, with its figures and the snapshot's time."""
    if (refused := await refuse_unless_admin(request)) is not None:
        return refused
    message = await read_snapshot(request.app.state.redis, request.app.state.keys, "experiments")
    body = {"experiments": _experiments(message["data"]), "ts": message["ts"]}
    return JSONResponse(body, headers=NO_STORE)


async def experiment(request: Request) -> Response:
    """One experiment's figures; 404 when the worker has not seen it (yet)."""
    if (refused := await refuse_unless_admin(request)) is not None:
        return refused
    key = request.path_params["key"]
    if KEY.fullmatch(key) is None:
        return JSONResponse(
            {"detail": "an experiment key is 1-64 of a-z 0-9 _ -"}, 400, headers=NO_STORE
        )
    message = await read_snapshot(request.app.state.redis, request.app.state.keys, "experiments")
    for found in _experiments(message["data"]):
        if found.get("key") == key:
            return JSONResponse(found | {"ts": message["ts"]}, headers=NO_STORE)
    detail = f"no figures for experiment {key!r} yet (definitions: content type {EXPERIMENT.name})"
    return JSONResponse({"detail": detail}, 404, headers=NO_STORE)
