"""The registration funnel of each dojo event: event page, register page, form sent, booked.

A session reaches a step of event ``event:<slug>`` when, in order within the session, it
viewed ``/events/<slug>`` (step 0), viewed ``/events/<slug>/register`` (1), submitted a form
there (2) and registered for that event (3); a step counts once per session and only after
the one before it, so each step is at most the one before. Sessions are held by their id
only while they last (30 minutes idle); counts per event, at most ``MAX_ITEMS`` events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from stream.metrics.visits import SESSION_TIMEOUT_MS

STEPS = ("event page", "register page", "form sent", "registered")
MAX_ITEMS = 500  # events per partition; a slug beyond them is not followed
KEEP_MS = 400 * 86_400_000  # an event untouched this long is forgotten (past a school year)


def step_of(event: Mapping[str, Any]) -> tuple[str, int] | None:
    """(dojo event id, step) that ``event`` is, or None when it is no funnel step."""
    kind = event["type"]
    if kind == "registration":
        return event["props"]["dojo_event_id"], 3
    if kind not in ("page_view", "form_submit"):
        return None
    parts = urlsplit(event["url"]).path.split("/")
    if len(parts) == 3 and parts[1] == "events" and parts[2] and kind == "page_view":
        return f"event:{parts[2]}", 0
    if len(parts) == 4 and parts[1] == "events" and parts[2] and parts[3] == "register":
        return f"event:{parts[2]}", 1 if kind == "page_view" else 2
    return None


class Funnels:
    """Sessions per step per dojo event, mergeable; see the module docstring."""

    def __init__(self) -> None:
        self.steps: dict[str, list[int]] = {}  # event id -> sessions per step + [last ts]
        self.live: dict[str, list[Any]] = {}  # session -> [last seen, {event id: step}]

    def apply(self, batch: Mapping[str, Any]) -> None:
        """Fold the funnel steps of one batch."""
        session = self.live.get(batch["session_id"])
        for e in batch["events"]:
            found = step_of(e)
            if found is None:
                continue
            event_id, step = found
            if session is None:
                session = self.live[batch["session_id"]] = [0, {}]
            reached: dict[str, int] = session[1]
            if reached.get(event_id, -1) != step - 1:
                continue  # out of order, or this step already counted
            row = self.steps.get(event_id)
            if row is None:
                if len(self.steps) >= MAX_ITEMS:
                    continue
                row = self.steps[event_id] = [0] * (len(STEPS) + 1)
            row[step] += 1
            row[-1] = max(row[-1], e["ts"])
            reached[event_id] = step
        if session is not None:
            session[0] = max(session[0], batch["received_at"])

    def rows(self, known: Mapping[str, str]) -> list[dict[str, Any]]:
        """Per event of ``known`` (id -> title): sessions per step and each step's share."""
        out = []
        for event_id, row in sorted(self.steps.items()):
            if event_id not in known:
                continue  # a slug nobody published: not shown
            counts = row[: len(STEPS)]
            steps = [{"step": name, "sessions": n,
                      "share": round(n / counts[0], 4) if counts[0] else None}
                     for name, n in zip(STEPS, counts, strict=True)]  # fmt: skip
            out.append({"id": event_id, "title": known[event_id], "steps": steps})
        return out

    def expire(self, now_ms: int) -> None:
        """Forget idle sessions and events untouched for a school year."""
        idle = now_ms - SESSION_TIMEOUT_MS
        for sid in [k for k, s in self.live.items() if s[0] <= idle]:
            del self.live[sid]
        for key in [k for k, row in self.steps.items() if row[-1] < now_ms - KEEP_MS]:
            del self.steps[key]

    def merge(self, other: Funnels, *, sessions: bool = True) -> Funnels:
        """Both partitions' funnels (``sessions=False``: not the live sessions, display only)."""
        out = Funnels()
        for state in (self, other):
            for key, row in state.steps.items():
                mine = out.steps.setdefault(key, [0] * (len(STEPS) + 1))
                for i in range(len(STEPS)):
                    mine[i] += row[i]
                mine[-1] = max(mine[-1], row[-1])
            if sessions:
                out.live.update({sid: [s[0], dict(s[1])] for sid, s in state.live.items()})
        return out

    def to_raw(self) -> dict[str, Any]:
        """JSON-able form, for the dojo checkpoint."""
        return {"steps": self.steps, "live": self.live}

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Funnels:
        """Rebuild a state written by ``to_raw``."""
        out = cls()
        out.steps, out.live = raw["steps"], raw["live"]
        return out
