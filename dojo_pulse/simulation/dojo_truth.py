"""Ground truth of the dojo figures: per event, per resource, and where registrations come from.

Definitions (``stream.metrics.dojo`` must compute the same): ``tickets`` are the places
booked and ``cancelled`` those given back; ``arrived`` counts registered heads at the door
and ``walk_ins`` heads that came without registering; ``attended`` is both;
``no_shows`` = max(0, tickets - cancelled - arrived). A resource's ``views`` are page views
of ``/resources/<slug>`` (item ``resource:<slug>``). A registration's source is its session's
entry page (path), the entry's referrer host (``(direct)``) and ``utm_campaign`` (``(none)``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

_FIELDS = ("registrations", "tickets", "cancellations", "cancelled", "arrived", "walk_ins")


class DojoTruth:
    """Accumulates the dojo figures of valid sessions; ``to_dict()`` is JSON-ready."""

    def __init__(self) -> None:
        self.events: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.resources: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.sources: dict[str, Counter[str]] = {
            "entry": Counter(), "referrer": Counter(), "campaign": Counter(),
        }  # fmt: skip

    def observe_session(self, events: list[dict[str, Any]]) -> None:
        """Account for one session's valid events, in sending order."""
        source: tuple[str, str, str] | None = None
        for event in events:
            kind, props = event["type"], event["props"]
            if kind == "page_view":
                url = urlsplit(event["url"])
                if source is None:
                    host = urlsplit(event.get("referrer") or "").hostname or "(direct)"
                    campaign = parse_qs(url.query).get("utm_campaign", ["(none)"])[0]
                    source = (url.path, host, campaign)
                if url.path.startswith("/resources/") and url.path.count("/") == 2:
                    self.resources[f"resource:{url.path[11:]}"]["views"] += 1
            elif kind == "resource_download":
                self.resources[props["resource_id"]]["downloads"] += 1
            elif kind in ("registration", "registration_cancel", "attendance"):
                self._dojo(kind, props, source or ("(unknown)", "(direct)", "(none)"))

    def _dojo(self, kind: str, props: dict[str, Any], source: tuple[str, str, str]) -> None:
        counts = self.events[props["dojo_event_id"]]
        if kind == "registration":
            counts["registrations"] += 1
            counts["tickets"] += props["tickets"]
            for name, value in zip(("entry", "referrer", "campaign"), source, strict=True):
                self.sources[name][value] += 1
        elif kind == "registration_cancel":
            counts["cancellations"] += 1
            counts["cancelled"] += props["tickets"]
        else:
            counts["walk_ins" if props.get("walk_in") else "arrived"] += props.get("count", 1)

    def to_dict(self) -> dict[str, Any]:
        """Per event (with attended and no-shows), per resource, and the registration sources."""
        events = {}
        for event_id, c in sorted(self.events.items()):
            row = {name: c[name] for name in _FIELDS}
            row["attended"] = c["arrived"] + c["walk_ins"]
            row["no_shows"] = max(0, c["tickets"] - c["cancelled"] - c["arrived"])
            events[event_id] = row
        return {
            "events": events,
            "resources": {
                rid: {"views": c["views"], "downloads": c["downloads"]}
                for rid, c in sorted(self.resources.items())
            },
            "sources": {name: dict(sorted(c.items())) for name, c in self.sources.items()},
        }
