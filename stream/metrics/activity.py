"""The live activity stream: the most recent events, anonymised, for the admins' panel.

Only what an admin needs to see the site move: when, what, where, which kind of device,
and a short visitor tag that cannot be turned back into a visitor id.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

SHOWN = 50
TAG_CHARS = 6


class Activity:
    """A bounded window of recent events, newest last."""

    def __init__(self, size: int = SHOWN) -> None:
        self.recent: deque[dict[str, Any]] = deque(maxlen=size)
        self.changed = False

    def apply(self, batch: Mapping[str, Any]) -> None:
        """Remember the events of one batch, without their ids or free-form props."""
        tag = str(batch["visitor_id"])[:TAG_CHARS]
        device = batch["device"]
        for event in batch["events"][-SHOWN:]:
            row: dict[str, Any] = {
                "ts": event["ts"],
                "type": event["type"],
                "url": event["url"],
                "device": device,
                "visitor": tag,
            }
            detail = _detail(event)
            if detail:
                row["detail"] = detail
            if event["type"] == "page_view" and "title" in event["props"]:
                row["title"] = event["props"]["title"]
            self.recent.append(row)
        self.changed = True

    def snapshot(self) -> dict[str, Any]:
        """The ``activity`` channel's data."""
        self.changed = False
        return {"events": list(self.recent)}


def _detail(event: Mapping[str, Any]) -> str:
    props = event["props"]
    kind = event["type"]
    if kind.startswith("form_"):
        return ":".join(str(props[k]) for k in ("form_id", "field", "action") if k in props)
    if kind == "web_vital":
        return f"{props['name']} {props['value']:g}"
    for name in ("dojo_event_id", "resource_id", "goal", "experiment"):
        if name in props:
            return str(props[name])
    return ""
