"""Ground truth of a simulated run: what a correct pipeline must compute from it.

Every count is taken from the valid events only, in sending order, session by session:
bots and deliberately invalid events appear only under ``dead_lettered_by_reason``.
Definitions: a bounce is a session with exactly one page view and no event other than
page_view, page_leave, web_vital or scroll (``PASSIVE``); the entry page is the
session's first page view, and its referrer (when present) gives ``referrer_hosts``;
transitions are consecutive page views of a session; the drop-off field of an abandoned
form is the field touched last before ``form_abandon``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from dojo_pulse.simulation.dojo_truth import DojoTruth

PII_MARKERS = ("@", "token=")
FUNNEL_STEPS = (
    "/",
    "/events",
    "/events/<slug>",
    "registration form_start",
    "registration form_submit",
)
_FIELD_ACTIONS = ("focus", "change", "error", "blur")
PASSIVE = frozenset({"page_view", "page_leave", "web_vital", "scroll"})
_FUNNEL_KINDS = frozenset({"page_view", "form_start", "form_submit"})
_SILENT = frozenset({"scroll", "page_leave"})  # counted in by_type only
DAY_MS = 86_400_000


def _iso_day(day_ms: int) -> str:
    return datetime.fromtimestamp(day_ms / 1000, UTC).date().isoformat()


def _has_pii(text: str) -> bool:
    return any(marker in text for marker in PII_MARKERS)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _form() -> dict[str, Any]:
    return {"starts": 0, "submits": 0, "abandons": 0, "dropoff_fields": Counter(),
            "fields": defaultdict(lambda: dict.fromkeys(_FIELD_ACTIONS, 0))}  # fmt: skip


def _funnel_step(step: int, kind: str, url: str, props: dict[str, Any]) -> int:
    if kind == "page_view":
        if (step == 0 and url == "/") or (step == 1 and url == "/events"):
            return step + 1
        if step == 2 and url.startswith("/events/") and url.count("/") == 2:
            return step + 1
    elif props.get("form_id") == "registration" and (
        (step == 3 and kind == "form_start") or (step == 4 and kind == "form_submit")
    ):
        return step + 1
    return step


class Truth:
    """Accumulates ground truth; ``to_dict()`` is JSON-ready and ``write()`` saves it."""

    def __init__(self, **run: Any) -> None:
        self.run = run  # the generation parameters, echoed into the output
        self.requests = 0
        self.valid = 0
        self.dead_lettered: Counter[str] = Counter()
        self.by_type: Counter[str] = Counter()
        self.visitor_sessions: Counter[str] = Counter()
        self.sessions = 0
        self.bounces = 0
        self.page_views: Counter[str] = Counter()
        self.entry_pages: Counter[str] = Counter()
        self.referrer_hosts: Counter[str] = Counter()
        self.devices: Counter[str] = Counter({"mobile": 0, "tablet": 0, "desktop": 0})
        self.forms: defaultdict[str, dict[str, Any]] = defaultdict(_form)
        self.funnel = [0] * len(FUNNEL_STEPS)
        self.transitions: Counter[str] = Counter()
        self.clicks: Counter[str] = Counter()
        self.registrations = 0
        self.tickets: Counter[str] = Counter()
        self.attendance: Counter[str] = Counter()
        self.downloads: Counter[str] = Counter()
        self.dojo = DojoTruth()
        self.vitals: defaultdict[str, list[float]] = defaultdict(list)
        self.experiments: defaultdict[str, dict[str, Counter[str]]] = defaultdict(dict)
        self.conversions: Counter[str] = Counter()
        self.pii_scrubbed = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self.delivery: Counter[str] = Counter()  # filled by ``run``: sent, retries, http_4xx...
        # Per UTC day of the event time: what history must show for that day.
        self.daily_views: Counter[int] = Counter()
        self.daily_visitors: defaultdict[int, set[str]] = defaultdict(set)

    def dead_letter(self, reason: str, n: int = 1) -> None:
        """Count ``n`` items the validator must reject with ``reason``."""
        self.dead_lettered[reason] += n

    def observe_session(self, visitor_id: str, device: str, events: list[dict[str, Any]]) -> None:
        """Account for the valid events of one session, in sending order."""
        self._session(visitor_id, device, events)
        views = 0
        previous = ""
        step = 0
        last_field: dict[str, str] = {}
        exposed: dict[str, str] = {}  # experiment -> variant of the session's first exposure
        converted: set[str] = set()
        active = False
        by_type = self.by_type
        for event in events:
            kind, url, props = event["type"], event["url"], event["props"]
            by_type[kind] += 1
            referrer = event.get("referrer", "")
            if "@" in url or "token=" in url or (referrer and _has_pii(referrer)):
                self.pii_scrubbed += 1
            if kind in _FUNNEL_KINDS:
                step = _funnel_step(step, kind, url, props)
            if kind == "web_vital":
                self.vitals[props["name"]].append(props["value"])
                continue
            if kind in _SILENT:
                continue
            if kind == "page_view":
                self._page_view(url, referrer, previous if views else None, event["ts"], visitor_id)
                previous = url
                views += 1
                continue
            active = True  # anything beyond PASSIVE is an interaction
            if kind == "click":
                self.clicks[url] += 1
            elif kind.startswith("form_"):
                self._form_event(kind, props, last_field)
            elif kind in ("experiment_exposure", "conversion"):
                self._experiment_event(kind, props, exposed, converted)
            else:
                self._outcome(kind, props)
        if events:  # a session's events are in time order
            self._span(events[0]["ts"], events[-1]["ts"])
        self.valid += len(events)
        self.bounces += views == 1 and not active
        for i in range(step):
            self.funnel[i] += 1

    def _session(self, visitor_id: str, device: str, events: list[dict[str, Any]]) -> None:
        self.sessions += 1
        self.visitor_sessions[visitor_id] += 1
        self.devices[device] += 1
        self.dojo.observe_session(events)

    def _experiment_event(
        self, kind: str, props: dict[str, Any], exposed: dict[str, str], converted: set[str]
    ) -> None:
        if kind == "experiment_exposure":
            arm = self.experiments[props["experiment"]].setdefault(props["variant"], Counter())
            arm["exposures"] += 1
            if props["experiment"] not in exposed:
                arm["sessions"] += 1
                exposed[props["experiment"]] = props["variant"]
            return
        self.conversions[props["goal"]] += 1
        for experiment, variant in exposed.items():
            self.experiments[experiment][variant]["conversions"] += 1
            # The unit of an experiment's rate: a session converts once at most.
            if experiment not in converted:
                converted.add(experiment)
                self.experiments[experiment][variant]["converted_sessions"] += 1

    def _page_view(
        self, url: str, referrer: str, previous: str | None, ts: int, visitor_id: str
    ) -> None:
        self.page_views[url] += 1
        self._by_day(ts, visitor_id)
        if previous is None:
            self.entry_pages[url] += 1
            if referrer:
                self.referrer_hosts[urlsplit(referrer).hostname or ""] += 1
        else:
            self.transitions[f"{previous} -> {url}"] += 1

    def _by_day(self, ts: int, visitor_id: str) -> None:
        day = ts - ts % DAY_MS
        self.daily_views[day] += 1
        self.daily_visitors[day].add(visitor_id)

    def _span(self, first: int, last: int) -> None:
        self.first_ts = first if self.first_ts is None else min(self.first_ts, first)
        self.last_ts = last if self.last_ts is None else max(self.last_ts, last)

    def _form_event(self, kind: str, props: dict[str, Any], last_field: dict[str, str]) -> None:
        form = self.forms[props["form_id"]]
        if kind == "form_field":
            form["fields"][props["field"]][props["action"]] += 1
            last_field[props["form_id"]] = props["field"]
        elif kind == "form_start":
            form["starts"] += 1
        elif kind == "form_submit":
            form["submits"] += 1
        else:
            form["abandons"] += 1
            if props["form_id"] in last_field:
                form["dropoff_fields"][last_field[props["form_id"]]] += 1

    def _outcome(self, kind: str, props: dict[str, Any]) -> None:
        if kind == "registration":
            self.registrations += 1
            self.tickets[props["dojo_event_id"]] += props["tickets"]
        elif kind == "attendance":
            self.attendance[props["dojo_event_id"]] += props.get("count", 1)
        elif kind == "resource_download":
            self.downloads[props["resource_id"]] += 1

    def to_dict(self) -> dict[str, Any]:
        """The truth as plain JSON-ready data, keys sorted where order carries no meaning."""
        dead = dict(sorted(self.dead_lettered.items()))
        return {
            "run": self.run,
            "totals": {
                "requests": self.requests,
                "events": self.valid + sum(dead.values()),
                "valid": self.valid,
                "dead_lettered": sum(dead.values()),
                "dead_lettered_by_reason": dead,
                "by_type": dict(sorted(self.by_type.items())),
            },
            "visitors": len(self.visitor_sessions),
            "returning_visitors": sum(1 for n in self.visitor_sessions.values() if n > 1),
            "sessions": self.sessions,
            "bounces": self.bounces,
            "page_views_by_url": dict(sorted(self.page_views.items())),
            "entry_pages": dict(sorted(self.entry_pages.items())),
            "referrer_hosts": dict(sorted(self.referrer_hosts.items())),
            "devices": dict(self.devices),
            "forms": {
                fid: {
                    "starts": f["starts"],
                    "submits": f["submits"],
                    "abandons": f["abandons"],
                    "dropoff_fields": dict(sorted(f["dropoff_fields"].items())),
                    "fields": {name: dict(v) for name, v in sorted(f["fields"].items())},
                }
                for fid, f in sorted(self.forms.items())
            },
            "funnel": [
                {"step": name, "sessions": n}
                for name, n in zip(FUNNEL_STEPS, self.funnel, strict=True)
            ],
            "transitions": dict(sorted(self.transitions.items())),
            "clicks": dict(sorted(self.clicks.items())),
            "registrations": self.registrations,
            "tickets_by_event": dict(sorted(self.tickets.items())),
            "attendance": dict(sorted(self.attendance.items())),
            "downloads": dict(sorted(self.downloads.items())),
            "dojo": self.dojo.to_dict(),
            "vitals": {
                name: {"count": len(v), "p50": _percentile(v, 0.5), "p75": _percentile(v, 0.75)}
                for name, v in sorted(self.vitals.items())
            },
            "experiments": {
                exp: {arm: dict(sorted(c.items())) for arm, c in sorted(arms.items())}
                for exp, arms in sorted(self.experiments.items())
            },
            "conversions": dict(sorted(self.conversions.items())),
            "pii_scrubbed": self.pii_scrubbed,
            "time_span": {"first_ts": self.first_ts, "last_ts": self.last_ts},
            "delivery": dict(sorted(self.delivery.items())),
            "by_day": {
                _iso_day(day): {"page_views": n, "visitors": len(self.daily_visitors[day])}
                for day, n in sorted(self.daily_views.items())
            },
        }

    def write(self, path: Path) -> None:
        """Save ``to_dict()`` as indented JSON at ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
